/**
 * modelship writes only objects it created. For every kind of child a ModelDeployment makes, an
 * object of that kind and name that somebody else made first (the user's own Service `shop`, a
 * Deployment named like a revision, the cluster's own `default/kubernetes` Service, ...) is
 * - left exactly as it was, resourceVersion and all, while the ModelDeployment is created and
 *   reconciled for a while, and after it is deleted (the garbage collector must not take it);
 * - named in the ModelDeployment's condition (Ready=False, reason NameConflict);
 * and once the object is removed, the rollout proceeds. A blue-green rollout blocked by someone
 * else's preview Service keeps serving the stable version meanwhile.
 *
 * The operator runs as deploy/'s ServiceAccount (ClusterRole and Role), without the admission policy
 * of deploy/ (test/e2e/admission-policy.test.ts tests that): this file tests the operator's own rule.
 */
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { revisionHash } from '../../src/core/revision.js';
import { NAME_CONFLICT_RECHECK_MS } from '../../src/controllers/modeldeployment.js';
import { kubectl, releaseAll, tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  apply,
  condition,
  getMd,
  getObject,
  listObjects,
  modelVersion,
  saveLog,
  sleep,
  waitReady,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { Kube, operatorAt, operatorIdentity, type Identity } from '../harness/faults.js';

const kube = new Kube();
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let who: Identity;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

const GATEWAY = 'httproutes.gateway.networking.k8s.io';
const ISTIO = 'virtualservices.networking.istio.io';

type Router = 'service' | 'gatewayApi' | 'istio';
const traffic = (router: Router): object =>
  router === 'gatewayApi'
    ? { router, gatewayApi: { parentRefs: [{ name: 'gw' }] } }
    : router === 'istio'
      ? { router, istio: { hosts: ['shop.example.com'] } }
      : { router };

function modelDeployment(
  name: string,
  router: Router,
  version = '1.0.0',
  extra: object = {},
): ModelDeployment {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name },
    spec: {
      model: 'shop',
      version,
      replicas: 1,
      strategy: { type: 'Canary', canary: { steps: [], scaleDownDelaySeconds: 0 } },
      traffic: traffic(router),
      ...extra,
    },
  } as unknown as ModelDeployment;
}

/** The revision a ModelDeployment named `name` makes for shop 1.0.0 (operator defaults). */
function hashFor(name: string, namespace: string): string {
  return revisionHash({
    md: { ...modelDeployment(name, 'service'), metadata: { name, namespace } },
    mv: modelVersion('shop', '1.0.0'),
  });
}

/** Someone else's object of each kind modelship makes. */
function foreign(kind: string, name: string): KubernetesObject {
  const metadata = { name, labels: { app: 'shop', team: 'storefront' } };
  switch (kind) {
    case 'Service':
      return {
        apiVersion: 'v1',
        kind,
        metadata,
        spec: { selector: { app: 'shop' }, ports: [{ name: 'https', port: 443, targetPort: 8443 }] },
      } as KubernetesObject;
    case 'ConfigMap':
      return {
        apiVersion: 'v1',
        kind,
        metadata,
        data: { 'shop.conf': 'currency=EUR\n' },
      } as KubernetesObject;
    case 'Deployment':
      return {
        apiVersion: 'apps/v1',
        kind,
        metadata,
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'shop-web' } },
          template: {
            metadata: { labels: { app: 'shop-web' } },
            spec: { containers: [{ name: 'web', image: 'registry.example/shop-web:3.1' }] },
          },
        },
      } as KubernetesObject;
    case 'HTTPRoute':
      return {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind,
        metadata,
        spec: {
          parentRefs: [{ name: 'gw' }],
          rules: [{ backendRefs: [{ name: 'shop-web', port: 443 }] }],
        },
      } as KubernetesObject;
    case 'VirtualService':
      return {
        apiVersion: 'networking.istio.io/v1',
        kind,
        metadata,
        spec: { hosts: ['shop.example.com'], http: [{ route: [{ destination: { host: 'shop-web' } }] }] },
      } as KubernetesObject;
    default:
      throw new Error(`no foreign ${kind}`);
  }
}

const resourceOf = (kind: string): string =>
  kind === 'HTTPRoute' ? GATEWAY : kind === 'VirtualService' ? ISTIO : kind.toLowerCase();

async function snapshot(namespace: string, kind: string, name: string): Promise<KubernetesObject> {
  const o = await getObject<KubernetesObject>(namespace, resourceOf(kind), name);
  if (!o) throw new Error(`${kind} ${namespace}/${name} does not exist`);
  return o;
}

/**
 * The snapshot of someone else's object once its own controllers are done with it: the Deployment
 * controller writes a new Deployment's status in steps (replica set created, then available) for a
 * second or more on a busy cluster, and a snapshot taken in between is not what modelship changed.
 */
async function settled(namespace: string, kind: string, name: string): Promise<KubernetesObject> {
  let o = await snapshot(namespace, kind, name);
  if (kind !== 'Deployment') return o;
  await until(`${kind} ${namespace}/${name} settled`, async () => {
    o = await snapshot(namespace, kind, name);
    const d = o as V1Deployment;
    return (
      d.status?.observedGeneration === d.metadata?.generation &&
      d.status?.availableReplicas === d.spec?.replicas &&
      !!d.status?.conditions?.some((c) => c.reason === 'NewReplicaSetAvailable')
    );
  });
  return o;
}

/** The operator has written a status for the ModelDeployment: it has been reconciled. */
async function waitReconciled(namespace: string, md: string): Promise<void> {
  await until(`md/${md} reconciled`, async () => !!(await getMd(namespace, md)).status?.conditions?.length, {
    timeoutMs: 60_000,
    md,
  });
}

async function waitConflict(namespace: string, md: string, kind: string, name: string): Promise<void> {
  await until(
    `md/${md}: Ready=False NameConflict naming ${kind} ${namespace}/${name}`,
    async () => {
      const ready = condition((await getMd(namespace, md)).status, 'Ready');
      return (
        ready?.status === 'False' &&
        ready.reason === 'NameConflict' &&
        ready.message?.includes(`${kind} ${namespace}/${name} `) &&
        ready
      );
    },
    { timeoutMs: 60_000, md },
  );
}

/** The objects of any kind that this ModelDeployment controls. */
async function children(namespace: string, md: string): Promise<string[]> {
  const uid = (await getMd(namespace, md)).metadata!.uid;
  const all = await Promise.all(
    ['deployments', 'services', 'configmaps', GATEWAY, ISTIO].map((r) =>
      listObjects<KubernetesObject>(namespace, r),
    ),
  );
  return all
    .flat()
    .filter((o) => o.metadata?.ownerReferences?.some((r) => r.uid === uid))
    .map((o) => `${o.kind}/${o.metadata!.name}`)
    .sort();
}

/** Deletes the ModelDeployment and waits until the garbage collector has taken its children. */
async function deleteMd(namespace: string, md: string): Promise<void> {
  const uid = (await getMd(namespace, md)).metadata!.uid!;
  await kube.ok(['delete', 'md', md, '-n', namespace, '--wait=true', '--timeout=60s']);
  await until(
    `the children of md/${md} gone`,
    async () => {
      const left = (
        await Promise.all(
          ['deployments', 'services', 'configmaps', GATEWAY, ISTIO].map((r) =>
            listObjects<KubernetesObject>(namespace, r, `modelship.io/deployment=${md}`),
          ),
        )
      )
        .flat()
        .filter((o) => o.metadata?.ownerReferences?.some((r) => r.uid === uid));
      return left.length === 0;
    },
    { timeoutMs: 60_000 },
  );
}

beforeAll(async () => {
  ns = await tempNamespace('e2e-owner');
  who = await operatorIdentity(kube, ns.name);
  await apply(ns.name, modelVersion('shop', '1.0.0'));
  await apply(ns.name, modelVersion('shop', '1.1.0'));
  await apply('default', modelVersion('shop', '1.0.0'));
  op = operatorAt(who.kubeconfig, [ns.name, 'default']);
}, 60_000);

afterAll(async () => {
  await kubectl(['delete', 'md', 'kubernetes', '-n', 'default', '--ignore-not-found', '--wait=true']);
  await releaseAll(ns.name);
  await kubectl(['delete', 'mv', 'shop-1.0.0', '-n', 'default', '--ignore-not-found', '--wait=true']);
  await op?.stop();
  if (op) process.stderr.write(`ownership.test operator log: ${saveLog('e2e-owner', [op])}\n`);
  await who?.remove();
  await ns.remove();
}, 120_000);

const cases: Array<{
  title: string;
  md: string;
  router: Router;
  kind: string;
  name: (md: string) => string;
}> = [
  { title: 'the stable Service', md: 'svc', router: 'service', kind: 'Service', name: (md) => md },
  { title: 'the HTTPRoute', md: 'route', router: 'gatewayApi', kind: 'HTTPRoute', name: (md) => md },
  { title: 'the VirtualService', md: 'mesh', router: 'istio', kind: 'VirtualService', name: (md) => md },
  {
    title: 'the revision Deployment',
    md: 'dep',
    router: 'service',
    kind: 'Deployment',
    name: (md) => `${md}-${hashFor(md, ns.name)}`,
  },
  {
    title: 'the revision Service',
    md: 'rsvc',
    router: 'gatewayApi',
    kind: 'Service',
    name: (md) => `${md}-${hashFor(md, ns.name)}`,
  },
  {
    title: 'the revision ConfigMap',
    md: 'conf',
    router: 'service',
    kind: 'ConfigMap',
    name: (md) => `${md}-${hashFor(md, ns.name)}`,
  },
];

test.concurrent.each(cases)(
  "someone else's object in the place of $title: untouched while the ModelDeployment lives and after it is deleted; gone, the rollout proceeds",
  async ({ md, router, kind, name: nameOf }) => {
    const namespace = ns.name;
    const name = nameOf(md);
    await apply(namespace, foreign(kind, name));
    const before = await settled(namespace, kind, name);

    await apply(namespace, modelDeployment(md, router));
    await waitReconciled(namespace, md);
    // Reconciled for a while: the operator looks again every NAME_CONFLICT_RECHECK_MS.
    await sleep(NAME_CONFLICT_RECHECK_MS + 2_000);
    expect(await snapshot(namespace, kind, name)).toEqual(before);
    await waitConflict(namespace, md, kind, name);
    // Held before anything was written: no child made that could not be routed to.
    expect(await children(namespace, md)).toEqual([]);

    await deleteMd(namespace, md);
    expect(await snapshot(namespace, kind, name)).toEqual(before);

    // The same ModelDeployment again; this time the owner of the object takes it away.
    await apply(namespace, modelDeployment(md, router));
    await waitConflict(namespace, md, kind, name);
    await kube.ok(['delete', resourceOf(kind), name, '-n', namespace, '--wait=true']);
    await waitReady(namespace, md, 60);
    const mine = await snapshot(namespace, kind, name);
    const uid = (await getMd(namespace, md)).metadata!.uid;
    expect(mine.metadata?.ownerReferences).toEqual([expect.objectContaining({ uid, controller: true })]);
  },
  150_000,
);

test.concurrent(
  "an object carrying modelship's labels but no owner (a copy) is someone else's too",
  async () => {
    const namespace = ns.name;
    const copy = foreign('Service', 'copy');
    copy.metadata!.labels = {
      'app.kubernetes.io/managed-by': 'modelship',
      'modelship.io/deployment': 'copy',
      'modelship.io/model': 'shop',
    };
    await apply(namespace, copy);
    const before = await snapshot(namespace, 'Service', 'copy');
    await apply(namespace, modelDeployment('copy', 'service'));
    await waitReconciled(namespace, 'copy');
    await sleep(NAME_CONFLICT_RECHECK_MS + 2_000);
    expect(await snapshot(namespace, 'Service', 'copy')).toEqual(before);
    await waitConflict(namespace, 'copy', 'Service', 'copy');
    await deleteMd(namespace, 'copy');
    expect(await snapshot(namespace, 'Service', 'copy')).toEqual(before);
  },
  150_000,
);

test.concurrent(
  'a ModelDeployment named kubernetes in default leaves the cluster’s own Service alone',
  async () => {
    const before = await snapshot('default', 'Service', 'kubernetes');
    await apply('default', modelDeployment('kubernetes', 'service'));
    await waitReconciled('default', 'kubernetes');
    await sleep(NAME_CONFLICT_RECHECK_MS + 2_000);
    expect(await snapshot('default', 'Service', 'kubernetes')).toEqual(before);
    await waitConflict('default', 'kubernetes', 'Service', 'kubernetes');
    await deleteMd('default', 'kubernetes');
    expect(await snapshot('default', 'Service', 'kubernetes')).toEqual(before);
  },
  150_000,
);

test.concurrent(
  "blue-green held by someone else's preview Service: the stable version keeps serving, then the switch goes on",
  async () => {
    const namespace = ns.name;
    const bg = (version: string) =>
      modelDeployment('bg', 'gatewayApi', version, {
        strategy: { type: 'BlueGreen', blueGreen: { scaleDownDelaySeconds: 0 } },
      });
    await apply(namespace, bg('1.0.0'));
    await waitReady(namespace, 'bg', 60);
    const stable = (await getMd(namespace, 'bg')).status!.stableRevision!;
    await apply(namespace, foreign('Service', 'bg-preview'));
    const before = await snapshot(namespace, 'Service', 'bg-preview');

    await apply(namespace, bg('1.1.0'));
    await sleep(NAME_CONFLICT_RECHECK_MS + 2_000);
    expect(await snapshot(namespace, 'Service', 'bg-preview')).toEqual(before);
    await waitConflict(namespace, 'bg', 'Service', 'bg-preview');
    const held = await getMd(namespace, 'bg');
    expect(held.status?.stableRevision).toBe(stable);
    expect(held.status?.traffic).toEqual([expect.objectContaining({ revision: stable, weight: 100 })]);
    const serving = await getObject<V1Deployment>(namespace, 'deployment', `bg-${stable}`);
    expect(serving?.spec?.replicas).toBe(1);
    expect((await children(namespace, 'bg')).filter((c) => c.startsWith('Deployment/'))).toEqual([
      `Deployment/bg-${stable}`,
    ]);

    await kube.ok(['delete', 'service', 'bg-preview', '-n', namespace, '--wait=true']);
    await until(
      'bg switched to 1.1.0',
      async () => {
        const s = (await getMd(namespace, 'bg')).status;
        return s?.stableVersion === '1.1.0' && condition(s, 'Ready')?.status === 'True';
      },
      { timeoutMs: 60_000, md: 'bg' },
    );
  },
  150_000,
);
