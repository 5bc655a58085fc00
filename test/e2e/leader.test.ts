/**
 * Leader election on a real Lease: of two replicas only the holder reconciles; a killed leader
 * (SIGKILL, no release) is replaced after the lease expires, a stopped one (SIGTERM, released) at
 * once; both replicas report ready (/readyz) whatever their role.
 */
import http from 'node:http';
import { kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';
import { startOperator, type RunningOperator } from '../harness/operator.js';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
const running: RunningOperator[] = [];
beforeAll(async () => {
  ns = await tempNamespace('leader');
});
afterAll(async () => {
  await Promise.all(running.map((o) => o.stop('SIGKILL')));
  await ns.remove();
});

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

test('one leader at a time; SIGKILL hands over within the lease, SIGTERM at once', async () => {
  const a = start();
  await waitFor('a leads', async () => leads(a), { timeoutMs: 30_000 });
  const b = start();
  await waitFor('b synced and ready', async () => (await readyz(b)) === 200, { timeoutMs: 30_000 });
  expect(await readyz(a)).toBe(200);
  expect(leads(b)).toBe(false);
  const first = await holder();
  expect(first).toBeDefined();

  // A killed leader cannot release: the standby waits out the 15 s lease, and not much longer.
  const killedAt = Date.now();
  await a.stop('SIGKILL');
  await waitFor('b leads', async () => leads(b), { timeoutMs: 30_000 });
  const handover = Date.now() - killedAt;
  expect(handover).toBeLessThan(20_000);
  expect(await holder()).not.toBe(first);

  // A leader stopped with SIGTERM drains and releases the lease: the next one takes it in about
  // one retry period (2 s).
  const c = start();
  await waitFor('c ready as standby', async () => (await readyz(c)) === 200, { timeoutMs: 30_000 });
  const stoppedAt = Date.now();
  expect(await b.stop('SIGTERM')).toBe(0);
  expect(b.output()).toContain('"lease released"');
  await waitFor('c leads', async () => leads(c), { timeoutMs: 15_000 });
  expect(Date.now() - stoppedAt).toBeLessThan(8_000);
});
