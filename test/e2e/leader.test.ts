/**
 * Leader election on a real Lease: of two replicas only the holder reconciles and writes; a leader
 * killed in the middle of a canary (SIGKILL, no release) is replaced after the lease expires and
 * the new leader finishes the rollout it found, without a second revision of the same version; a
 * stopped leader (SIGTERM, released) is replaced at once; both replicas report ready (/readyz)
 * whatever their role.
 */
import http from 'node:http';
import {
  apply,
  canaryModelDeployment,
  endSuite,
  getMd,
  modelVersion,
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
async function readyz(o: RunningOperator): Promise<number> {
  const addr = o.address();
  if (!addr) return 0;
  return new Promise((resolve) => {
    http
      .get(`http://${addr}/readyz`, (res) => {
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
