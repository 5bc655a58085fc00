import type { V1OwnerReference, V1Service } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/index.js';
import type { RouteContext, WeightEntry } from '../types.js';
import { ANNOTATION_WEIGHTS, parseWeights, serviceRouter } from './router.js';

const owner: V1OwnerReference = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  name: 'iris',
  uid: '4f8e1c2a-0000-4000-8000-000000000003',
  controller: true,
  blockOwnerDeletion: true,
};
const labels = { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/deployment': 'iris' };
const md: ModelDeployment = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name: 'iris', namespace: 'team-a', uid: owner.uid },
  spec: { model: 'iris', version: '1.0.0' },
};
const e = (revision: string, version: string, weight: number): WeightEntry => ({
  revision,
  version,
  weight,
  service: `iris-${revision}`,
});
const ctx = (weights: WeightEntry[]): RouteContext => ({
  md,
  weights,
  labels,
  ownerReference: owner,
  port: 80,
  targetPortName: 'http',
});
function render(weights: WeightEntry[]): V1Service {
  const objs = serviceRouter.render(ctx(weights));
  expect(objs.map((o) => `${o.apiVersion}/${o.kind}/${o.metadata?.name}`)).toEqual(['v1/Service/iris']);
  return objs[0] as V1Service;
}
const one = (revision: string) => ({ 'modelship.io/deployment': 'iris', 'modelship.io/revision': revision });
const all = { 'modelship.io/deployment': 'iris' };

test('the router is approximate and writes no kinds besides the Service', () => {
  expect(serviceRouter.exactWeights).toBe(false);
  expect(serviceRouter.kinds).toEqual([]);
});

test.each<[string, WeightEntry[], Record<string, string>, string]>([
  ['100', [e('def456', '1.0.0', 100)], one('def456'), 'def456=100'],
  ['100/0', [e('def456', '1.0.0', 100), e('abc123', '1.1.0', 0)], one('def456'), 'abc123=0,def456=100'],
  ['0/100', [e('def456', '1.0.0', 0), e('abc123', '1.1.0', 100)], one('abc123'), 'abc123=100,def456=0'],
  ['80/20', [e('def456', '1.0.0', 80), e('abc123', '1.1.0', 20)], all, 'abc123=20,def456=80'],
  [
    '34/33/33',
    [e('ccc333', '1.0.0', 34), e('aaa111', '1.1.0', 33), e('bbb222', '2.0.0', 33)],
    all,
    'aaa111=33,bbb222=33,ccc333=34',
  ],
  [
    '80/20/0',
    [e('def456', '1.0.0', 80), e('abc123', '1.1.0', 20), e('fff000', '0.9.0', 0)],
    all,
    'abc123=20,def456=80,fff000=0',
  ],
])('%s: selector and recorded table', (_n, weights, selector, annotation) => {
  const svc = render(weights);
  expect(svc.metadata).toEqual({
    name: 'iris',
    namespace: 'team-a',
    labels,
    annotations: { [ANNOTATION_WEIGHTS]: annotation },
    ownerReferences: [owner],
  });
  expect(svc.spec).toEqual({
    type: 'ClusterIP',
    selector,
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' }],
  });
  expect(serviceRouter.readWeights([svc], md)).toEqual(new Map(weights.map((w) => [w.revision, w.weight])));
});

test('readWeights reads the Service as the apiserver returns it', () => {
  const svc = render([e('def456', '1.0.0', 80), e('abc123', '1.1.0', 20)]);
  const stored = JSON.parse(JSON.stringify(svc)) as V1Service;
  stored.metadata!.annotations!['kubectl.kubernetes.io/last-applied-configuration'] = '{}';
  stored.spec = {
    ...stored.spec,
    clusterIP: '10.0.0.12',
    clusterIPs: ['10.0.0.12'],
    sessionAffinity: 'None',
  };
  stored.status = { loadBalancer: {} };
  expect(serviceRouter.readWeights([stored], md)).toEqual(
    new Map([
      ['abc123', 20],
      ['def456', 80],
    ]),
  );
});

test('readWeights is undefined without the Service or its annotation', () => {
  const svc = render([e('def456', '1.0.0', 100)]);
  expect(serviceRouter.readWeights([], md)).toBeUndefined();
  expect(serviceRouter.readWeights([{ ...svc, metadata: { name: 'iris' } }], md)).toBeUndefined();
  expect(
    serviceRouter.readWeights([{ ...svc, metadata: { ...svc.metadata, name: 'iris-def456' } }], md),
  ).toBeUndefined();
});

test.each([
  [
    'abc=80,def=20',
    [
      ['abc', 80],
      ['def', 20],
    ],
  ],
  [
    ' abc = 80 , def=20 ',
    [
      ['abc', 80],
      ['def', 20],
    ],
  ],
  [
    'abc=80,,bogus,def=-1,ghi=1.5,jkl=20',
    [
      ['abc', 80],
      ['jkl', 20],
    ],
  ],
  ['', []],
])('parseWeights(%j) skips what is not revision=<whole number>', (value, want) => {
  expect(parseWeights(value)).toEqual(new Map(want as Array<[string, number]>));
});
