/**
 * The operator's own endpoints on a real rollout: /healthz, /readyz, and /metrics counting what
 * happened (a promotion, an automatic rollback with its reason and time to safe, the weights).
 */
import http from 'node:http';
import { kubectlOk, releaseAll, tempNamespace, waitFor } from '../harness/kube.js';
import { fakeDigest } from '../harness/objects.js';
import { startOperator, type RunningOperator } from '../harness/operator.js';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: RunningOperator;
beforeAll(async () => {
  ns = await tempNamespace('metrics');
  op = startOperator(['--unready-grace', '2s', '--namespaces', ns.name]);
});
afterAll(async () => {
  // Delete while the operator runs, so it releases the ModelVersions' in-use finalizer.
  await releaseAll(ns.name);
  await op.stop();
  await ns.remove();
});

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const addr = op.address();
    if (!addr) return resolve({ status: 0, body: '' });
    http
      .get(`http://${addr}${path}`, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** The value of one sample, e.g. sample(text, 'modelship_rollbacks_total', {reason: 'CrashLoopBackOff'}). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(' ').at(-1));
  }
  return undefined;
}

const mv = (version: string) =>
  JSON.stringify({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: `iris-${version}` },
    spec: {
      model: 'iris',
      version,
      runtime: 'triton',
      format: 'onnx',
      storageUri: `s3://m/iris/${version}/model.onnx`,
      digest: fakeDigest(`s3://m/iris/${version}/model.onnx`),
    },
  });
const md = (version: string, fault?: string) =>
  JSON.stringify({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'iris' },
    spec: {
      model: 'iris',
      version,
      replicas: 2,
      ...(fault ? { pod: { annotations: { 'fault.modelship.test/mode': fault } } } : {}),
      strategy: { canary: { steps: [{ setWeight: 50 }], scaleDownDelaySeconds: 0 } },
    },
  });
const phase = async () =>
  (
    await kubectlOk([
      'get',
      'md',
      'iris',
      '-n',
      ns.name,
      '-o',
      'jsonpath={.status.phase}/{.status.stableVersion}',
    ])
  ).trim();

test('healthz, readyz and metrics tell what happened', async () => {
  await waitFor('readyz 200', async () => (await get('/readyz')).status === 200, { timeoutMs: 30_000 });
  expect((await get('/healthz')).status).toBe(200);
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await kubectlOk(['apply', '-n', ns.name, '-f', '-'], mv(v));
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], md('1.0.0'));
  await waitFor('1.0.0 Healthy', async () => (await phase()) === 'Healthy/1.0.0', { timeoutMs: 60_000 });
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], md('1.1.0'));
  await waitFor('1.1.0 Healthy', async () => (await phase()) === 'Healthy/1.1.0', { timeoutMs: 60_000 });
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], md('1.2.0', 'crashloop'));
  await waitFor('1.2.0 RolledBack', async () => (await phase()) === 'RolledBack/1.1.0', {
    timeoutMs: 60_000,
  });

  const text = (await get('/metrics')).body;
  expect(sample(text, 'modelship_rollbacks_total', { namespace: ns.name, reason: 'CrashLoopBackOff' })).toBe(
    1,
  );
  expect(sample(text, 'modelship_rollouts_total', { namespace: ns.name, result: 'Promoted' })).toBe(2);
  expect(sample(text, 'modelship_rollouts_total', { namespace: ns.name, result: 'RolledBack' })).toBe(1);
  // One observation (its size is for the benchmarks, not for a test on a shared machine).
  expect(sample(text, 'modelship_time_to_safe_seconds_count')).toBe(1);
  expect(sample(text, 'modelship_time_to_safe_seconds_sum')).toBeGreaterThan(0);
  expect(sample(text, 'modelship_traffic_weight', { namespace: ns.name, version: '1.1.0' })).toBe(100);
  expect(sample(text, 'modelship_traffic_weight', { namespace: ns.name, version: '1.2.0' })).toBeUndefined();
  expect(
    sample(text, 'controller_runtime_reconcile_total', { controller: 'modeldeployment', result: 'success' }),
  ).toBeGreaterThan(0);
  expect(sample(text, 'workqueue_adds_total', { name: 'modeldeployment' })).toBeGreaterThan(0);
  expect(sample(text, 'modelship_leader')).toBe(1);
  expect(text).toContain('process_resident_memory_bytes');
});
