/**
 * Leader election on a real Lease: of two replicas only the holder reconciles and writes; a leader
 * killed in the middle of a canary (SIGKILL, no release) is replaced after the lease expires and
 * the new leader finishes the rollout it found, without a second revision of the same version; a
 * stopped leader (SIGTERM, released) is replaced at once; both replicas report ready (/readyz) and
 * healthy (/healthz) whatever their role. Then three leaders in a row are SIGKILLed just after each took the lease,
 * during one canary: every hand-over (to whichever live candidate wins) is within the bound, the
 * canary holds its step, and the last leader finishes it.
 */
import http from 'node:http';
import {
  apply,
  canaryModelDeployment,
  endSuite,
  getMd,
  modelVersion,
  promote,
  revisions,
  waitReady,
} from '../harness/e2e.js';
import { kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';
import { startOperator, type RunningOperator } from '../harness/operator.js';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
const running: RunningOperator[] = [];
beforeAll(async () => {
  ns = await tempNamespace('leader');
});
afterAll(async () => {
  // Deleting the ModelVersions needs a running operator (it releases their in-use finalizer).
  await endSuite('leader', ns, running);
}, 60_000);

const MD = 'lead';
const md = (version: string): object =>
  canaryModelDeployment({ name: MD, version, steps: [{ setWeight: 50 }, { pause: { duration: '10s' } }] });
/** The operator's decision log lines ("rollout state"): only a leader makes decisions. */
const decisions = (o: RunningOperator): number => o.output().split('"rollout state"').length - 1;

function start(): RunningOperator {
  const op = startOperator([
    '--leader-elect',
    '--leader-election-namespace',
    ns.name,
    '--namespaces',
    ns.name,
  ]);
  running.push(op);
  return op;
}
const leads = (o: RunningOperator) => o.output().includes('"became the leader"');
async function holder(): Promise<string | undefined> {
  const out = await kubectlOk([
    'get',
    'lease',
    'modelship',
    '-n',
    ns.name,
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]).catch(() => '');
  return out || undefined;
}
const readyz = (o: RunningOperator): Promise<number> => probe(o, '/readyz');
async function probe(o: RunningOperator, path: string): Promise<number> {
  const addr = o.address();
  if (!addr) return 0;
  return new Promise((resolve) => {
    http
      .get(`http://${addr}${path}`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

test('one leader at a time; a leader SIGKILLed mid-canary hands over within the lease and the rollout finishes; SIGTERM hands over at once', async () => {
  const a = start();
  await waitFor('a leads', async () => leads(a), { timeoutMs: 30_000 });
  const b = start();
  await waitFor('b synced and ready', async () => (await readyz(b)) === 200, { timeoutMs: 30_000 });
  expect(await readyz(a)).toBe(200);
  expect(leads(b)).toBe(false);
  const first = await holder();
  expect(first).toBeDefined();

  // A rollout driven by the leader alone: the standby decides and writes nothing.
  for (const v of ['1.0.0', '1.1.0']) await apply(ns.name, modelVersion(MD, v));
  await apply(ns.name, md('1.0.0'));
  await waitReady(ns.name, MD);
  await apply(ns.name, md('1.1.0'));
  await waitFor(
    'canary at 50%, in its pause',
    async () => (await getMd(ns.name, MD)).status?.canaryWeight === 50,
    {
      timeoutMs: 60_000,
    },
  );
  expect(decisions(a)).toBeGreaterThan(0);
  expect(decisions(b)).toBe(0);
  // Both alive and not stuck: the standby's keys wait for no worker, which is no stall.
  expect([await probe(a, '/healthz'), await probe(b, '/healthz')]).toEqual([200, 200]);

  // A killed leader cannot release: the standby waits out the 15 s lease, and not much longer ...
  const killedAt = Date.now();
  await a.stop('SIGKILL');
  await waitFor('b leads', async () => leads(b), { timeoutMs: 30_000 });
  const handover = Date.now() - killedAt;
  expect(handover).toBeLessThan(20_000);
  expect(await holder()).not.toBe(first);
  // ... and carries on with the rollout it finds: the pause ends, 1.1.0 is promoted, from the
  // revisions that exist (one per version, none made twice).
  await waitFor(
    '1.1.0 promoted by the new leader',
    async () => {
      const m = await getMd(ns.name, MD);
      return (
        m.status?.stableVersion === '1.1.0' &&
        !m.status.canaryRevision &&
        m.status.observedGeneration === m.metadata?.generation
      );
    },
    { timeoutMs: 60_000 },
  );
  await waitReady(ns.name, MD);
  expect(decisions(b)).toBeGreaterThan(0);
  const versions = (await revisions(ns.name, MD)).map((r) => r.version).sort();
  expect(versions).toEqual(['1.0.0', '1.1.0']);
  process.stderr.write(
    `leader.test: SIGKILL hand-over ${handover} ms; the rollout finished under the new leader\n`,
  );

  // A leader stopped with SIGTERM drains and releases the lease: the next one takes it in about
  // one retry period (2 s).
  const c = start();
  await waitFor('c ready as standby', async () => (await readyz(c)) === 200, { timeoutMs: 30_000 });
  const stoppedAt = Date.now();
  expect(await b.stop('SIGTERM')).toBe(0);
  expect(b.output()).toContain('"lease released"');
  await waitFor('c leads', async () => leads(c), { timeoutMs: 15_000 });
  expect(Date.now() - stoppedAt).toBeLessThan(8_000);
}, 180_000);

test('three leaders SIGKILLed in a row, each just after it took the lease, during one canary: each hand-over within 20 s, the canary holds its step, the fourth leader finishes it', async () => {
  // The first test's operators go first (SIGTERM releases the lease): this test starts its own.
  for (const o of running) await o.stop();
  const M = 'lead-again';
  const mdOf = (version: string): object =>
    // An unbounded pause: the canary waits at 25% until promoted, whoever leads.
    canaryModelDeployment({ name: M, version, steps: [{ setWeight: 25 }, { pause: {} }] });
  let leader = start();
  await waitFor('a first leader', async () => leads(leader), { timeoutMs: 30_000 });
  const standby = start();
  await waitFor('a standby, ready', async () => (await readyz(standby)) === 200, { timeoutMs: 30_000 });
  for (const v of ['2.0.0', '2.1.0']) await apply(ns.name, modelVersion(M, v));
  await apply(ns.name, mdOf('2.0.0'));
  await waitReady(ns.name, M);
  await apply(ns.name, mdOf('2.1.0'));
  // With the plain-Service router the split is a ratio of pods (1 canary pod next to 2 stable: 33%):
  // the weight the canary first holds is the one every later leader must keep.
  let held: number | undefined;
  const atStep = async (): Promise<boolean> => {
    const m = await getMd(ns.name, M);
    const w = m.status?.canaryWeight ?? 0;
    if (m.status?.canaryVersion !== '2.1.0' || m.status.stableVersion !== '2.0.0' || w <= 0) return false;
    held ??= w;
    return w === held && m.status.phase === 'Paused';
  };
  await waitFor('canary at its first step, paused until promoted', atStep, { timeoutMs: 60_000 });

  const handovers: number[] = [];
  const winners: string[] = [];
  let candidates = [standby];
  for (let k = 1; k <= 3; k++) {
    const before = await holder();
    // The next standby starts, and the leader dies at once: after the first round, a leader that took
    // the lease moments ago and is still in its first reconciles.
    candidates = [...candidates, start()];
    const killedAt = Date.now();
    await leader.stop('SIGKILL');
    // Any live candidate may win. A candidate takes the Lease a whole lease duration after it first
    // saw the record as it now stands: the older standby saw the dead leader's last renewal up to
    // one retry period before the kill, the newer one first read the Lease a second or so after it.
    // They become free to take it within about two seconds of each other, and whichever's 2 s retry
    // comes next wins (the newer one did in a clean run: operator #7, 16.8 s after the kill).
    const next = await waitFor(`hand-over ${k}`, async () => candidates.find(leads), { timeoutMs: 30_000 });
    handovers.push(Date.now() - killedAt);
    winners.push(candidates.indexOf(next) === 0 ? 'older' : 'newer');
    expect(await holder()).not.toBe(before);
    // One leader at a time: the other candidate still waits.
    expect(candidates.filter(leads).length).toBe(1);
    leader = next;
    candidates = candidates.filter((c) => c !== next);
    // Nothing moved while leaders died: still one revision per version, the canary at its step.
    await waitFor(`canary still at its step after hand-over ${k}`, atStep, { timeoutMs: 30_000 });
    const versions = (await revisions(ns.name, M)).map((r) => r.version).sort();
    expect(versions).toEqual(['2.0.0', '2.1.0']);
  }
  for (const h of handovers) expect(h).toBeLessThan(20_000);

  await promote(ns.name, M);
  await waitFor(
    '2.1.0 promoted by the fourth leader',
    async () => {
      const m = await getMd(ns.name, M);
      return m.status?.stableVersion === '2.1.0' && !m.status.canaryRevision;
    },
    { timeoutMs: 60_000 },
  );
  await waitReady(ns.name, M);
  expect(decisions(leader)).toBeGreaterThan(0);
  expect((await revisions(ns.name, M)).map((r) => r.version).sort()).toEqual(['2.0.0', '2.1.0']);
  process.stderr.write(
    `leader.test: three SIGKILL hand-overs in a row: ${handovers.join(', ')} ms, to the ${winners.join(', ')} candidate\n`,
  );
}, 240_000);
