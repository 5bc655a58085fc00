import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dump } from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { clusterEnv } from './env.js';
import { run, type RunResult } from './process.js';

export { run, type RunResult };

/** Runs the cluster's own kubectl against the local cluster; never throws on a non-zero exit. */
export function kubectl(args: string[], input?: string): Promise<RunResult> {
  const { kubectl: bin, kubeconfig } = clusterEnv();
  return run(bin, ['--kubeconfig', kubeconfig, ...args], input === undefined ? {} : { input });
}

/** kubectl that must succeed; the error names the command and carries its stderr. */
export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterEnv().kubeconfig);
  return kc;
}

/** A fresh namespace for one test file; delete it with the returned function (does not wait). */
export async function tempNamespace(prefix: string): Promise<{ name: string; remove: () => Promise<void> }> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectlOk(['create', 'namespace', name]);
  return {
    name,
    remove: async () => {
      await kubectl(['delete', 'namespace', name, '--wait=false']);
    },
  };
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`
 * with the description and the last value seen. This bounds waiting for the world to reach a
 * state; it is not a performance assertion.
 */
export async function waitFor<T>(
  describe: string,
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 30000, intervalMs = 200 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe}; last: ${String(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Deletes every ModelDeployment and ModelVersion of a namespace and waits until they are gone.
 * Call it while an operator still runs: it removes the in-use finalizer of the ModelVersions.
 */
export async function releaseAll(namespace: string): Promise<void> {
  await kubectl([
    'delete',
    'modeldeployments,modelversions',
    '--all',
    '-n',
    namespace,
    '--wait=true',
    '--timeout=60s',
  ]);
}

/**
 * Writes a kubeconfig that authenticates with a bearer token only (a ServiceAccount's, from the
 * TokenRequest API), against the same server and CA as `base`: what an in-cluster operator has.
 */
export function writeTokenKubeconfig(
  file: string,
  base: k8s.KubeConfig,
  user: string,
  token: string,
): string {
  const cluster = base.getCurrentCluster()!;
  writeFileSync(
    file,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'local', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } },
      ],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user } }],
      'current-context': 'local',
    }),
    { mode: 0o600 },
  );
  return file;
}
