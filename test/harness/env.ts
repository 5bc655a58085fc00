import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const clusterScripts = join(repoRoot, 'hack', 'cluster');

export interface ClusterEnv {
  binDir: string;
  runDir: string;
  kubeconfig: string;
  kubectl: string;
}

/**
 * Where the local cluster lives: from the environment the jest global setup exports, else as
 * hack/cluster/versions.sh says (one source for versions and paths).
 */
export function clusterEnv(): ClusterEnv {
  const e = process.env;
  if (e.MODELSHIP_BIN_DIR && e.MODELSHIP_RUN_DIR && e.MODELSHIP_KUBECONFIG && e.MODELSHIP_KUBECTL) {
    return {
      binDir: e.MODELSHIP_BIN_DIR,
      runDir: e.MODELSHIP_RUN_DIR,
      kubeconfig: e.MODELSHIP_KUBECONFIG,
      kubectl: e.MODELSHIP_KUBECTL,
    };
  }
  const out = execFileSync('bash', [join(clusterScripts, 'env.sh')], { encoding: 'utf8' });
  const kv = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const get = (k: string): string => {
    const v = kv[k];
    if (!v) throw new Error(`hack/cluster/env.sh printed no ${k}`);
    return v;
  };
  return {
    binDir: get('MODELSHIP_BIN_DIR'),
    runDir: get('MODELSHIP_RUN_DIR'),
    kubeconfig: get('MODELSHIP_KUBECONFIG'),
    kubectl: get('MODELSHIP_KUBECTL'),
  };
}
