/**
 * Cohorts, mirrors and N-way tables as the routers render them, on a real kube-apiserver with the
 * real router CRDs (Gateway API v1.4.1 standard channel, Istio networking): each object is accepted
 * by server-side apply with nothing pruned, is stored as rendered, carries the spec's cohorts and
 * mirror, and reads back as the weight table. Then a route without them (the rollout ended) drops
 * the cohort rule and the mirror filter under the same field manager.
 */
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTraffic } from '../../src/api/index.js';
import { FIELD_MANAGER, LABEL_DEPLOYMENT, revisionObjectName } from '../../src/core/labels.js';
import { cookieRegex } from '../../src/routers/cohorts.js';
import type { HTTPRoute } from '../../src/routers/gateway-api/router.js';
import type { VirtualService } from '../../src/routers/istio/router.js';
import { routerFor } from '../../src/routers/index.js';
import type { RouteContext, WeightEntry } from '../../src/routers/index.js';
import { kubectl, kubectlOk, tempNamespace } from '../harness/kube.js';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
beforeAll(async () => {
  ns = await tempNamespace('cohorts');
});
afterAll(async () => ns.remove());

const canary = {
  cohorts: [
    { headers: [{ name: 'x-cohort', value: 'beta' }] },
    { cookie: { name: 'modelship-cohort', value: 'canary' } },
    { headers: [{ name: 'x-tenant', type: 'RegularExpression' as const, value: '^qa-.*$' }] },
  ],
  mirror: { percent: 20 },
  steps: [{ pause: {} }],
};
const routers: Array<[string, ModelDeploymentSpecTraffic]> = [
  [
    'cohorts-gw',
    {
      router: 'gatewayApi',
      gatewayApi: { parentRefs: [{ name: 'gw' }], path: { type: 'PathPrefix', value: '/v2/models/iris' } },
    },
  ],
  ['cohorts-istio', { router: 'istio', istio: { hosts: ['iris.models.example.com'] } }],
];
const revisions = [
  { revision: '5d8f7c6b9a', version: '1.0.0' },
  { revision: '7b9c2e4f1d', version: '1.1.0' },
  { revision: '3a6e8d0c2b', version: '1.2.0' },
];

async function createModelDeployment(
  name: string,
  traffic: ModelDeploymentSpecTraffic,
): Promise<ModelDeployment> {
  const md = {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace: ns.name },
    spec: { model: 'iris', version: '1.1.0', traffic, strategy: { type: 'Canary', canary } },
  };
  await kubectlOk(
    ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}-test`, '-f', '-'],
    JSON.stringify(md),
  );
  return JSON.parse(
    await kubectlOk(['get', 'modeldeployment', name, '-n', ns.name, '-o', 'json']),
  ) as ModelDeployment;
}

async function applyAndGet(objs: KubernetesObject[]): Promise<KubernetesObject> {
  const r = await kubectl(
    ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-n', ns.name, '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
  );
  expect(r.stderr).toBe(''); // no "unknown field" pruning warnings, no conflicts
  expect(r.code).toBe(0);
  const route = objs[0]!;
  const kind = `${route.kind!.toLowerCase()}.${route.apiVersion!.split('/')[0]}`;
  return JSON.parse(
    await kubectlOk(['get', kind, route.metadata!.name!, '-n', ns.name, '-o', 'json']),
  ) as KubernetesObject;
}

describe.each(routers)('%s', (name, traffic) => {
  let md: ModelDeployment;
  let ctx: (weights: number[], extra?: Partial<RouteContext>) => RouteContext;
  beforeAll(async () => {
    md = await createModelDeployment(name, traffic);
    const owner: V1OwnerReference = {
      apiVersion: md.apiVersion,
      kind: md.kind,
      name,
      uid: md.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
    ctx = (weights, extra = {}) => ({
      md,
      weights: weights.map((weight, i): WeightEntry => ({
        ...revisions[i]!,
        weight,
        service: revisionObjectName(name, revisions[i]!.revision),
      })),
      labels: { 'app.kubernetes.io/managed-by': 'modelship', [LABEL_DEPLOYMENT]: name },
      ownerReference: owner,
      port: md.spec.traffic!.port!,
      targetPortName: 'http',
      ...extra,
    });
  });

  const target = (i: number) => ({
    revision: revisions[i]!.revision,
    service: revisionObjectName(name, revisions[i]!.revision),
  });

  test.each([
    ['100/0 with cohorts and a mirror', [100, 0], true],
    ['60/40 with cohorts and a mirror', [60, 40], true],
    ['50/30/20 (N-way) with cohorts and a mirror', [50, 30, 20], true],
    ['the rollout over: 0/100, no cohorts, no mirror', [0, 100], false],
  ] as Array<[string, number[], boolean]>)(
    '%s: accepted, stored as rendered, read back as the table',
    async (_n, weights, on) => {
      const router = routerFor(md);
      const c = ctx(weights, on ? { cohort: target(1), mirror: { ...target(1), percent: 20 } } : {});
      const objs = router.render(c);
      const stored = await applyAndGet(objs);
      expect(stored).toMatchObject(objs[0] as Record<string, unknown>);
      expect(router.readWeights([stored], md)).toEqual(new Map(c.weights.map((w) => [w.revision, w.weight])));

      const text = JSON.stringify(stored);
      const canarySvc = revisionObjectName(name, revisions[1]!.revision);
      if (traffic.router === 'gatewayApi') {
        const rules = (stored as HTTPRoute).spec.rules!;
        const cohortRule = rules.find((r) =>
          r.matches?.some((m) => m.headers?.some((h) => h.name === 'x-cohort')),
        );
        const mirrored = rules.at(-1)!.backendRefs!.filter((b) => b.filters?.length);
        if (on) {
          expect(cohortRule?.matches?.map((m) => m.headers)).toEqual([
            [{ type: 'Exact', name: 'x-cohort', value: 'beta' }],
            [{ type: 'RegularExpression', name: 'cookie', value: cookieRegex('modelship-cohort', 'canary') }],
            [{ type: 'RegularExpression', name: 'x-tenant', value: '^qa-.*$' }],
          ]);
          expect(cohortRule?.backendRefs?.map((b) => b.name)).toEqual([canarySvc]);
          // Every weighted backend but the candidate's copies to it, at 20%.
          expect(mirrored.map((b) => [b.name, b.filters![0]!.requestMirror])).toEqual(
            c.weights
              .filter((w) => w.weight > 0 && w.revision !== revisions[1]!.revision)
              .map((w) => [
                w.service,
                { backendRef: { group: '', kind: 'Service', name: canarySvc, port: 80 }, percent: 20 },
              ]),
          );
        } else {
          expect(cohortRule).toBeUndefined();
          expect(mirrored).toEqual([]);
          expect(text).not.toMatch(/RequestMirror/);
        }
      } else {
        const http = (stored as VirtualService).spec.http!;
        const cohortRoute = http.find((r) => r.name === 'cohorts');
        const split = http.at(-1)!;
        if (on) {
          expect(cohortRoute?.match).toEqual([
            { headers: { 'x-cohort': { exact: 'beta' } } },
            { headers: { cookie: { regex: cookieRegex('modelship-cohort', 'canary') } } },
            { headers: { 'x-tenant': { regex: '^qa-.*$' } } },
          ]);
          expect(cohortRoute?.route?.map((r) => r.destination.host.split('.')[0])).toEqual([canarySvc]);
          expect(split.mirror?.host.split('.')[0]).toBe(canarySvc);
          expect(split.mirrorPercentage?.value).toBeCloseTo((20 * (100 - weights[1]!)) / 100, 6);
        } else {
          expect(cohortRoute).toBeUndefined();
          expect(split.mirror).toBeUndefined();
          expect(split.mirrorPercentage).toBeUndefined();
        }
      }
    },
  );
});

test('a ModelDeployment with cohorts or a mirror and the service router is rejected; with gatewayApi it is stored', async () => {
  const md = (router: 'service' | 'gatewayApi') => ({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: `cel-${router.toLowerCase()}`, namespace: ns.name },
    spec: {
      model: 'iris',
      version: '1.1.0',
      strategy: { type: 'Canary', canary },
      traffic: router === 'service' ? { router } : { router, gatewayApi: { parentRefs: [{ name: 'gw' }] } },
    },
  });
  const bad = await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(md('service')));
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain(
    'strategy.canary.cohorts and strategy.canary.mirror need traffic.router gatewayApi or istio',
  );
  // The default router is service, so leaving traffic out is rejected too.
  const { traffic: _t, ...spec } = md('service').spec;
  const dflt = await kubectl(
    ['apply', '--dry-run=server', '-f', '-'],
    JSON.stringify({ ...md('service'), spec }),
  );
  expect(dflt.code).not.toBe(0);
  expect(dflt.stderr).toContain('need traffic.router gatewayApi or istio');
  const good = await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(md('gatewayApi')));
  expect(good.stderr).toBe('');
  expect(good.code).toBe(0);
});
