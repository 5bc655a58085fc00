import type { V1OwnerReference } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTraffic } from '../api/index.js';
import { allRoutedKinds, routerFor } from './index.js';
import type { RouteContext, TrafficRouter, WeightEntry } from './types.js';

const traffic: Record<TrafficRouter['name'], ModelDeploymentSpecTraffic> = {
  gatewayApi: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
  istio: { router: 'istio', istio: { hosts: ['iris.example.com'] } },
  service: { router: 'service' },
};
const md = (t?: ModelDeploymentSpecTraffic): ModelDeployment => ({
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name: 'iris', namespace: 'team-a', uid: 'u1' },
  spec: { model: 'iris', version: '1.0.0', ...(t ? { traffic: t } : {}) },
});
const owner: V1OwnerReference = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  name: 'iris',
  uid: 'u1',
};
const e = (revision: string, weight: number, version = `1.0.${revision.length}`): WeightEntry => ({
  revision,
  version,
  weight,
  service: `iris-${revision}`,
});
const ctx = (m: ModelDeployment, weights: WeightEntry[]): RouteContext => ({
  md: m,
  weights,
  labels: { 'modelship.io/deployment': 'iris' },
  ownerReference: owner,
  port: 80,
  targetPortName: 'http',
});
const names = Object.keys(traffic) as Array<TrafficRouter['name']>;

describe('routerFor', () => {
  test.each(names)('%s', (name) => {
    expect(routerFor(md(traffic[name])).name).toBe(name);
  });

  test('defaults to service', () => {
    expect(routerFor(md()).name).toBe('service');
    expect(routerFor(md({ port: 8080 })).name).toBe('service');
  });

  test('an unknown router is an error naming the value and the ModelDeployment', () => {
    const bad = md({ router: 'linkerd' as never });
    expect(() => routerFor(bad)).toThrow('ModelDeployment team-a/iris: unknown traffic.router "linkerd"');
    expect(() => routerFor(md({ router: 'toString' as never }))).toThrow(/unknown traffic.router "toString"/);
  });

  test('exact routers are the gateway and the mesh', () => {
    expect(names.filter((n) => routerFor(md(traffic[n])).exactWeights)).toEqual(['gatewayApi', 'istio']);
  });
});

test('allRoutedKinds lists each routed kind once', () => {
  expect(allRoutedKinds()).toEqual([
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', plural: 'httproutes' },
    { apiVersion: 'traefik.io/v1alpha1', kind: 'TraefikService', plural: 'traefikservices' },
    { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', plural: 'virtualservices' },
  ]);
});

describe.each(names)('%s rejects a table the planner should never produce', (name) => {
  const router = routerFor(md(traffic[name]));
  test.each<[string, WeightEntry[], RegExp]>([
    ['empty', [], /the table is empty/],
    ['sum below 100', [e('a1', 80), e('b2', 10)], /weights sum to 90, not 100/],
    ['sum above 100', [e('a1', 80), e('b2', 30)], /weights sum to 110, not 100/],
    ['negative', [e('a1', 100), e('b2', -10), e('c3', 10)], /revision b2 has weight -10/],
    ['fraction', [e('a1', 50.5), e('b2', 49.5)], /revision a1 has weight 50.5/],
    ['duplicate revision', [e('a1', 50), e('a1', 50)], /revision a1 appears more than once/],
    ['foreign service', [{ ...e('a1', 100), service: 'other-a1' }], /names Service other-a1, not iris-a1/],
  ])('%s', (_n, weights, why) => {
    const render = () => router.render(ctx(md(traffic[name]), weights));
    expect(render).toThrow(why);
    expect(render).toThrow(/^ModelDeployment team-a\/iris: cannot route weight table/);
  });
});

/** A small deterministic PRNG (mulberry32), so the property test is reproducible. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random valid tables: 1..6 revisions, some weight 0, some sharing a version, summing to 100. */
function randomTable(next: () => number): WeightEntry[] {
  const n = 1 + Math.floor(next() * 6);
  const cuts = Array.from({ length: n - 1 }, () => (next() < 0.3 ? 0 : Math.floor(next() * 101))).sort(
    (a, b) => a - b,
  );
  const bounds = [0, ...cuts, 100];
  return Array.from({ length: n }, (_, i) =>
    e(
      `r${i}x${Math.floor(next() * 1e6).toString(36)}`,
      bounds[i + 1]! - bounds[i]!,
      `1.${Math.floor(next() * 3)}.0`,
    ),
  );
}

test.each(names)('%s: readWeights(render(table)) is the table, over 500 random tables', (name) => {
  const next = rng(42);
  const m = md(traffic[name]);
  const router = routerFor(m);
  for (let i = 0; i < 500; i++) {
    const weights = randomTable(next);
    const objs = JSON.parse(JSON.stringify(router.render(ctx(m, weights))));
    expect(router.readWeights(objs, m)).toEqual(new Map(weights.map((w) => [w.revision, w.weight])));
  }
});
