/**
 * Fencing: a leader that stops renewing its Lease must stop writing before a standby can take the
 * Lease over, and must never write again. Two operator processes with --leader-elect, each with its
 * own User-Agent (`modelship (…) <identity>`), so the apiserver's audit log
 * (hack/cluster/audit-policy.yaml: every write, with its user agent) tells their writes apart.
 *
 * The leader is frozen (SIGSTOP: what a long pause, a throttled container or a suspended VM look
 * like to everyone else) in the middle of a canary, while it has work pending (a timed pause).
 * The standby takes the Lease once it has gone unrenewed for a lease duration; then the ModelDeployment
 * changes and the old leader is thawed (SIGCONT) at once, so it wakes up with work in its queue and
 * new events on its watches: it must exit without one more write, and the apiserver must have
 * received no write from it after the takeover.
 */
import { clusterEnv } from '../harness/env.js';
import { auditLogSize, auditWrites, type AuditWrite } from '../harness/audit.js';
import {
  apply,
  canaryModelDeployment,
  endSuite,
  getMd,
  modelVersion,
  revisions,
  waitReady,
} from '../harness/e2e.js';
import { tempNamespace, waitFor } from '../harness/kube.js';
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
const leads = (o: RunningOperator): boolean => o.output().includes('"became the leader"');
/** The operator's identity, as it logs it and puts it in its User-Agent. */
function identityOf(o: RunningOperator): string | undefined {
  return /"identity":"([^"]+)"/.exec(o.output())?.[1];
}
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
    // New work for both: a new version, seen by the new leader and, as it wakes up, the old one.
    await apply(ns.name, canaryModelDeployment({ name: MD, version: '1.2.0', steps: [{ setWeight: 50 }] }));
    a.proc.kill('SIGCONT');
    thawedAt = Date.now();
    await waitFor('a exits', async () => exited(a), { timeoutMs: 15_000 });
    const stopAfterThaw = Date.now() - thawedAt;
    expect(a.proc.exitCode).toBe(1);
    expect(a.output()).toContain('"leader election lost');

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
