/**
 * Fencing: a leader that stops renewing its Lease must stop writing before a standby can take the
 * Lease over, and must never write again. Two operator processes with --leader-elect, each with its
 * own User-Agent (`modelship (…) <identity>`), so the apiserver's audit log
 * (hack/cluster/audit-policy.yaml: every write, with its user agent) tells their writes apart.
 *
 * 1. The leader is frozen (SIGSTOP: what a long pause, a throttled container or a suspended VM look
 *    like to everyone else) in the middle of a canary, while it has work pending (a timed pause).
 *    The standby takes the Lease once it has gone unrenewed for a lease duration and finishes the
 *    canary. Then the ModelDeployment changes while the new leader is held for a second (SIGSTOP,
 *    well within its own renew deadline), and the old leader is thawed first: it wakes up with the
 *    change on its watches and nothing of the new leader's work on them, so it has writes to make at
 *    once, in the first turn of its event loop, before any answer about the Lease can reach it. It
 *    must exit without one more write: the apiserver received none from it after the takeover.
 * 2. The leader is frozen for longer than its renew deadline (10 s) but shorter than the lease
 *    (15 s): about 11 s. Nobody has taken its place when it wakes, yet it has not renewed in time,
 *    so it must step down (client-go's rule) without a write, and the standby takes over.
 * 3. The leader is cut off from the apiserver (a proxy that drops every byte from then on, closing
 *    nothing): no request of its own fails fast, yet it must stop at its renew deadline, before the
 *    standby may take the Lease.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterEnv } from '../harness/env.js';
import { kubeconfigVia, Partition } from '../harness/partition.js';
import { auditLogSize, auditWrites, type AuditWrite } from '../harness/audit.js';
import {
  apply,
  canaryModelDeployment,
  endSuite,
  getMd,
  modelVersion,
  promote,
  revisions,
  sleep,
  waitReady,
} from '../harness/e2e.js';
import { kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';
import { startOperator, type RunningOperator } from '../harness/operator.js';

const runDir = clusterEnv().runDir;
let ns: Awaited<ReturnType<typeof tempNamespace>>;
const running: RunningOperator[] = [];
beforeAll(async () => {
  ns = await tempNamespace('fence');
});
afterAll(async () => {
  for (const o of running) o.proc.kill('SIGCONT');
  await endSuite('fencing', ns, running);
}, 60_000);

const MD = 'fence';

function start(extra: string[] = []): RunningOperator {
  const op = startOperator([
    '--leader-elect',
    '--leader-election-namespace',
    ns.name,
    '--namespaces',
    ns.name,
    ...extra,
  ]);
  running.push(op);
  op.proc.once('exit', () => exitedAt.set(op, Date.now()));
  return op;
}
const exitedAt = new Map<RunningOperator, number>();
const leads = (o: RunningOperator): boolean => o.output().includes('"became the leader"');
/** The operator's identity, as it logs it and puts it in its User-Agent. */
function identityOf(o: RunningOperator): string | undefined {
  return /"identity":"([^"]+)"/.exec(o.output())?.[1];
}
/** When the operator logged the first line containing `text` (its own clock: the machine's). */
function loggedAt(o: RunningOperator, text: string): number | undefined {
  const line = o
    .output()
    .split('\n')
    .find((l) => l.includes(text));
  return line ? Date.parse((JSON.parse(line) as { timestamp: string }).timestamp) : undefined;
}
/** The Lease's holder. */
async function holder(): Promise<string | undefined> {
  const out = await kubectlOk([
    'get',
    'lease',
    'modelship',
    '-n',
    ns.name,
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
  return out || undefined;
}
/** The apiserver's URL, from the cluster's kubeconfig. */
const apiserver = (): string => /server: (\S+)/.exec(readFileSync(clusterEnv().kubeconfig, 'utf8'))![1]!;
const exited = (o: RunningOperator): boolean => o.proc.exitCode !== null || o.proc.signalCode !== null;
const show = (ws: AuditWrite[]): string =>
  ws
    .map(
      (w) =>
        `${new Date(w.receivedAt).toISOString()} ${w.verb} ${w.resource}${w.subresource ? '/' + w.subresource : ''} ${w.name ?? ''} ${w.code ?? ''}`,
    )
    .join('\n');

test('a leader frozen mid-canary is replaced, and once thawed it exits without one more write', async () => {
  const a = start();
  await waitFor('a leads', async () => leads(a), { timeoutMs: 30_000 });
  const b = start();
  await waitFor('b campaigns', async () => (identityOf(b) ? true : undefined), { timeoutMs: 30_000 });
  const idA = identityOf(a)!;
  const idB = identityOf(b)!;
  expect(idA).not.toBe(idB);

  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await apply(ns.name, modelVersion(MD, v));
  await apply(
    ns.name,
    canaryModelDeployment({
      name: MD,
      version: '1.0.0',
      steps: [{ setWeight: 50 }, { pause: { duration: '10s' } }],
    }),
  );
  await waitReady(ns.name, MD);
  const fromByte = auditLogSize(runDir);
  await apply(
    ns.name,
    canaryModelDeployment({
      name: MD,
      version: '1.1.0',
      steps: [{ setWeight: 50 }, { pause: { duration: '10s' } }],
    }),
  );
  await waitFor(
    'the 1.1.0 canary in its timed pause',
    async () => {
      const s = (await getMd(ns.name, MD)).status;
      return s?.canaryVersion === '1.1.0' && (s.canaryWeight ?? 0) > 0;
    },
    { timeoutMs: 60_000 },
  );
  // The audit log tells the leader's writes by its User-Agent: it wrote the canary.
  expect(auditWrites(runDir, undefined, { fromByte, userAgent: idA }).length).toBeGreaterThan(0);

  // Frozen in the pause: its re-queue at the end of the pause is due while it cannot run.
  const stoppedAt = Date.now();
  a.proc.kill('SIGSTOP');
  let thawedAt = 0;
  try {
    await waitFor('b takes over', async () => leads(b), { timeoutMs: 40_000 });
    const handover = Date.now() - stoppedAt;
    // The standby's Lease write that took over, as the apiserver received it.
    const takeover = auditWrites(runDir, undefined, { fromByte, userAgent: idB }).find(
      (w) => w.resource === 'leases' && (w.code ?? 0) < 300,
    );
    expect(takeover).toBeDefined();
    await waitFor(
      '1.1.0 promoted by the new leader',
      async () => (await getMd(ns.name, MD)).status?.stableVersion === '1.1.0',
      { timeoutMs: 60_000 },
    );
    // New work, delivered to both while neither runs; the old leader wakes up first.
    b.proc.kill('SIGSTOP');
    try {
      await apply(ns.name, canaryModelDeployment({ name: MD, version: '1.2.0', steps: [{ setWeight: 50 }] }));
      await sleep(1000);
      a.proc.kill('SIGCONT');
      thawedAt = Date.now();
      await waitFor('a exits', async () => exited(a), { timeoutMs: 15_000 });
    } finally {
      b.proc.kill('SIGCONT');
    }
    const stopAfterThaw = exitedAt.get(a)! - thawedAt;
    expect(a.proc.exitCode).toBe(1);
    expect(a.output()).toContain('"leader election lost');
    expect(leads(b) && !exited(b)).toBe(true);

    // The new leader finishes the work: 1.2.0 serves, one revision per version.
    await waitFor(
      '1.2.0 promoted by the new leader',
      async () => {
        const m = await getMd(ns.name, MD);
        return m.status?.stableVersion === '1.2.0' && !m.status.canaryRevision;
      },
      { timeoutMs: 60_000 },
    );
    await waitReady(ns.name, MD);
    expect((await revisions(ns.name, MD)).map((r) => r.version).sort()).toEqual(['1.0.0', '1.1.0', '1.2.0']);

    // Not one write from the old leader reached the apiserver after the takeover (a has exited, so
    // every request it ever sent has been answered and logged).
    const late = auditWrites(runDir, undefined, { fromByte, userAgent: idA }).filter(
      (w) => w.receivedAt >= takeover!.receivedAt,
    );
    if (late.length)
      process.stderr.write(`fencing.test: writes by the old leader after the takeover:\n${show(late)}\n`);
    expect(show(late)).toBe('');
    process.stderr.write(
      `fencing.test: SIGSTOP to takeover ${handover} ms; SIGCONT to the old leader's exit ${stopAfterThaw} ms\n`,
    );
  } finally {
    if (!thawedAt) a.proc.kill('SIGCONT');
  }
}, 180_000);

test('a leader frozen past its renew deadline, though nobody took its place, steps down on waking without a write', async () => {
  // The first test's operators go first (SIGTERM releases the Lease).
  for (const o of running) await o.stop();
  const M = 'nap';
  const a = start();
  await waitFor('a leads', async () => leads(a), { timeoutMs: 30_000 });
  const b = start();
  await waitFor('b campaigns', async () => (identityOf(b) ? true : undefined), { timeoutMs: 30_000 });
  const idA = identityOf(a)!;
  for (const v of ['3.0.0', '3.1.0']) await apply(ns.name, modelVersion(M, v));
  // Paused until promoted: whoever leads, the canary holds its step.
  const steps = [{ setWeight: 50 }, { pause: {} }];
  await apply(ns.name, canaryModelDeployment({ name: M, version: '3.0.0', steps }));
  await waitReady(ns.name, M);
  await apply(ns.name, canaryModelDeployment({ name: M, version: '3.1.0', steps }));
  await waitFor(
    'the 3.1.0 canary paused',
    async () => {
      const st = (await getMd(ns.name, M)).status;
      return st?.canaryVersion === '3.1.0' && (st.canaryWeight ?? 0) > 0;
    },
    { timeoutMs: 60_000 },
  );

  const fromByte = auditLogSize(runDir);
  a.proc.kill('SIGSTOP');
  let thawedAt = 0;
  try {
    // Longer than the renew deadline since its last renewal began (10 s), and short enough that the
    // standby cannot have taken over when it wakes: the standby waits 15 s from when it saw that
    // renewal, which began at most one retry period (2 s) before the freeze.
    await sleep(10_500);
    // The Lease is still the frozen leader's: a standby waits a whole lease duration (15 s).
    expect(await holder()).toBe(idA);
    // Work waiting for it as it wakes: the canary is promoted.
    await promote(ns.name, M);
    thawedAt = Date.now();
    a.proc.kill('SIGCONT');
  } finally {
    if (!thawedAt) a.proc.kill('SIGCONT');
  }
  await waitFor('a exits', async () => exited(a), { timeoutMs: 15_000 });
  const stopAfterThaw = exitedAt.get(a)! - thawedAt;
  expect(a.proc.exitCode).toBe(1);
  expect(a.output()).toMatch(/"reason":"the Lease was not renewed within the renew deadline \(10\.0 s\)/);
  await waitFor('b takes over', async () => leads(b), { timeoutMs: 30_000 });
  await waitFor(
    '3.1.0 promoted by the new leader',
    async () => {
      const m = await getMd(ns.name, M);
      return m.status?.stableVersion === '3.1.0' && !m.status.canaryRevision;
    },
    { timeoutMs: 60_000 },
  );
  // Nothing from the old leader once it woke up: not its renewal, not the promotion.
  const late = auditWrites(runDir, undefined, { fromByte, userAgent: idA }).filter(
    (w) => w.receivedAt >= thawedAt,
  );
  expect(show(late)).toBe('');
  process.stderr.write(`fencing.test: 10.5 s freeze: SIGCONT to the old leader's exit ${stopAfterThaw} ms\n`);
}, 180_000);

test('a leader cut off from the apiserver stops at its renew deadline, before the standby may take over', async () => {
  // The first test's operators go first (SIGTERM releases the Lease).
  for (const o of running) await o.stop();
  const M = 'cut';
  const partition = await Partition.to(apiserver());
  const dir = mkdtempSync(join(tmpdir(), 'modelship-fence-'));
  try {
    const a = start([
      '--kubeconfig',
      kubeconfigVia(clusterEnv().kubeconfig, join(dir, 'kubeconfig'), partition),
    ]);
    await waitFor('a leads', async () => leads(a), { timeoutMs: 30_000 });
    const b = start();
    await waitFor('b campaigns', async () => (identityOf(b) ? true : undefined), { timeoutMs: 30_000 });
    for (const v of ['2.0.0', '2.1.0']) await apply(ns.name, modelVersion(M, v));
    const steps = [{ setWeight: 50 }, { pause: { duration: '10s' } }];
    await apply(ns.name, canaryModelDeployment({ name: M, version: '2.0.0', steps }));
    await waitReady(ns.name, M);
    await apply(ns.name, canaryModelDeployment({ name: M, version: '2.1.0', steps }));
    await waitFor(
      'the 2.1.0 canary in its timed pause',
      async () => {
        const st = (await getMd(ns.name, M)).status;
        return st?.canaryVersion === '2.1.0' && (st.canaryWeight ?? 0) > 0;
      },
      { timeoutMs: 60_000 },
    );

    // Cut in the pause: the leader's renewals and its writes at the end of the pause go nowhere,
    // and no error comes back to tell it.
    const cutAt = Date.now();
    partition.cut();
    await waitFor('a exits', async () => exited(a), { timeoutMs: 30_000 });
    await waitFor('b takes over', async () => leads(b), { timeoutMs: 30_000 });
    expect(a.proc.exitCode).toBe(1);
    const stoppedAt = loggedAt(a, '"leader election lost')!;
    const tookOverAt = loggedAt(b, '"became the leader"')!;
    expect(a.output()).toMatch(/"reason":"the Lease was not renewed within the renew deadline \(10\.0 s\)/);
    // The old leader had stopped before the standby could take the Lease: never two writers.
    expect(stoppedAt).toBeLessThan(tookOverAt);

    await waitFor(
      '2.1.0 promoted by the new leader',
      async () => {
        const m = await getMd(ns.name, M);
        return m.status?.stableVersion === '2.1.0' && !m.status.canaryRevision;
      },
      { timeoutMs: 60_000 },
    );
    await waitReady(ns.name, M);
    expect((await revisions(ns.name, M)).map((r) => r.version).sort()).toEqual(['2.0.0', '2.1.0']);
    process.stderr.write(
      `fencing.test: cut to the old leader's stop ${stoppedAt - cutAt} ms; cut to the takeover ` +
        `${tookOverAt - cutAt} ms (the old leader stopped ${tookOverAt - stoppedAt} ms before)\n`,
    );
  } finally {
    await partition.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
