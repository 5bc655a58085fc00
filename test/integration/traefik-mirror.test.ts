/**
 * traffic.gatewayApi.mirrorWith: TraefikService on a real kube-apiserver with the real CRDs: the
 * ModelDeployment CRD takes the setting (and refuses a value it does not know), and Traefik's own
 * TraefikService CRD (traefik.io/v1alpha1, of the release hack/tools/traefik.sh builds, installed by
 * hack/cluster/install-traefik-crds.sh from the Go module cache) stores every mirroring TraefikService
 * the gatewayApi router renders as rendered, under server-side apply with nothing pruned; the route
 * and its TraefikServices, as stored, read back as the table.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { FIELD_MANAGER, LABEL_DEPLOYMENT, revisionObjectName } from '../../src/core/labels.js';
import { routerFor } from '../../src/routers/index.js';
import type { WeightEntry } from '../../src/routers/index.js';
import { clusterScripts } from '../harness/env.js';
import { kubectl, kubectlOk, tempNamespace } from '../harness/kube.js';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
beforeAll(async () => {
  await promisify(execFile)('bash', [join(clusterScripts, 'install-traefik-crds.sh')], { env: process.env });
  ns = await tempNamespace('traefik-mirror');
}, 300_000);
afterAll(async () => ns.remove());

const name = 'iris';
const revisions = [
  { revision: '5d8f7c6b9a', version: '1.0.0' },
  { revision: '7b9c2e4f1d', version: '1.1.0' },
  { revision: '3a6e8d0c2b', version: '1.2.0' },
];

const modelDeployment = (mirrorWith: string): object => ({
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name, namespace: ns.name },
  spec: {
    model: 'iris',
    version: '1.0.0',
    traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }], mirrorWith } },
  },
});

test('the ModelDeployment CRD refuses a mirrorWith it does not know', async () => {
  const r = await kubectl(
    ['apply', '--server-side', '--dry-run=server', `--field-manager=${FIELD_MANAGER}-test`, '-f', '-'],
    JSON.stringify(modelDeployment('Envoy')),
  );
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/mirrorWith: Unsupported value: "Envoy"/);
});

describe('mirroring TraefikServices', () => {
  let md: ModelDeployment;
  let owner: V1OwnerReference;
  beforeAll(async () => {
    await kubectlOk(
      ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}-test`, '-f', '-'],
      JSON.stringify(modelDeployment('TraefikService')),
    );
    md = JSON.parse(
      await kubectlOk(['get', 'modeldeployment', name, '-n', ns.name, '-o', 'json']),
    ) as ModelDeployment;
    owner = {
      apiVersion: md.apiVersion,
      kind: md.kind,
      name,
      uid: md.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
  });

  test.each<[string, number[]]>([
    ['100/0', [100, 0]],
    ['80/20', [80, 20]],
    ['34/33/33', [34, 33, 33]],
  ])('%s with a mirror to 1.1.0 at 25%%: stored as rendered, read back as the table', async (_n, weights) => {
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
      mirror: { ...revisions[1]!, service: revisionObjectName(name, revisions[1]!.revision), percent: 25 },
    });
    const mirrors = objs.filter((o) => o.kind === 'TraefikService');
    // One per weighted revision other than the mirror target.
    expect(mirrors.map((o) => o.metadata!.name)).toEqual(
      table
        .filter((w) => w.weight > 0 && w.revision !== revisions[1]!.revision)
        .map((w) => `${name}-${w.revision}-mirror`),
    );

    const r = await kubectl(
      ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-n', ns.name, '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
    );
    expect(r.stderr).toBe(''); // no "unknown field" pruning warnings, no conflicts
    expect(r.code).toBe(0);

    const stored: KubernetesObject[] = [];
    for (const o of objs) {
      const resource =
        o.kind === 'TraefikService'
          ? 'traefikservices.traefik.io'
          : o.kind === 'HTTPRoute'
            ? 'httproutes.gateway.networking.k8s.io'
            : 'services';
      const s = JSON.parse(
        await kubectlOk(['get', resource, o.metadata!.name!, '-n', ns.name, '-o', 'json']),
      ) as KubernetesObject;
      expect(s).toMatchObject(o as Record<string, unknown>);
      stored.push(s);
    }
    expect(router.readWeights(stored, md)).toEqual(new Map(table.map((w) => [w.revision, w.weight])));
  });

  test('a TraefikService the CRD would reject is rejected (the check above can fail)', async () => {
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
        apiVersion: 'traefik.io/v1alpha1',
        kind: 'TraefikService',
        metadata: { name: 'bad' },
        spec: { mirroring: { name: 'x', port: 80, mirrors: [{ name: 'y', port: 80, percent: 'half' }] } },
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/percent/);
  });
});
