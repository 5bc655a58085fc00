// traffic.gatewayApi.mirrorWith: TraefikService: the mirroring TraefikServices and the route that
// points to them, and the weights read back from both.
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import fc from 'fast-check';
import type { ModelDeployment, ModelDeploymentSpecTrafficGatewayApi } from '../../api/index.js';
import { allRoutedKinds, kindsNeeded } from '../index.js';
import type { RouteContext, WeightEntry } from '../types.js';
import { type HTTPRoute, gatewayApiRouter } from './router.js';
import { TRAEFIK_SERVICE, type TraefikService } from './traefik-service.js';

const owner: V1OwnerReference = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  name: 'resnet',
  uid: '4f8e1c2a-0000-4000-8000-000000000001',
  controller: true,
  blockOwnerDeletion: true,
};
const labels = { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/deployment': 'resnet' };
const traefik: ModelDeploymentSpecTrafficGatewayApi = {
  parentRefs: [{ name: 'gw' }],
  mirrorWith: 'TraefikService',
};

function md(gatewayApi: ModelDeploymentSpecTrafficGatewayApi = traefik): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'resnet', namespace: 'team-a', uid: owner.uid },
    spec: { model: 'resnet', version: '1.0.0', traffic: { router: 'gatewayApi', port: 80, gatewayApi } },
  };
}
const e = (revision: string, weight: number, version = `v-${revision}`): WeightEntry => ({
  revision,
  version,
  weight,
  service: `resnet-${revision}`,
});
const mirrorTo = (revision: string, percent: number) => ({
  revision,
  service: `resnet-${revision}`,
  percent,
});
function ctx(weights: WeightEntry[], extra: Partial<RouteContext> = {}, gatewayApi = traefik): RouteContext {
  return {
    md: md(gatewayApi),
    weights,
    labels,
    ownerReference: owner,
    port: 80,
    targetPortName: 'http',
    ...extra,
  };
}
const ofKind = <T extends KubernetesObject>(objs: KubernetesObject[], kind: string): T[] =>
  objs.filter((o) => o.kind === kind) as T[];
const defaultRule = (objs: KubernetesObject[]) =>
  ofKind<HTTPRoute>(objs, 'HTTPRoute')[0]!.spec.rules!.at(-1)!;

describe('mirrorWith TraefikService', () => {
  test('100/0 with a mirror at 50%: the stable backendRef is a mirroring TraefikService, the candidate stays a Service', () => {
    const objs = gatewayApiRouter.render(
      ctx([e('aaa111', 100), e('bbb222', 0)], { mirror: mirrorTo('bbb222', 50) }),
    );
    expect(objs.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'TraefikService/resnet-aaa111-mirror',
      'HTTPRoute/resnet',
      'Service/resnet',
    ]);
    const ts = ofKind<TraefikService>(objs, 'TraefikService')[0]!;
    expect(ts).toEqual({
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'TraefikService',
      metadata: { name: 'resnet-aaa111-mirror', namespace: 'team-a', labels, ownerReferences: [owner] },
      spec: {
        mirroring: {
          kind: 'Service',
          name: 'resnet-aaa111',
          port: 80,
          mirrors: [{ kind: 'Service', name: 'resnet-bbb222', port: 80, percent: 50 }],
        },
      },
    });
    expect(defaultRule(objs).backendRefs).toEqual([
      { group: 'traefik.io', kind: 'TraefikService', name: 'resnet-aaa111-mirror', weight: 100 },
      { group: '', kind: 'Service', name: 'resnet-bbb222', port: 80, weight: 0 },
    ]);
    // No RequestMirror anywhere: Traefik answers 500 to a rule with one, and ignores it on a backendRef.
    expect(JSON.stringify(objs)).not.toMatch(/RequestMirror/);
    expect(gatewayApiRouter.readWeights(objs, md())).toEqual(
      new Map([
        ['aaa111', 100],
        ['bbb222', 0],
      ]),
    );
  });

  test('version pins and cohorts still go to the revision Services, not through the mirror', () => {
    const objs = gatewayApiRouter.render(
      ctx([e('aaa111', 80), e('bbb222', 20)], {
        mirror: mirrorTo('bbb222', 10),
        cohort: { revision: 'bbb222', service: 'resnet-bbb222' },
      }),
    );
    const route = ofKind<HTTPRoute>(objs, 'HTTPRoute')[0]!;
    for (const rule of route.spec.rules!.slice(0, -1))
      for (const b of rule.backendRefs!) expect(b).toMatchObject({ group: '', kind: 'Service' });
    expect(defaultRule(objs).backendRefs!.map((b) => [b.kind, b.name, b.weight])).toEqual([
      ['TraefikService', 'resnet-aaa111-mirror', 80],
      ['Service', 'resnet-bbb222', 20],
    ]);
  });

  test('without a mirror, the route is the same as with RequestMirror and there is no TraefikService', () => {
    const weights = [e('aaa111', 60), e('bbb222', 40)];
    const withTs = gatewayApiRouter.render(ctx(weights));
    const plain = gatewayApiRouter.render(ctx(weights, {}, { parentRefs: [{ name: 'gw' }] }));
    expect(ofKind(withTs, 'TraefikService')).toEqual([]);
    expect(withTs).toEqual(plain);
  });

  test('RequestMirror (the default) writes no TraefikService', () => {
    const objs = gatewayApiRouter.render(
      ctx(
        [e('aaa111', 100), e('bbb222', 0)],
        { mirror: mirrorTo('bbb222', 50) },
        { parentRefs: [{ name: 'gw' }] },
      ),
    );
    expect(ofKind(objs, 'TraefikService')).toEqual([]);
    expect(defaultRule(objs).backendRefs![0]!.filters![0]!.type).toBe('RequestMirror');
  });

  test('read back: a TraefikService backend counts for the revision its main Service is, as applied', () => {
    const objs = gatewayApiRouter.render(
      ctx([e('aaa111', 100), e('bbb222', 0)], { mirror: mirrorTo('bbb222', 50) }),
    );
    const route = ofKind<HTTPRoute>(objs, 'HTTPRoute')[0]!;
    const ts = ofKind<TraefikService>(objs, 'TraefikService')[0]!;
    // The route seen before its TraefikService (two caches): read by the name.
    expect(gatewayApiRouter.readWeights([route], md())).toEqual(
      new Map([
        ['aaa111', 100],
        ['bbb222', 0],
      ]),
    );
    // Someone pointed the TraefikService's main elsewhere: the weight follows it, so it reads as drift.
    const moved = { ...ts, spec: { mirroring: { ...ts.spec.mirroring!, name: 'resnet-bbb222' } } };
    expect(gatewayApiRouter.readWeights([route, moved], md())).toEqual(new Map([['bbb222', 100]]));
    const foreign = { ...ts, spec: { mirroring: { ...ts.spec.mirroring!, name: 'other-aaa111' } } };
    expect(gatewayApiRouter.readWeights([route, foreign], md())).toEqual(new Map([['bbb222', 0]]));
    // A TraefikService backend that is not one of ours is not in our table.
    const alien: HTTPRoute = {
      ...route,
      spec: {
        ...route.spec,
        rules: [
          {
            ...route.spec.rules!.at(-1)!,
            backendRefs: [
              { group: 'traefik.io', kind: 'TraefikService', name: 'api@internal', weight: 1 },
              { group: 'traefik.io', kind: 'TraefikService', name: 'other-aaa111-mirror', weight: 1 },
            ],
          },
        ],
      },
    };
    expect(gatewayApiRouter.readWeights([alien], md())).toEqual(new Map());
  });

  test('the route names a TraefikService only once it is observed; inUse says which the applied route names', () => {
    const weights = [e('aaa111', 100), e('bbb222', 0)];
    const mirror = mirrorTo('bbb222', 50);
    const before = gatewayApiRouter.render(ctx(weights, { mirror, observed: [] }));
    // The TraefikService is rendered (to be created), the route still sends to the Service.
    expect(ofKind(before, 'TraefikService').map((o) => o.metadata?.name)).toEqual(['resnet-aaa111-mirror']);
    expect(defaultRule(before).backendRefs![0]).toMatchObject({ kind: 'Service', name: 'resnet-aaa111' });
    expect(gatewayApiRouter.inUse!(before, md())).toEqual(new Set());
    const after = gatewayApiRouter.render(ctx(weights, { mirror, observed: before }));
    expect(defaultRule(after).backendRefs![0]).toMatchObject({
      kind: 'TraefikService',
      name: 'resnet-aaa111-mirror',
    });
    expect(gatewayApiRouter.inUse!(after, md())).toEqual(new Set(['resnet-aaa111-mirror']));
    // Either way the weights read back whole.
    for (const objs of [before, after])
      expect(gatewayApiRouter.readWeights(objs, md())).toEqual(
        new Map([
          ['aaa111', 100],
          ['bbb222', 0],
        ]),
      );
  });

  test('the TraefikService kind is watched when served and needed only with mirrorWith TraefikService', () => {
    expect(allRoutedKinds()).toContainEqual(TRAEFIK_SERVICE);
    expect(kindsNeeded(gatewayApiRouter, md()).map((k) => [k.kind.kind, k.setting])).toEqual([
      ['HTTPRoute', 'traffic.router gatewayApi'],
      ['TraefikService', 'traffic.gatewayApi.mirrorWith TraefikService'],
    ]);
    expect(
      kindsNeeded(gatewayApiRouter, md({ parentRefs: [{ name: 'gw' }] })).map((k) => k.kind.kind),
    ).toEqual(['HTTPRoute']);
  });
});

// Any table the planner can produce (2-5 revisions, weights summing to 100), with a mirror to one
// of its revisions: the objects read back as the table, whole, and the copies add no weight.
const tableWithMirror = fc
  .integer({ min: 2, max: 5 })
  .chain((n) =>
    fc.tuple(
      fc.array(fc.integer({ min: 0, max: 100 }), { minLength: n - 1, maxLength: n - 1 }),
      fc.integer({ min: 0, max: n - 1 }),
      fc.integer({ min: 1, max: 100 }),
    ),
  )
  .map(([cuts, target, percent]) => {
    const points = [0, ...cuts.sort((a, b) => a - b), 100];
    const weights = points.slice(1).map((p, i) => e(`r${i}`, p - points[i]!));
    return { weights, mirror: mirrorTo(`r${target}`, percent) };
  });

test('property: readWeights(render) is the table with mirrorWith TraefikService; a mirror is never weight', () => {
  fc.assert(
    fc.property(tableWithMirror, ({ weights, mirror }) => {
      const objs = gatewayApiRouter.render(ctx(weights, { mirror }));
      const table = new Map(weights.map((w) => [w.revision, w.weight]));
      expect(gatewayApiRouter.readWeights(objs, md())).toEqual(table);
      // Without the mirror, the same weights: copies never count as served traffic.
      expect(gatewayApiRouter.readWeights(gatewayApiRouter.render(ctx(weights)), md())).toEqual(table);
      // One TraefikService per weighted revision other than the mirror target, each copying to it.
      const ts = ofKind<TraefikService>(objs, 'TraefikService');
      expect(ts.map((t) => t.spec.mirroring!.name).sort()).toEqual(
        weights
          .filter((w) => w.weight > 0 && w.revision !== mirror.revision)
          .map((w) => w.service)
          .sort(),
      );
      for (const t of ts)
        expect(t.spec.mirroring!.mirrors).toEqual([
          { kind: 'Service', name: mirror.service, port: 80, percent: mirror.percent },
        ]);
      // The mirror target is never behind a mirroring TraefikService (no copies of its own requests).
      expect(ts.some((t) => t.spec.mirroring!.name === mirror.service)).toBe(false);
    }),
    { numRuns: 300 },
  );
});
