/**
 * The local control plane itself: the parts every other integration test leans on. Pods must be
 * scheduled and become Ready through kube-scheduler + kube-controller-manager + kwok, RBAC must be
 * enforced, and the test-only faults must look to a reader of Pod status like the real thing.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterEnv, clusterScripts } from '../harness/env.js';
import * as k8s from '@kubernetes/client-node';
import { kubeConfig, kubectl, kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';

interface PodList {
  items: Array<{
    metadata: { name: string };
    spec: { nodeName?: string };
    status: {
      phase?: string;
      conditions?: Array<{ type: string; status: string }>;
      containerStatuses?: Array<{
        restartCount: number;
        ready: boolean;
        state?: { waiting?: { reason?: string }; running?: object };
      }>;
    };
  }>;
}

const deployment = (name: string, replicas: number, annotations: Record<string, string> = {}): string =>
  JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { containers: [{ name: 'server', image: 'example.invalid/server:1' }] },
      },
    },
  });

async function pods(ns: string, app: string): Promise<PodList['items']> {
  const out = await kubectlOk(['get', 'pods', '-n', ns, '-l', `app=${app}`, '-o', 'json']);
  return (JSON.parse(out) as PodList).items;
}

let ns: Awaited<ReturnType<typeof tempNamespace>>;
beforeAll(async () => {
  ns = await tempNamespace('cluster');
  // Pods need the namespace's default ServiceAccount, which kube-controller-manager creates.
  await waitFor(
    'default ServiceAccount',
    async () => (await kubectl(['get', 'sa', 'default', '-n', ns.name])).code === 0,
  );
});
afterAll(async () => ns.remove());

test('fake nodes are Ready and half of them advertise GPUs', async () => {
  const out = JSON.parse(await kubectlOk(['get', 'nodes', '-l', 'type=kwok', '-o', 'json'])) as {
    items: Array<{
      status: { capacity: Record<string, string>; conditions: Array<{ type: string; status: string }> };
    }>;
  };
  expect(out.items.length).toBeGreaterThanOrEqual(2);
  for (const n of out.items) expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  expect(out.items.filter((n) => n.status.capacity['nvidia.com/gpu'] === '4').length).toBeGreaterThanOrEqual(
    1,
  );
});

test('a Deployment gets scheduled, Running and Available', async () => {
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], deployment('web', 2));
  await kubectlOk(['rollout', 'status', '-n', ns.name, 'deployment/web', '--timeout=60s']);
  const ps = await pods(ns.name, 'web');
  expect(ps).toHaveLength(2);
  for (const p of ps) {
    expect(p.spec.nodeName).toMatch(/^kwok-node-/);
    expect(p.status.phase).toBe('Running');
    expect(p.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  }
});

test('fault never-ready: pods run but never pass readiness', async () => {
  await kubectlOk(
    ['apply', '-n', ns.name, '-f', '-'],
    deployment('never', 1, { 'fault.modelship.test/mode': 'never-ready' }),
  );
  const [p] = await waitFor('a Running never-ready pod', async () => {
    const ps = await pods(ns.name, 'never');
    return ps.length === 1 && ps[0]!.status.phase === 'Running' ? ps : undefined;
  });
  expect(p!.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  expect(p!.status.containerStatuses?.[0]?.ready).toBe(false);
});

test('fault crashloop: CrashLoopBackOff with a rising restart count', async () => {
  await kubectlOk(
    ['apply', '-n', ns.name, '-f', '-'],
    deployment('crash', 1, { 'fault.modelship.test/mode': 'crashloop' }),
  );
  const restarts = await waitFor(
    'restartCount >= 3',
    async () => {
      const ps = await pods(ns.name, 'crash');
      const cs = ps[0]?.status.containerStatuses?.[0];
      return cs && cs.restartCount >= 3 ? cs : undefined;
    },
    { timeoutMs: 30000 },
  );
  expect(restarts.state?.waiting?.reason).toBe('CrashLoopBackOff');
  expect(restarts.ready).toBe(false);
});

test('fault image-pull: ImagePullBackOff, Pending', async () => {
  await kubectlOk(
    ['apply', '-n', ns.name, '-f', '-'],
    deployment('pull', 1, { 'fault.modelship.test/mode': 'image-pull' }),
  );
  const p = await waitFor('an ImagePullBackOff pod', async () => {
    const ps = await pods(ns.name, 'pull');
    return ps[0]?.status.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff'
      ? ps[0]
      : undefined;
  });
  expect(p.status.phase).toBe('Pending');
});

test('deleted pods go away (kwok plays the kubelet that confirms deletion)', async () => {
  await kubectlOk(['scale', '-n', ns.name, 'deployment/web', '--replicas=0']);
  await waitFor('no web pods', async () => (await pods(ns.name, 'web')).length === 0);
});

test('RBAC is enforced: a ServiceAccount token without a role is forbidden', async () => {
  await kubectlOk(['create', 'serviceaccount', 'nobody', '-n', ns.name]);
  const token = (await kubectlOk(['create', 'token', 'nobody', '-n', ns.name, '--duration=10m'])).trim();
  const admin = kubeConfig();
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [admin.getCurrentCluster()!],
    users: [{ name: 'nobody', token }],
    contexts: [{ name: 'nobody', cluster: admin.getCurrentCluster()!.name, user: 'nobody' }],
    currentContext: 'nobody',
  });
  const err = await kc
    .makeApiClient(k8s.CoreV1Api)
    .listNamespacedPod({ namespace: ns.name })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(k8s.ApiException);
  expect((err as k8s.ApiException<string>).code).toBe(403);
  expect(String((err as k8s.ApiException<string>).body)).toContain(`system:serviceaccount:${ns.name}:nobody`);
});

test('cluster:up on a running cluster is a no-op that prints the kubeconfig path', () => {
  const out = execFileSync('bash', [join(clusterScripts, 'up.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  expect(out.trim()).toBe(clusterEnv().kubeconfig);
});

test('a second cluster on other ports starts, and cluster:down leaves no process behind', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'modelship-run-'));
  const env = {
    ...process.env,
    MODELSHIP_RUN_DIR: runDir,
    MODELSHIP_APISERVER_PORT: '17443',
    MODELSHIP_ETCD_PORT: '13379',
    MODELSHIP_KCM_PORT: '17444',
    MODELSHIP_SCHEDULER_PORT: '17445',
    MODELSHIP_KWOK_PORT: '17446',
    MODELSHIP_NODES: '1',
  };
  const run = (script: string): string =>
    execFileSync('bash', [join(clusterScripts, script)], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  // pgrep exits 1 when nothing matches; it never lists itself.
  const procs = (): string => spawnSync('pgrep', ['-f', '--', runDir], { encoding: 'utf8' }).stdout.trim();
  try {
    expect(run('up.sh').trim()).toBe(join(runDir, 'kubeconfig'));
    expect(procs().split('\n')).toHaveLength(5);
  } finally {
    run('down.sh');
  }
  expect(procs()).toBe('');
  rmSync(runDir, { recursive: true, force: true });
});

test("cluster:down's sweep of stray processes spares another cluster whose run directory starts the same", async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'modelship-run-'));
  // A process whose command line looks like an etcd of the cluster in `${runDir}-other`, as
  // ~/.cache/modelship/run-dataplane looks to the default run directory ~/.cache/modelship/run.
  const decoy = spawn('bash', [
    '-c',
    `exec -a "${clusterEnv().binDir}/etcd --data-dir=${runDir}-other/etcd-data" sleep 60`,
  ]);
  try {
    await waitFor(
      'the decoy',
      async () =>
        spawnSync('pgrep', ['-f', '--', `${runDir}-other/`], { encoding: 'utf8' }).stdout.trim() !== '',
    );
    execFileSync('bash', [join(clusterScripts, 'down.sh')], {
      env: { ...process.env, MODELSHIP_RUN_DIR: runDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Still running: not gone, and not a zombie waiting for us to reap it.
    const state = readFileSync(`/proc/${decoy.pid}/stat`, 'utf8').split(') ')[1]?.[0];
    expect(state).not.toBe('Z');
  } finally {
    decoy.kill('SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  }
});
