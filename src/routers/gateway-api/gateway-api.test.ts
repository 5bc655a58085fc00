import type { KubernetesObject, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTrafficGatewayApi } from '../../api/index.js';
import type { RouteContext, WeightEntry } from '../types.js';
import { type HTTPRoute, MAX_BACKEND_REFS, MAX_RULES, gatewayApiRouter } from './router.js';

const owner: V1OwnerReference = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  name: 'resnet',
  uid: '4f8e1c2a-0000-4000-8000-000000000001',
  controller: true,
  blockOwnerDeletion: true,
};
const labels = { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/deployment': 'resnet' };

function md(
  gatewayApi: ModelDeploymentSpecTrafficGatewayApi = { parentRefs: [{ name: 'gw' }] },
): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'resnet', namespace: 'team-a', uid: owner.uid },
    spec: { model: 'resnet', version: '1.0.0', traffic: { router: 'gatewayApi', port: 80, gatewayApi } },
  };
}
const e = (revision: string, version: string, weight: number): WeightEntry => ({
  revision,
  version,
  weight,
  service: `resnet-${revision}`,
});
function ctx(weights: WeightEntry[], gatewayApi?: ModelDeploymentSpecTrafficGatewayApi): RouteContext {
  return { md: md(gatewayApi), weights, labels, ownerReference: owner, port: 80, targetPortName: 'http' };
}
function render(c: RouteContext): { route: HTTPRoute; svc: V1Service } {
  const objs = gatewayApiRouter.render(c);
  expect(objs.map((o) => o.kind)).toEqual(['HTTPRoute', 'Service']);
  return { route: objs[0] as HTTPRoute, svc: objs[1] as V1Service };
}
const tables: Array<[string, WeightEntry[]]> = [
  ['100', [e('aaa111', '1.0.0', 100)]],
  ['100/0', [e('aaa111', '1.0.0', 100), e('bbb222', '1.1.0', 0)]],
  ['80/20', [e('aaa111', '1.0.0', 80), e('bbb222', '1.1.0', 20)]],
  ['0/100', [e('aaa111', '1.0.0', 0), e('bbb222', '1.1.0', 100)]],
  ['34/33/33', [e('aaa111', '1.0.0', 34), e('bbb222', '1.1.0', 33), e('ccc333', '2.0.0-rc.1+build.7', 33)]],
];

describe('gatewayApi render', () => {
  test.each(tables)('%s: every object is named, labelled and owned', (_n, weights) => {
    for (const o of gatewayApiRouter.render(ctx(weights))) {
      expect(o.metadata?.name).toBe('resnet');
      expect(o.metadata?.namespace).toBe('team-a');
      expect(o.metadata?.labels).toEqual(labels);
      expect(o.metadata?.ownerReferences).toEqual([owner]);
    }
    const { route, svc } = render(ctx(weights));
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(svc.apiVersion).toBe('v1');
  });

  test.each(tables)('%s: a header rule per revision, then the weighted default rule', (_n, weights) => {
    const { route } = render(ctx(weights));
    const rules = route.spec.rules ?? [];
    expect(rules).toHaveLength(weights.length + 1);
    weights.forEach((w, i) => {
      expect(rules[i]).toEqual({
        matches: [
          {
            path: { type: 'PathPrefix', value: '/' },
            headers: [{ type: 'Exact', name: 'x-model-version', value: w.version }],
          },
        ],
        backendRefs: [{ group: '', kind: 'Service', name: w.service, port: 80, weight: 100 }],
      });
    });
    expect(rules[weights.length]).toEqual({
      matches: [{ path: { type: 'PathPrefix', value: '/' } }],
      backendRefs: weights.map((w) => ({
        group: '',
        kind: 'Service',
        name: w.service,
        port: 80,
        weight: w.weight,
      })),
    });
  });

  test('parentRefs get the Gateway group and kind by default and keep what is set', () => {
    const { route } = render(
      ctx([e('aaa111', '1.0.0', 100)], {
        parentRefs: [
          { name: 'gw' },
          { name: 'edge', namespace: 'infra', sectionName: 'https' },
          { name: 'mesh', group: 'example.io', kind: 'Mesh' },
        ],
      }),
    );
    expect(route.spec.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' },
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        namespace: 'infra',
        name: 'edge',
        sectionName: 'https',
      },
      { group: 'example.io', kind: 'Mesh', name: 'mesh' },
    ]);
  });

  test.each([
    ['absent', undefined, undefined],
    ['empty', [], undefined],
    ['set', ['resnet.example.com', '*.models.example.com'], ['resnet.example.com', '*.models.example.com']],
  ])('hostnames %s', (_n, hostnames, want) => {
    const { route } = render(ctx([e('aaa111', '1.0.0', 100)], { parentRefs: [{ name: 'gw' }], hostnames }));
    expect(route.spec.hostnames).toEqual(want);
  });

  test('the configured path is in every rule', () => {
    const weights = [e('aaa111', '1.0.0', 90), e('bbb222', '1.1.0', 10)];
    const { route } = render(
      ctx(weights, {
        parentRefs: [{ name: 'gw' }],
        path: { type: 'Exact', value: '/v2/models/resnet/infer' },
      }),
    );
    for (const rule of route.spec.rules ?? []) {
      expect(rule.matches?.[0]?.path).toEqual({ type: 'Exact', value: '/v2/models/resnet/infer' });
    }
    // A value without a type keeps the PathPrefix default.
    const { route: r2 } = render(ctx(weights, { parentRefs: [{ name: 'gw' }], path: { value: '/v2' } }));
    expect(r2.spec.rules?.[0]?.matches?.[0]?.path).toEqual({ type: 'PathPrefix', value: '/v2' });
  });

  test('revisions of one version share one header rule, split by their weights', () => {
    // A pod-template change makes a new revision of the same version: the header names the version.
    const weights = [e('aaa111', '1.0.0', 60), e('bbb222', '1.0.0', 20), e('ccc333', '1.1.0', 20)];
    const rules = render(ctx(weights)).route.spec.rules ?? [];
    expect(rules).toHaveLength(3);
    expect(rules[0]?.matches?.[0]?.headers?.[0]?.value).toBe('1.0.0');
    expect(rules[0]?.backendRefs?.map((b) => [b.name, b.weight])).toEqual([
      ['resnet-aaa111', 75],
      ['resnet-bbb222', 25],
    ]);
    expect(rules[1]?.backendRefs?.map((b) => [b.name, b.weight])).toEqual([['resnet-ccc333', 100]]);
  });

  test('a version with no weight anywhere is still reachable by header, spread evenly', () => {
    const weights = [e('aaa111', '1.0.0', 100), e('bbb222', '1.1.0', 0), e('ccc333', '1.1.0', 0)];
    const rules = render(ctx(weights)).route.spec.rules ?? [];
    expect(rules[1]?.backendRefs?.map((b) => [b.name, b.weight])).toEqual([
      ['resnet-bbb222', 50],
      ['resnet-ccc333', 50],
    ]);
  });

  test.each([
    ['single', [e('aaa111', '1.0.0', 100), e('bbb222', '1.1.0', 0)], 'aaa111'],
    ['canary minority', [e('aaa111', '1.0.0', 80), e('bbb222', '1.1.0', 20)], 'aaa111'],
    ['canary majority', [e('aaa111', '1.0.0', 20), e('bbb222', '1.1.0', 80)], 'bbb222'],
    ['tie: the first entry', [e('bbb222', '1.1.0', 50), e('aaa111', '1.0.0', 50)], 'bbb222'],
  ])('the stable Service selects the heaviest revision (%s)', (_n, weights, revision) => {
    const { svc } = render(ctx(weights));
    expect(svc.spec).toEqual({
      type: 'ClusterIP',
      selector: { 'modelship.io/deployment': 'resnet', 'modelship.io/revision': revision },
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' }],
    });
  });

  test('the route needs traffic.gatewayApi', () => {
    const c = ctx([e('aaa111', '1.0.0', 100)]);
    delete c.md.spec.traffic!.gatewayApi;
    expect(() => gatewayApiRouter.render(c)).toThrow(/team-a\/resnet.*traffic\.gatewayApi/);
  });
});

describe('gatewayApi limits', () => {
  const count = (n: number, weight: (i: number) => number) =>
    Array.from({ length: n }, (_, i) => e(`r${String(i).padStart(2, '0')}`, `1.0.${i}`, weight(i)));

  test('a table at the limits renders whole: 16 revisions, 15 versions', () => {
    const weights = count(16, (i) => (i < 4 ? 25 : 0));
    weights[15] = { ...weights[15]!, version: weights[14]!.version };
    const { route } = render(ctx(weights));
    expect(route.spec.rules).toHaveLength(MAX_RULES);
    expect(route.spec.rules?.at(-1)?.backendRefs).toHaveLength(16);
    expect(gatewayApiRouter.readWeights([route], md())).toEqual(
      new Map(weights.map((w) => [w.revision, w.weight])),
    );
  });

  test('beyond them, header rules of weighted versions and the heaviest backends are kept', () => {
    // 5 weighted revisions after 15 unweighted ones: the weighted must survive the cut.
    const weights = count(20, (i) => (i >= 15 ? 20 : 0));
    const rules = render(ctx(weights)).route.spec.rules ?? [];
    expect(rules).toHaveLength(MAX_RULES);
    for (const r of rules) expect(r.backendRefs!.length).toBeLessThanOrEqual(MAX_BACKEND_REFS);
    const headerVersions = rules.slice(0, -1).map((r) => r.matches?.[0]?.headers?.[0]?.value);
    for (const w of weights.slice(15)) expect(headerVersions).toContain(w.version);
    const backends = rules.at(-1)?.backendRefs?.map((b) => b.name) ?? [];
    expect(backends).toHaveLength(MAX_BACKEND_REFS);
    for (const w of weights.slice(15)) expect(backends).toContain(w.service);
    // Kept in table order, so the route does not reshuffle when weights move.
    expect(backends).toEqual([...backends].sort());
  });

  test('when weighted revisions alone exceed 16, the lightest are dropped and read back as gone', () => {
    const weights = count(20, (i) => (i < 16 ? 6 : 1)); // 16*6 + 4*1 = 100
    const route = render(ctx(weights)).route;
    const read = gatewayApiRouter.readWeights([route], md());
    expect(read).toEqual(new Map(weights.slice(0, 16).map((w) => [w.revision, 6])));
  });
});

describe('gatewayApi readWeights', () => {
  test.each(tables)('%s: reads back the whole table, weight 0 included', (_n, weights) => {
    const objs = gatewayApiRouter.render(ctx(weights));
    expect(gatewayApiRouter.readWeights(objs, md())).toEqual(
      new Map(weights.map((w) => [w.revision, w.weight])),
    );
  });

  test('reads a route as the apiserver returns it', () => {
    const route = render(ctx([e('aaa111', '1.0.0', 80), e('bbb222', '1.1.0', 20)])).route;
    const stored = JSON.parse(JSON.stringify(route)) as HTTPRoute & { status: object };
    stored.apiVersion = 'gateway.networking.k8s.io/v1beta1'; // same group, another served version
    stored.metadata = {
      ...stored.metadata,
      uid: 'x',
      resourceVersion: '7',
      managedFields: [{ manager: 'modelship' }],
    };
    stored.spec.rules?.forEach((r) => Object.assign(r, { timeouts: {} }));
    stored.status = { parents: [{ parentRef: { name: 'gw' }, conditions: [] }] };
    const other: KubernetesObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'resnet' } };
    expect(gatewayApiRouter.readWeights([other, stored], md())).toEqual(
      new Map([
        ['aaa111', 80],
        ['bbb222', 20],
      ]),
    );
  });

  test('a hand-edited route reads as what it routes', () => {
    const route: HTTPRoute = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'resnet', namespace: 'team-a' },
      spec: {
        rules: [
          {
            matches: [{ headers: [{ name: 'X-Model-Version', value: '1.0.0' }] }],
            backendRefs: [{ name: 'resnet-aaa111', port: 80 }],
          },
          {
            backendRefs: [
              { name: 'resnet-aaa111', port: 80 }, // weight defaults to 1
              { name: 'resnet-aaa111', port: 80, weight: 2 }, // listed twice: summed
              { name: 'elsewhere', port: 80, weight: 5 }, // not a revision Service of resnet
              { name: 'resnet-ccc333', namespace: 'other', port: 80, weight: 5 }, // another namespace
            ],
          },
        ],
      },
    };
    expect(gatewayApiRouter.readWeights([route], md())).toEqual(new Map([['aaa111', 3]]));
  });

  test('undefined when no HTTPRoute of this ModelDeployment is applied', () => {
    const route = render(ctx([e('aaa111', '1.0.0', 100)])).route;
    expect(gatewayApiRouter.readWeights([], md())).toBeUndefined();
    expect(
      gatewayApiRouter.readWeights([{ ...route, metadata: { ...route.metadata, name: 'other' } }], md()),
    ).toBeUndefined();
    expect(
      gatewayApiRouter.readWeights(
        [{ ...route, metadata: { ...route.metadata, namespace: 'team-b' } }],
        md(),
      ),
    ).toBeUndefined();
    expect(gatewayApiRouter.readWeights([{ ...route, kind: 'GRPCRoute' }], md())).toBeUndefined();
  });
});
