import type { V1OwnerReference, V1Service } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTrafficIstio } from '../../api/index.js';
import type { RouteContext, WeightEntry } from '../types.js';
import { type VirtualService, istioRouter } from './router.js';

const owner: V1OwnerReference = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  name: 'resnet',
  uid: '4f8e1c2a-0000-4000-8000-000000000002',
  controller: true,
  blockOwnerDeletion: true,
};
const labels = { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/deployment': 'resnet' };

function md(istio: ModelDeploymentSpecTrafficIstio = { hosts: ['resnet.example.com'] }): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'resnet', namespace: 'team-a', uid: owner.uid },
    spec: { model: 'resnet', version: '1.0.0', traffic: { router: 'istio', port: 8000, istio } },
  };
}
const e = (revision: string, version: string, weight: number): WeightEntry => ({
  revision,
  version,
  weight,
  service: `resnet-${revision}`,
});
function ctx(weights: WeightEntry[], istio?: ModelDeploymentSpecTrafficIstio): RouteContext {
  return { md: md(istio), weights, labels, ownerReference: owner, port: 8000, targetPortName: 'http' };
}
function render(c: RouteContext): { vs: VirtualService; svc: V1Service } {
  const objs = istioRouter.render(c);
  expect(objs.map((o) => o.kind)).toEqual(['VirtualService', 'Service']);
  return { vs: objs[0] as VirtualService, svc: objs[1] as V1Service };
}
const fqdn = (revision: string) => `resnet-${revision}.team-a.svc.cluster.local`;
const tables: Array<[string, WeightEntry[]]> = [
  ['100', [e('aaa111', '1.0.0', 100)]],
  ['100/0', [e('aaa111', '1.0.0', 100), e('bbb222', '1.1.0', 0)]],
  ['80/20', [e('aaa111', '1.0.0', 80), e('bbb222', '1.1.0', 20)]],
  ['34/33/33', [e('aaa111', '1.0.0', 34), e('bbb222', '1.1.0', 33), e('ccc333', '2.0.0-rc.1+build.7', 33)]],
];

describe('istio render', () => {
  test.each(tables)('%s: every object is named, labelled and owned', (_n, weights) => {
    for (const o of istioRouter.render(ctx(weights))) {
      expect(o.metadata?.name).toBe('resnet');
      expect(o.metadata?.namespace).toBe('team-a');
      expect(o.metadata?.labels).toEqual(labels);
      expect(o.metadata?.ownerReferences).toEqual([owner]);
    }
    expect(render(ctx(weights)).vs.apiVersion).toBe('networking.istio.io/v1');
  });

  test.each(tables)('%s: header routes per revision first, then the weighted route', (_n, weights) => {
    const http = render(ctx(weights)).vs.spec.http ?? [];
    expect(http).toHaveLength(weights.length + 1);
    weights.forEach((w, i) => {
      expect(http[i]).toEqual({
        name: `version-${w.version}`,
        match: [{ headers: { 'x-model-version': { exact: w.version } } }],
        route: [{ destination: { host: fqdn(w.revision), port: { number: 8000 } } }],
      });
    });
    expect(http.at(-1)).toEqual({
      name: 'split',
      route: weights.map((w) => ({
        destination: { host: fqdn(w.revision), port: { number: 8000 } },
        weight: w.weight,
      })),
    });
  });

  test.each([
    ['hosts only', { hosts: ['resnet.example.com'] }, undefined],
    ['empty gateways', { hosts: ['resnet.example.com'], gateways: [] }, undefined],
    [
      'gateways and mesh',
      { hosts: ['resnet.example.com', 'resnet'], gateways: ['istio-ingress/models', 'mesh'] },
      ['istio-ingress/models', 'mesh'],
    ],
  ])('hosts and gateways from traffic.istio (%s)', (_n, istio, gateways) => {
    const { vs } = render(ctx([e('aaa111', '1.0.0', 100)], istio));
    expect(vs.spec.hosts).toEqual(istio.hosts);
    expect(vs.spec.gateways).toEqual(gateways);
  });

  test('revisions of one version share one header route, split by their weights', () => {
    const weights = [e('aaa111', '1.0.0', 10), e('bbb222', '1.0.0', 20), e('ccc333', '1.1.0', 70)];
    const http = render(ctx(weights)).vs.spec.http ?? [];
    expect(http).toHaveLength(3);
    expect(http[0]?.route).toEqual([
      { destination: { host: fqdn('aaa111'), port: { number: 8000 } }, weight: 33 },
      { destination: { host: fqdn('bbb222'), port: { number: 8000 } }, weight: 67 },
    ]);
  });

  test.each([
    ['single', [e('aaa111', '1.0.0', 100), e('bbb222', '1.1.0', 0)], 'aaa111'],
    ['canary majority', [e('aaa111', '1.0.0', 25), e('bbb222', '1.1.0', 75)], 'bbb222'],
    ['tie: the first entry', [e('aaa111', '1.0.0', 50), e('bbb222', '1.1.0', 50)], 'aaa111'],
  ])('the stable Service selects the heaviest revision (%s)', (_n, weights, revision) => {
    const { svc } = render(ctx(weights));
    expect(svc.spec).toEqual({
      type: 'ClusterIP',
      selector: { 'modelship.io/deployment': 'resnet', 'modelship.io/revision': revision },
      ports: [{ name: 'http', protocol: 'TCP', port: 8000, targetPort: 'http' }],
    });
  });

  test('the VirtualService needs traffic.istio and a namespace', () => {
    const c = ctx([e('aaa111', '1.0.0', 100)]);
    delete c.md.spec.traffic!.istio;
    expect(() => istioRouter.render(c)).toThrow(/team-a\/resnet.*traffic\.istio/);
    const c2 = ctx([e('aaa111', '1.0.0', 100)]);
    delete c2.md.metadata!.namespace;
    expect(() => istioRouter.render(c2)).toThrow(/\/resnet has no metadata\.namespace/);
  });
});

describe('istio readWeights', () => {
  test.each(tables)('%s: reads back the whole table, weight 0 included', (_n, weights) => {
    const objs = istioRouter.render(ctx(weights));
    expect(istioRouter.readWeights(objs, md())).toEqual(new Map(weights.map((w) => [w.revision, w.weight])));
  });

  test('reads a VirtualService as the apiserver returns it', () => {
    const { vs } = render(ctx([e('aaa111', '1.0.0', 80), e('bbb222', '1.1.0', 20)]));
    const stored = JSON.parse(JSON.stringify(vs)) as VirtualService & { status: object };
    stored.apiVersion = 'networking.istio.io/v1beta1';
    stored.metadata = {
      ...stored.metadata,
      uid: 'x',
      generation: 3,
      managedFields: [{ manager: 'modelship' }],
    };
    stored.status = { observedGeneration: '3' };
    expect(istioRouter.readWeights([stored], md())).toEqual(
      new Map([
        ['aaa111', 80],
        ['bbb222', 20],
      ]),
    );
  });

  test('a hand-written VirtualService reads as what it routes', () => {
    const vs = (http: NonNullable<VirtualService['spec']['http']>): VirtualService => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'resnet', namespace: 'team-a' },
      spec: { hosts: ['resnet'], http },
    });
    // No route named split: the last route without a match; short and FQDN hosts both map back.
    expect(
      istioRouter.readWeights(
        [
          vs([
            {
              match: [{ headers: { 'x-model-version': { exact: '1' } } }],
              route: [{ destination: { host: 'x' } }],
            },
            {
              route: [
                { destination: { host: 'resnet-aaa111' }, weight: 70 },
                { destination: { host: 'resnet-bbb222.team-a' }, weight: 30 },
                { destination: { host: 'resnet-ccc333.team-b.svc.cluster.local' }, weight: 5 },
                { destination: { host: 'payments.team-a.svc.cluster.local' }, weight: 5 },
              ],
            },
          ]),
        ],
        md(),
      ),
    ).toEqual(
      new Map([
        ['aaa111', 70],
        ['bbb222', 30],
      ]),
    );
    // A lone destination without a weight takes all traffic.
    expect(
      istioRouter.readWeights([vs([{ route: [{ destination: { host: 'resnet-aaa111' } }] }])], md()),
    ).toEqual(new Map([['aaa111', 100]]));
    expect(istioRouter.readWeights([vs([])], md())).toEqual(new Map());
  });

  test('undefined when no VirtualService of this ModelDeployment is applied', () => {
    const { vs, svc } = render(ctx([e('aaa111', '1.0.0', 100)]));
    expect(istioRouter.readWeights([svc], md())).toBeUndefined();
    expect(
      istioRouter.readWeights([{ ...vs, metadata: { ...vs.metadata, name: 'other' } }], md()),
    ).toBeUndefined();
  });
});
