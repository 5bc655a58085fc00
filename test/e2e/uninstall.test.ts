/**
 * Uninstalling strands nothing, on the real apiserver. Every ModelVersion carries the operator's
 * modelship.io/in-use-protection finalizer; with the operator stopped, nothing removes it:
 * - deleting a namespace that holds one then hangs (shown first, as it is without the fix), and
 *   `kubectl modelship release-finalizers` (what docs/operations.md says to run after
 *   `kubectl delete -f deploy/`) lets the deletion finish;
 * - `helm uninstall` runs the chart's post-delete hook Job, which runs that same command from the
 *   image with an account of its own; deleting the namespaces afterwards completes. kwok runs no
 *   container, so this test plays the kubelet for the hook's pod: it runs the pod's command
 *   (the image's `node dist/plugin/main.js ...`, here the built dist/) with a token of the pod's
 *   ServiceAccount, and reports the pod Succeeded; helm waits for the Job as it would on a cluster.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { ModelVersion } from '../../src/api/index.js';
import { clusterEnv, repoRoot } from '../harness/env.js';
import {
  kubeConfig,
  kubectl,
  kubectlOk,
  run,
  tempNamespace,
  waitFor,
  writeTokenKubeconfig,
  type RunResult,
} from '../harness/kube.js';
import {
  TEST_TIMEOUT_MS,
  apply,
  canaryModelDeployment,
  getObject,
  modelVersion,
  saveLog,
  startE2EOperator,
  waitReady,
  type Operator,
} from '../harness/e2e.js';

const FINALIZER = 'modelship.io/in-use-protection';
const PLUGIN = join(repoRoot, 'dist', 'plugin', 'main.js');
const CHART = join(repoRoot, 'charts', 'modelship');
let dir: string;
const operators: Operator[] = [];
const namespaces: string[] = [];

const plugin = (args: string[], kubeconfig = clusterEnv().kubeconfig) =>
  run(process.execPath, [PLUGIN, '--kubeconfig', kubeconfig, ...args]);

async function namespaceGone(name: string): Promise<boolean> {
  const r = await kubectl(['get', 'namespace', name, '-o', 'name']);
  return r.code !== 0 && /NotFound|not found/.test(r.stderr);
}

/** A namespace whose ModelVersions carry the finalizer: a real operator put it there, then stopped. */
async function protectedNamespace(prefix: string): Promise<string> {
  const ns = await tempNamespace(prefix);
  namespaces.push(ns.name);
  await apply(ns.name, modelVersion('iris', '1.0.0'));
  await apply(ns.name, modelVersion('iris', '2.0.0'));
  const op = startE2EOperator(ns.name);
  operators.push(op);
  await apply(ns.name, canaryModelDeployment({ name: 'iris', version: '1.0.0', steps: [], replicas: 1 }));
  await waitReady(ns.name, 'iris');
  await waitFor(`the finalizer on both versions in ${ns.name}`, async () => {
    for (const v of ['1.0.0', '2.0.0']) {
      const mv = await getObject<ModelVersion>(ns.name, 'modelversion', `iris-${v}`);
      if (!mv?.metadata?.finalizers?.includes(FINALIZER)) return false;
    }
    return true;
  });
  await op.stop();
  return ns.name;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelship-uninstall-'));
});
afterAll(async () => {
  if (operators.length)
    process.stderr.write(`uninstall.test operator logs: ${saveLog('uninstall', operators)}\n`);
  for (const o of operators) await o.stop();
  // Whatever a failed test left behind must not hang the next run.
  for (const ns of namespaces) {
    await plugin(['release-finalizers', '-n', ns]);
    await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  }
  rmSync(dir, { recursive: true, force: true });
}, TEST_TIMEOUT_MS);

test(
  'with the operator stopped, a namespace deletion hangs on the finalizer; release-finalizers ends it',
  async () => {
    const ns = await protectedNamespace('e2e-uninst');
    await kubectlOk(['delete', 'namespace', ns, '--wait=false']);
    // The namespace controller says what it waits for.
    const stuck = await waitFor(
      `namespace ${ns} to report the ModelVersions' finalizer`,
      async () => {
        const n = JSON.parse(await kubectlOk(['get', 'namespace', ns, '-o', 'json'])) as {
          status?: { conditions?: Array<{ type: string; status: string; message: string }> };
        };
        const c = n.status?.conditions?.find((x) => x.type === 'NamespaceFinalizersRemaining');
        return c?.status === 'True' && c.message.includes(FINALIZER) && c;
      },
      { timeoutMs: 60_000 },
    );
    expect(stuck.message).toContain(`${FINALIZER} in 2 resource instances`);
    expect(await namespaceGone(ns)).toBe(false);

    const r = await plugin(['release-finalizers', '-n', ns]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      `Removed ${FINALIZER} from 2 ModelVersion(s):`,
      `  ${ns}/iris-1.0.0`,
      `  ${ns}/iris-2.0.0`,
      '',
    ]);
    await waitFor(`namespace ${ns} gone`, () => namespaceGone(ns), { timeoutMs: 60_000 });
  },
  TEST_TIMEOUT_MS,
);

/** The pod of the hook Job, once it exists and kwok has started it. */
async function hookPod(ns: string, release: string): Promise<V1Pod> {
  return waitFor(
    'the post-delete hook pod',
    async () => {
      const list = JSON.parse(
        await kubectlOk([
          'get',
          'pods',
          '-n',
          ns,
          '-l',
          `app.kubernetes.io/instance=${release},app.kubernetes.io/component=uninstall`,
          '-o',
          'json',
        ]),
      ) as { items: V1Pod[] };
      return list.items.find((p) => p.status?.podIP) ?? false;
    },
    { timeoutMs: 60_000 },
  );
}

/** Plays the kubelet: runs each container's command as the pod's account, reports the pod's end. */
async function runHookPod(pod: V1Pod): Promise<RunResult[]> {
  const ns = pod.metadata!.namespace!;
  const sa = pod.spec!.serviceAccountName!;
  const token = (await kubectlOk(['create', 'token', sa, '-n', ns, '--duration=10m'])).trim();
  const kubeconfig = writeTokenKubeconfig(join(dir, `${sa}.kubeconfig`), kubeConfig(), sa, token);
  const results: RunResult[] = [];
  for (const c of pod.spec!.containers) {
    const [node, script, ...args] = c.command!;
    // What the image runs: its node, and the plugin the image's dist/ carries.
    expect({ node, script }).toEqual({ node: '/nodejs/bin/node', script: 'dist/plugin/main.js' });
    results.push(await run(process.execPath, [join(repoRoot, script!), ...args, '--kubeconfig', kubeconfig]));
  }
  const ok = results.every((r) => r.code === 0);
  const now = new Date().toISOString();
  await kubectlOk([
    'patch',
    'pod',
    pod.metadata!.name!,
    '-n',
    ns,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({
      status: {
        phase: ok ? 'Succeeded' : 'Failed',
        conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }],
        containerStatuses: pod.spec!.containers.map((c, i) => ({
          name: c.name,
          image: c.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode: results[i]!.code ?? 1,
              reason: results[i]!.code === 0 ? 'Completed' : 'Error',
              startedAt: now,
              finishedAt: now,
            },
          },
        })),
      },
    }),
  ]);
  return results;
}

test('helm uninstall releases the finalizers (post-delete hook); deleting the namespaces then completes', async () => {
  const helmBin = execFileSync('bash', [join(repoRoot, 'hack', 'tools', 'helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const helmHome = join(dir, 'helm');
  const helm = (args: string[]) =>
    run(helmBin, args, {
      env: {
        ...process.env,
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_DATA_HOME: join(helmHome, 'data'),
        KUBECONFIG: clusterEnv().kubeconfig,
      },
    });
  const models = await protectedNamespace('e2e-uninst-models');
  const ops = await tempNamespace('e2e-uninst-ops');
  namespaces.push(ops.name);
  const release = `ms-${Math.random().toString(36).slice(2, 8)}`;
  const installed = await helm([
    'install',
    release,
    CHART,
    '--namespace',
    ops.name,
    '--skip-crds',
    '--set',
    'replicas=1',
    '--wait',
    '--timeout',
    '90s',
  ]);
  expect({ code: installed.code, stderr: installed.stderr }).toEqual({ code: 0, stderr: '' });

  const uninstalling = helm(['uninstall', release, '--namespace', ops.name, '--wait', '--timeout', '90s']);
  const pod = await hookPod(ops.name, release);
  // By then helm has deleted the operator: the hook runs after it, so nothing adds the finalizer back.
  expect((await kubectl(['get', 'deployment', `${release}-modelship`, '-n', ops.name])).code).not.toBe(0);
  const ran = await runHookPod(pod);
  expect(ran.map((r) => r.code)).toEqual([0]);
  expect(ran[0]!.stdout).toContain(`${models}/iris-1.0.0`);
  const done = await uninstalling;
  expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: '' });

  for (const v of ['1.0.0', '2.0.0'])
    expect(
      (await getObject<ModelVersion>(models, 'modelversion', `iris-${v}`))?.metadata?.finalizers ?? [],
    ).not.toContain(FINALIZER);
  // The hook's own objects went with it (hook-succeeded), cluster-wide ones included.
  for (const [kind, namespaced] of [
    ['job', true],
    ['serviceaccount', true],
    ['clusterrole', false],
    ['clusterrolebinding', false],
  ] as const) {
    const r = await kubectl([
      'get',
      kind,
      `${release}-modelship-release-finalizers`,
      ...(namespaced ? ['-n', ops.name] : []),
    ]);
    expect({ kind, gone: r.code !== 0 }).toEqual({ kind, gone: true });
  }
  for (const ns of [models, ops.name]) {
    await kubectlOk(['delete', 'namespace', ns, '--wait=false']);
    await waitFor(`namespace ${ns} gone`, () => namespaceGone(ns), { timeoutMs: 60_000 });
  }
}, 240_000);
