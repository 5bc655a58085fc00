/**
 * The control plane goes away under the operator, on a second cluster of this file's own (the
 * shared one is never touched): its processes are killed from their pid files and started again with
 * the very command line they ran with (SecondCluster.restart, which reads /proc/<pid>/cmdline).
 *
 * 1. etcd and kube-apiserver SIGKILLed in the middle of a canary pause: every watch and request of
 *    the operator fails; its informers retry with back-off, relist or rewatch, and the rollout ends
 *    as it would have.
 * 2. A watch that cannot resume: 410 Gone. The operator is frozen (SIGSTOP) while the world moves on
 *    (a new version, a few hundred writes), the apiserver restarts (every watch connection drops, and
 *    the new watch cache starts at etcd's current revision) and etcd is compacted to that revision.
 *    Resumed (SIGCONT), each informer asks to watch from a resourceVersion that neither the watch
 *    cache nor etcd holds any more, gets 410 Gone, and must relist. See docs/reliability.md for why
 *    SIGSTOP alone does not get there within a test's time.
 */
import type { ModelDeployment } from '../../src/api/index.js';
import { canaryModelDeployment, modelVersion, saveLog, type Operator } from '../harness/e2e.js';
import { waitFor } from '../harness/kube.js';
import { SecondCluster, crashLines, informerErrors, operatorAt, relists, sleep } from '../harness/faults.js';

const BASE_PORT = 18443;
const ETCD = `http://127.0.0.1:${BASE_PORT + 10}`;
const NS = 'restart';
const MD = 'rs';
const cluster = new SecondCluster(BASE_PORT);
const kube = cluster.kube;
let op: Operator | undefined;
let up = false;

const md = (version: string, pause = '4s'): object =>
  canaryModelDeployment({
    name: MD,
    namespace: NS,
    version,
    steps: [{ setWeight: 50 }, { pause: { duration: pause } }],
  });

const apply = (o: object) =>
  kube.ok(['apply', '--server-side', '--field-manager=rel', '-f', '-'], JSON.stringify(o));
const getMd = async () => (await kube.get<ModelDeployment>(NS, 'modeldeployment', MD))!;

async function converged(version: string, timeoutMs = 60000): Promise<ModelDeployment> {
  return waitFor(
    `${MD} promoted to ${version}, status current`,
    async () => {
      const m = await getMd();
      const s = m.status;
      return (
        s?.observedGeneration === m.metadata?.generation &&
        s?.stableVersion === version &&
        !s.canaryRevision &&
        (s.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
        m
      );
    },
    { timeoutMs, intervalMs: 300 },
  ).catch(async (e: unknown) => {
    throw new Error(
      `${(e as Error).message}\nstatus: ${JSON.stringify((await getMd().catch(() => undefined))?.status)}\n` +
        `operator log:\n${op?.lines(undefined, 30).join('\n')}`,
      { cause: e },
    );
  });
}

/** etcd's current revision, through its HTTP gateway (no etcdctl in the cluster's binaries). */
async function etcdRevision(): Promise<number> {
  const r = await fetch(`${ETCD}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==' }) });
  return Number(((await r.json()) as { header: { revision: string } }).header.revision);
}

beforeAll(async () => {
  await cluster.up();
  up = true;
  await kube.ok(['create', 'namespace', NS]);
  for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0'])
    await kube.ok(['apply', '-n', NS, '-f', '-'], JSON.stringify(modelVersion(MD, v)));
  op = operatorAt(kube.kubeconfig, [NS]);
  await apply(md('1.0.0'));
  await converged('1.0.0');
}, 120000);

afterAll(async () => {
  if (op) {
    op.proc.kill('SIGCONT');
    await op.stop('SIGKILL');
    process.stderr.write(`apiserver-restart.test operator log: ${saveLog('rel-apiserver', [op])}\n`);
  }
  // The whole cluster goes, ModelVersion finalizers and all: nothing is left to clean up.
  if (up) cluster.down();
}, 60000);

test('etcd and kube-apiserver SIGKILLed mid-canary: the operator reconnects and the rollout completes', async () => {
  await apply(md('1.1.0'));
  await waitFor('the canary at 50% (in its pause)', async () => (await getMd()).status?.canaryWeight === 50, {
    timeoutMs: 30000,
  });
  const before = op!.output().length;
  const t0 = Date.now();
  await cluster.restart('etcd', 'SIGKILL', 500);
  await cluster.restart('kube-apiserver', 'SIGKILL', 2000);
  await cluster.ready();
  const downMs = Date.now() - t0;
  const done = await converged('1.1.0');
  expect(done.status?.traffic?.filter((t) => t.weight > 0)).toEqual([
    expect.objectContaining({ version: '1.1.0', weight: 100 }),
  ]);
  // It noticed (informer errors while the apiserver was gone) and kept running.
  const after = op!.output().slice(before);
  expect(informerErrors(after).length).toBeGreaterThan(0);
  expect(op!.proc.exitCode).toBeNull();
  expect(crashLines(op!.output())).toEqual([]);
  // And it still works for a new rollout.
  await apply(md('1.2.0', '1s'));
  await converged('1.2.0');
  process.stderr.write(`apiserver-restart.test: control plane down ${downMs} ms; rollout completed\n`);
}, 240000);

test('a watch that cannot resume (410 Gone): the operator relists and the rollout it missed converges', async () => {
  let readyMs: number | undefined;
  const before = op!.output().length;
  op!.proc.kill('SIGSTOP');
  try {
    // The world moves on while the operator is frozen: a new version, and some hundreds of writes
    // (ConfigMaps and Services, kinds the operator watches) that push etcd's revision far ahead.
    await apply(md('1.3.0', '1s'));
    const items = Array.from({ length: 300 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `noise-${i}`, namespace: NS },
      data: { i: String(i) },
    }));
    await kube.ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    await kube.ok(['delete', 'configmaps', '-n', NS, '-l', '!modelship.io/revision', '--wait=false']);
    // Every watch connection drops; the new apiserver's watch cache starts at etcd's revision now.
    await cluster.restart('kube-apiserver', 'SIGKILL');
    readyMs = await cluster.ready();
    // And etcd forgets the history before that revision, so no path can serve the old one.
    const rev = await etcdRevision();
    const r = await fetch(`${ETCD}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(rev), physical: true }),
    });
    expect(r.status).toBe(200);
    await sleep(500);
  } finally {
    op!.proc.kill('SIGCONT');
  }
  await converged('1.3.0');
  const after = op!.output().slice(before);
  // The operator logged the 410 (its resourceVersion had expired) and relisted because of it.
  const gone = informerErrors(after).filter((r) => /\b410\b|too old resource version/.test(String(r.error)));
  expect(gone.length).toBeGreaterThan(0);
  const relisted = relists(after, 'expired');
  expect(relisted.length).toBeGreaterThan(0);
  process.stderr.write(
    `apiserver-restart.test: apiserver ready ${readyMs} ms after its restart; after SIGCONT ${gone.length} watches answered 410, ${relisted.length} relists ` +
      `(reason expired); e.g. ${JSON.stringify(gone[0])}\n`,
  );
  expect(op!.proc.exitCode).toBeNull();
  expect(crashLines(op!.output())).toEqual([]);
  // Converged and stays so.
  const a = (await getMd()).status;
  await sleep(2000);
  expect((await getMd()).status).toEqual(a);
}, 240000);
