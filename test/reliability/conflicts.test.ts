/**
 * Another field manager edits what the operator made. The operator runs as a ServiceAccount of its
 * own (deploy/'s RBAC), so the apiserver's audit log (hack/cluster/audit-policy.yaml: every write,
 * with its user) tells its writes from everyone else's. A person or a controller then
 * - scales a revision Deployment (`kubectl scale`),
 * - rewrites the HTTPRoute's weights (`kubectl patch`),
 * - adds a label to the Deployment and an annotation to a revision Service (fields the operator does
 *   not own),
 * - swaps the image of the revision's pod template, adds an env var beside modelship's, and pauses
 *   the Deployment (`kubectl set image`, `kubectl set env`, `kubectl rollout pause`).
 * The operator must put back what it owns (replicas, weights, the whole pod template and spec of the
 * revision), leave the rest alone (the metadata others added), and settle: no fight loop with the
 * other manager, and no write at all in a quiet minute afterwards.
 *
 * The same audit log shows the order of the first deploy's writes (docs/architecture.md): the
 * workload, its Services and the routing together, then the status.
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { clusterEnv } from '../harness/env.js';
import { releaseAll, tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  apply,
  getMd,
  getObject,
  modelVersion,
  routeWeights,
  saveLog,
  sleep,
  waitReady,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import {
  Kube,
  auditLogSize,
  auditWrites,
  operatorAt,
  operatorIdentity,
  type Identity,
} from '../harness/faults.js';

const MD = 'tug';
const QUIET_MS = 60_000;
const kube = new Kube();
const runDir = clusterEnv().runDir;
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let who: Identity;
let op: Operator | undefined;
let firstDeploy: { fromByte: number; sinceMs: number };
const until = waiter(
  () => ns.name,
  () => op,
);

beforeAll(async () => {
  ns = await tempNamespace('rel-conflict');
  who = await operatorIdentity(kube, ns.name);
  await apply(ns.name, modelVersion(MD, '1.0.0'));
  op = operatorAt(who.kubeconfig, [ns.name]);
  firstDeploy = { fromByte: auditLogSize(runDir), sinceMs: Date.now() };
  await apply(ns.name, {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version: '1.0.0',
      replicas: 2,
      strategy: { type: 'Canary', canary: { steps: [{ setWeight: 50 }], scaleDownDelaySeconds: 0 } },
      traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
    },
  });
  await waitReady(ns.name, MD);
}, 90000);
afterAll(async () => {
  await releaseAll(ns.name);
  await op?.stop();
  if (op) process.stderr.write(`conflicts.test operator log: ${saveLog('rel-conflict', [op])}\n`);
  await who?.remove();
  await ns.remove();
}, 120000);

test('a first deploy writes its workload, Services and routing, and only then its status', async () => {
  const hash = (await getMd(ns.name, MD)).status!.stableRevision!;
  const writes = auditWrites(runDir, who.user, { namespace: ns.name, ...firstDeploy }).filter(
    (w) => (w.code ?? 0) < 300,
  );
  const first = (resource: string, name?: string, subresource?: string): number => {
    const w = writes.find(
      (x) => x.resource === resource && x.subresource === subresource && (!name || x.name === name),
    );
    if (!w) throw new Error(`no ${resource} write by the operator: ${JSON.stringify(writes)}`);
    return w.at;
  };
  const workload = Math.max(first('deployments'), first('configmaps'));
  const revisionService = first('services', `${MD}-${hash}`);
  const route = first('httproutes', MD);
  const status = first('modeldeployments', MD, 'status');
  // Times are the apiserver's (ms). The objects go out together, in one reconcile; the status is
  // written by the next one, after every one of them was answered.
  expect(status).toBeGreaterThanOrEqual(Math.max(workload, revisionService, route));
});

test('edits by another manager: owned fields and the pod template restored, foreign metadata kept, then not one write in a quiet minute', async () => {
  const md = await getMd(ns.name, MD);
  const hash = md.status!.stableRevision!;
  const child = `${MD}-${hash}`;
  await until(
    'the route on the stable revision',
    async () => (await routeWeights(ns.name, MD))?.[hash] === 100,
  );

  const template0 = (await getObject<V1Deployment>(ns.name, 'deployment', child))?.spec?.template;
  const from = auditLogSize(runDir);
  const t0 = Date.now();
  await kube.ok(['scale', 'deployment', child, '-n', ns.name, '--replicas=7']);
  const route = await kube.get<{ spec: { rules: Array<{ backendRefs?: Array<{ weight?: number }> }> } }>(
    ns.name,
    'httproutes.gateway.networking.k8s.io',
    MD,
  );
  const rule = route!.spec.rules.findIndex((r) => (r.backendRefs ?? []).length > 0);
  await kube.ok([
    'patch',
    'httproute',
    MD,
    '-n',
    ns.name,
    '--type=json',
    '-p',
    JSON.stringify([{ op: 'replace', path: `/spec/rules/${rule}/backendRefs/0/weight`, value: 0 }]),
  ]);
  await kube.ok(['label', 'deployment', child, '-n', ns.name, 'team.example.com/owner=alice']);
  await kube.ok(['annotate', 'service', child, '-n', ns.name, 'example.com/note=hands off']);
  // The pod template: an image swapped, an env var added beside modelship's, the rollout paused.
  const container = template0!.spec!.containers[0]!.name;
  await kube.ok([
    'set',
    'image',
    `deployment/${child}`,
    '-n',
    ns.name,
    `${container}=registry.example/other:6.6.6`,
  ]);
  await kube.ok(['set', 'env', `deployment/${child}`, '-n', ns.name, `-c=${container}`, 'INJECTED=1']);
  await kube.ok(['rollout', 'pause', `deployment/${child}`, '-n', ns.name]);

  await until(
    'replicas back to 2, the pod template as modelship renders it, and all traffic back on the stable revision',
    async () => {
      const d = await getObject<V1Deployment>(ns.name, 'deployment', child);
      const w = await routeWeights(ns.name, MD);
      return (
        d?.spec?.replicas === 2 &&
        !d.spec.paused &&
        JSON.stringify(d.spec.template) === JSON.stringify(template0) &&
        w?.[hash] === 100
      );
    },
    { md: MD, timeoutMs: 30000 },
  );
  const restoredAt = Date.now();

  // Settle: let the last echoes (the Deployment controller's status writes, the route's) pass.
  await sleep(5000);
  const quietFrom = Date.now();
  await sleep(QUIET_MS);
  const writes = auditWrites(runDir, who.user, { namespace: ns.name, sinceMs: t0, fromByte: from });
  const during = writes.filter((w) => w.at < quietFrom);
  const quiet = writes.filter((w) => w.at >= quietFrom);
  const perObject = new Map<string, number>();
  for (const w of during) {
    const k = `${w.verb} ${w.resource}/${w.name}${w.subresource ? `/${w.subresource}` : ''}`;
    perObject.set(k, (perObject.get(k) ?? 0) + 1);
  }
  process.stderr.write(
    `conflicts.test: restored in ${restoredAt - t0} ms with ${during.length} operator writes ` +
      `(${[...perObject].map(([k, n]) => `${k} x${n}`).join(', ')}); ` +
      `${quiet.length} writes in the quiet ${QUIET_MS / 1000} s\n`,
  );
  // The operator wrote (it restored) but did not fight: a few successful writes per child (each edit
  // that reached it in its own watch event is restored on its own), not a loop. Status writes follow
  // the pods the other manager's template edit rolled, and a replace refused for a stale
  // resourceVersion (409) is retried from the next watch event: neither is a write to a child.
  expect(during.length).toBeGreaterThan(0);
  const childWrites = new Map<string, number>();
  for (const w of during)
    if (!w.subresource && w.resource !== 'events' && (w.code ?? 0) < 300)
      childWrites.set(`${w.resource}/${w.name}`, (childWrites.get(`${w.resource}/${w.name}`) ?? 0) + 1);
  for (const [child, n] of childWrites) expect({ child, n: Math.min(n, 4) }).toEqual({ child, n });
  expect(quiet.map((w) => `${w.verb} ${w.resource}/${w.name} ${w.subresource ?? ''}`)).toEqual([]);

  // What it owns is as it wants it; what the other managers added is still there.
  const d = await getObject<V1Deployment>(ns.name, 'deployment', child);
  expect(d?.spec?.replicas).toBe(2);
  expect(d?.spec?.template).toEqual(template0);
  expect(d?.metadata?.labels?.['team.example.com/owner']).toBe('alice');
  const events = await kube.list<{ reason?: string; message?: string }>(ns.name, 'events');
  // One Event per restore (the three edits may land in one reconcile or in two).
  const restores = events.filter((e) => e.reason === 'DriftRestored').map((e) => e.message ?? '');
  expect(restores.length).toBeGreaterThanOrEqual(1);
  for (const m of restores) expect(m).toContain(`Deployment ${child} was changed by another field manager`);
  expect(restores.join(' ')).toMatch(/containers\[name=[a-z-]+\]\.image by kubectl-set/);
  const svc = await getObject<V1Service>(ns.name, 'service', child);
  expect(svc?.metadata?.annotations?.['example.com/note']).toBe('hands off');
  expect(await routeWeights(ns.name, MD)).toEqual({ [hash]: 100 });
  const after = await getMd(ns.name, MD);
  expect(after.status?.stableRevision).toBe(hash);
  expect(after.status?.observedGeneration).toBe(after.metadata?.generation);
}, 150000);
