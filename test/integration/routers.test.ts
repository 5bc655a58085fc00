/**
 * The routers' objects on a real kube-apiserver with the real router CRDs (Gateway API v1.4.1
 * standard channel, Istio networking): every rendered object must be accepted by server-side apply
 * under the modelship field manager with nothing pruned, and readWeights must read the stored objects
 * back as the table. The tables are applied in sequence to the same objects, so SSA must also shrink
 * lists and drop selector keys the field manager no longer sets.
 */
import type { KubernetesObject, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTraffic } from '../../src/api/index.js';
import {
  FIELD_MANAGER,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  revisionObjectName,
} from '../../src/core/labels.js';
import { routerFor } from '../../src/routers/index.js';
import type { WeightEntry } from '../../src/routers/index.js';
import { kubectl, kubectlOk, tempNamespace } from '../harness/kube.js';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
beforeAll(async () => {
  ns = await tempNamespace('routers');
});
afterAll(async () => ns.remove());

const routers: Array<[string, ModelDeploymentSpecTraffic]> = [
  [
    'iris-gw',
    {
      router: 'gatewayApi',
      gatewayApi: {
        parentRefs: [{ name: 'inference-gateway', namespace: 'infra', sectionName: 'https' }],
        hostnames: ['iris.models.example.com'],
        path: { type: 'PathPrefix', value: '/v2/models/iris' },
      },
    },
  ],
  [
    'iris-istio',
    { router: 'istio', port: 8000, istio: { hosts: ['iris.models.example.com'], gateways: ['mesh'] } },
  ],
  ['iris-svc', { router: 'service' }],
];

// Versions exercise what a header value and a route name must carry: pre-release and build metadata.
const revisions = [
  { revision: '5d8f7c6b9a', version: '1.0.0' },
  { revision: '7b9c2e4f1d', version: '1.1.0-rc.1' },
  { revision: '3a6e8d0c2b', version: '2.0.0+build.7' },
];
// 100/0 -> 80/20 -> 34/33/33 -> 0/100 (a revision dropped): each applied over the previous.
const tables: Array<[string, number[]]> = [
  ['100/0', [100, 0]],
  ['80/20', [80, 20]],
  ['34/33/33', [34, 33, 33]],
  ['0/100', [0, 100]],
];

async function createModelDeployment(
  name: string,
  traffic: ModelDeploymentSpecTraffic,
): Promise<ModelDeployment> {
  const md = {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace: ns.name },
    spec: { model: 'iris', version: '1.0.0', traffic },
  };
  await kubectlOk(
    ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}-test`, '-f', '-'],
    JSON.stringify(md),
  );
  // The stored object: defaults filled in, and the uid the owner references need.
  return JSON.parse(
    await kubectlOk(['get', 'modeldeployment', name, '-n', ns.name, '-o', 'json']),
  ) as ModelDeployment;
}

/** The stored objects, as `kubectl get -o json` returns them, in the order of `objs`. */
async function getStored(objs: KubernetesObject[]): Promise<KubernetesObject[]> {
  const ref = (o: KubernetesObject) => {
    const group = o.apiVersion!.includes('/') ? `.${o.apiVersion!.split('/')[0]}` : '';
    return `${o.kind!.toLowerCase()}${group}/${o.metadata!.name}`;
  };
  const out = JSON.parse(await kubectlOk(['get', ...objs.map(ref), '-n', ns.name, '-o', 'json'])) as
    KubernetesObject | { kind: 'List'; items: KubernetesObject[] };
  // One name gets the object itself, several get a List.
  const items = 'items' in out ? out.items : [out];
  return objs.map((o) => {
    const found = items.find((s) => s.kind === o.kind && s.metadata?.name === o.metadata?.name);
    if (!found) throw new Error(`${ref(o)} is not stored`);
    return found;
  });
}

describe.each(routers)('%s', (name, traffic) => {
  let md: ModelDeployment;
  let owner: V1OwnerReference;
  beforeAll(async () => {
    md = await createModelDeployment(name, traffic);
    owner = {
      apiVersion: md.apiVersion,
      kind: md.kind,
      name,
      uid: md.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
  });

  test.each(tables)('%s applies, is stored as rendered, and reads back as the table', async (_n, weights) => {
    const table: WeightEntry[] = weights.map((weight, i) => ({
      ...revisions[i]!,
      weight,
      service: revisionObjectName(name, revisions[i]!.revision),
    }));
    const router = routerFor(md);
    const objs = router.render({
      md,
      weights: table,
      labels: { 'app.kubernetes.io/managed-by': 'modelship', [LABEL_DEPLOYMENT]: name },
      ownerReference: owner,
      port: md.spec.traffic!.port!,
      targetPortName: 'http',
    });

    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs });
    const r = await kubectl(
      ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-n', ns.name, '-f', '-'],
      list,
    );
    expect(r.stderr).toBe(''); // no "unknown field" pruning warnings, no conflicts
    expect(r.code).toBe(0);

    const stored = await getStored(objs);
    for (const [i, obj] of objs.entries()) {
      // Everything rendered is stored (defaults may be added; nothing is pruned or reshaped).
      expect(stored[i]).toMatchObject(obj as Record<string, unknown>);
      expect(stored[i]!.metadata!.ownerReferences).toEqual([owner]);
    }
    expect(router.readWeights(stored, md)).toEqual(new Map(table.map((w) => [w.revision, w.weight])));

    const svc = stored.find((o) => o.kind === 'Service') as V1Service;
    const heaviest = table.reduce((a, b) => (b.weight > a.weight ? b : a));
    const split = table.filter((w) => w.weight > 0).length > 1;
    // A selector key dropped from the applied config is removed by SSA, not left behind.
    expect(svc.spec!.selector).toEqual(
      traffic.router === 'service' && split
        ? { [LABEL_DEPLOYMENT]: name }
        : { [LABEL_DEPLOYMENT]: name, [LABEL_REVISION]: heaviest.revision },
    );
  });
});

test('a router object the CRD would reject is rejected (the check above can fail)', async () => {
  const r = await kubectl(
    [
      'apply',
      '--server-side',
      '--dry-run=server',
      `--field-manager=${FIELD_MANAGER}`,
      '-n',
      ns.name,
      '-f',
      '-',
    ],
    JSON.stringify({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'too-many-rules' },
      spec: { rules: Array.from({ length: 17 }, () => ({ backendRefs: [{ name: 'x', port: 80 }] })) },
    }),
  );
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/spec.rules: Too many: 17: must have at most 16 items/);
});
