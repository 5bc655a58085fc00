/**
 * /healthz tells a stuck operator from a live one. The operator (no leader election) reaches the
 * apiserver through a proxy that, once cut, drops every byte and closes nothing: the reconcile due
 * at the end of a canary pause sends its writes into the void and waits on them (a long
 * --request-timeout keeps it waiting), while the process itself is well and answers HTTP. With a
 * short --stall-timeout, /healthz must turn 503 and say which queue is stuck; before the cut it
 * answers 200 while the operator works.
 */
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterEnv } from '../harness/env.js';
import { apply, canaryModelDeployment, getMd, modelVersion, waitReady } from '../harness/e2e.js';
import { releaseAll, tempNamespace, waitFor } from '../harness/kube.js';
import { startOperator, type RunningOperator } from '../harness/operator.js';
import { kubeconfigVia, Partition } from '../harness/partition.js';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: RunningOperator | undefined;
beforeAll(async () => {
  ns = await tempNamespace('health');
});
afterAll(async () => {
  // The ModelVersions' in-use finalizer needs an operator that can reach the apiserver.
  const helper = startOperator(['--namespaces', ns.name, '--listen=']);
  await releaseAll(ns.name);
  await helper.stop();
  await ns.remove();
}, 90_000);

function healthz(o: RunningOperator): Promise<{ code: number; body: string }> {
  return new Promise((resolve) => {
    http
      .get(`http://${o.address()}/healthz`, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      })
      .on('error', (e) => resolve({ code: 0, body: e.message }));
  });
}

test('an operator whose reconciles hang on a dead connection is reported stuck by /healthz', async () => {
  const M = 'stuck';
  const server = /server: (\S+)/.exec(readFileSync(clusterEnv().kubeconfig, 'utf8'))![1]!;
  const partition = await Partition.to(server);
  const dir = mkdtempSync(join(tmpdir(), 'modelship-health-'));
  try {
    op = startOperator([
      '--kubeconfig',
      kubeconfigVia(clusterEnv().kubeconfig, join(dir, 'kubeconfig'), partition),
      '--namespaces',
      ns.name,
      '--stall-timeout',
      '3s',
      '--request-timeout',
      '5m',
    ]);
    await waitFor('the operator serves /healthz', async () => op!.address() !== undefined);
    for (const v of ['1.0.0', '1.1.0']) await apply(ns.name, modelVersion(M, v));
    const steps = [{ setWeight: 50 }, { pause: { duration: '8s' } }];
    await apply(ns.name, canaryModelDeployment({ name: M, version: '1.0.0', steps }));
    await waitReady(ns.name, M);
    await apply(ns.name, canaryModelDeployment({ name: M, version: '1.1.0', steps }));
    await waitFor(
      'the 1.1.0 canary in its timed pause',
      async () => {
        const st = (await getMd(ns.name, M)).status;
        return st?.canaryVersion === '1.1.0' && (st.canaryWeight ?? 0) > 0;
      },
      { timeoutMs: 60_000 },
    );
    // Working, and well: a busy queue that moves is healthy.
    expect(await healthz(op)).toEqual({ code: 200, body: 'ok' });

    partition.cut();
    // The pause ends (8 s), its reconcile hangs on its first write, and 3 s later /healthz says so.
    // (The ModelVersion queue, whose batched status writes hang too, may be named first.)
    const stuck = await waitFor(
      '/healthz to report the stuck queue',
      async () => {
        const h = await healthz(op!);
        return h.code === 503 && /\nqueue modeldeployment: /.test(h.body) ? h : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500 },
    );
    expect(stuck.body).toMatch(/^stuck:\n/);
    process.stderr.write(`health.test: /healthz while stuck: ${JSON.stringify(stuck.body)}\n`);
  } finally {
    await op?.stop('SIGKILL');
    await partition.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
