import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { clusterEnv, repoRoot } from './env.js';

export interface RunningOperator {
  proc: ChildProcess;
  /** Everything the operator printed so far (JSON log lines). */
  output(): string;
  /** The address of /healthz, /readyz and /metrics, once the operator has logged it. */
  address(): string | undefined;
  /** SIGTERM (graceful) or SIGKILL; resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the built operator (`node dist/main.js`, what the image runs) against the local cluster as
 * a real process, so tests can kill it (SIGKILL) and start it again. The jest global setup builds dist/.
 */
export function startOperator(args: string[] = [], env: NodeJS.ProcessEnv = {}): RunningOperator {
  const proc = spawn(
    process.execPath,
    [
      join(repoRoot, 'dist', 'main.js'),
      '--kubeconfig',
      clusterEnv().kubeconfig,
      '--log-format',
      'json',
      // Any free port: several operators may run at once (leader election, parallel test runs).
      '--listen',
      '127.0.0.1:0',
      // Plain http, /metrics open to the test on loopback; test/e2e/metrics.test.ts turns the
      // token review (the default) back on with a later --metrics-auth.
      '--metrics-auth=none',
      // kwok's pods run no server at their IPs: the checks that call a revision's pods are off
      // unless a test turns them on (test/e2e/smoke.test.ts, on the real data plane).
      '--pre-traffic-checks=false',
      ...args,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    address: () => /"address":"([^"]+)"/.exec(out)?.[1],
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
