// What the reliability tests (test/reliability/) share: a seeded random source (every run logs its
// seed, so a failure can be replayed), kubectl and HTTP against any kubeconfig (the shared cluster or
// a second cluster of the test's own), a second control plane that a test may restart component by
// component, an operator identity of its own (a ServiceAccount token, so the audit log tells its
// writes apart), and a reader of the apiserver's audit log.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp } from '../../src/k8s/kube-http.js';
import { clusterEnv, clusterScripts, repoRoot } from './env.js';
import { run, writeTokenKubeconfig, type RunResult } from './kube.js';
import { startOperator } from './operator.js';
import { sleep, withLines, type Operator } from './e2e.js';

export { sleep };

// ---- seeded randomness ---------------------------------------------------------------------------

/** mulberry32: small, fast, good enough to drive fault timings; same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from $MODELSHIP_SEED (to replay a run), else a fresh one; logged either way. */
export function seedFor(suite: string): number {
  const env = process.env.MODELSHIP_SEED;
  const seed = env ? Number(env) : randomBytes(4).readUInt32BE(0);
  process.stderr.write(`${suite}: seed ${seed} (replay with MODELSHIP_SEED=${seed})\n`);
  return seed;
}

// ---- kubectl against any kubeconfig ----------------------------------------------------------------

export class Kube {
  constructor(readonly kubeconfig: string = clusterEnv().kubeconfig) {}

  run(args: string[], input?: string): Promise<RunResult> {
    return run(
      clusterEnv().kubectl,
      ['--kubeconfig', this.kubeconfig, ...args],
      input === undefined ? {} : { input },
    );
  }

  async ok(args: string[], input?: string): Promise<string> {
    const r = await this.run(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** `kubectl get -o json`, or undefined when it does not exist. */
  async get<T>(ns: string, resource: string, name: string): Promise<T | undefined> {
    const r = await this.run(['get', resource, name, '-n', ns, '-o', 'json']);
    if (r.code === 0) return JSON.parse(r.stdout) as T;
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get ${resource} ${name} -n ${ns}: ${r.stderr.trim()}`);
  }

  async list<T>(ns: string, resource: string, selector?: string): Promise<T[]> {
    const args = ['get', resource, '-n', ns, '-o', 'json', ...(selector ? ['-l', selector] : [])];
    return (JSON.parse(await this.ok(args)) as { items: T[] }).items;
  }

  http(): KubeHttp {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfig);
    return new KubeHttp(kc);
  }
}

// ---- a second control plane ------------------------------------------------------------------------

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

/**
 * A control plane of the test's own (hack/cluster/up.sh with another run directory and ports), so a
 * test can kill its apiserver or etcd without touching the cluster other suites share.
 */
export class SecondCluster {
  readonly runDir = mkdtempSync(join(tmpdir(), 'modelship-rel-run-'));
  readonly kube = new Kube(join(this.runDir, 'kubeconfig'));

  constructor(private readonly basePort: number) {}

  private env(): NodeJS.ProcessEnv {
    const p = this.basePort;
    return {
      ...process.env,
      MODELSHIP_RUN_DIR: this.runDir,
      MODELSHIP_APISERVER_PORT: String(p),
      MODELSHIP_ETCD_PORT: String(p + 10),
      MODELSHIP_KCM_PORT: String(p + 1),
      MODELSHIP_SCHEDULER_PORT: String(p + 2),
      MODELSHIP_KWOK_PORT: String(p + 3),
      MODELSHIP_NODES: '2',
    };
  }

  private script(name: string): string {
    return execFileSync('bash', [join(clusterScripts, name)], {
      encoding: 'utf8',
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Starts the cluster and installs the modelship CRDs. */
  async up(): Promise<void> {
    this.script('up.sh');
    await this.kube.ok(['apply', '--server-side', '-f', join(repoRoot, 'crds')]);
    await this.kube.ok(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']);
  }

  /** Stops every process and removes the run directory. */
  down(): void {
    try {
      this.script('down.sh');
    } finally {
      rmSync(this.runDir, { recursive: true, force: true });
    }
  }

  pid(c: Component): number {
    return Number(readFileSync(join(this.runDir, 'pids', `${c}.pid`), 'utf8').trim());
  }

  /**
   * Kills one component with `signal` and starts it again with the very command line it ran with
   * (read from /proc before the kill), detached, logging to the same file, under the same pid file:
   * what a supervisor (systemd, the kubelet of a static pod) does after a crash. Like a supervisor,
   * it starts the process again if it exits within its first seconds (a port still held by the old
   * process's last threads is the usual reason: "bind: address already in use").
   */
  async restart(c: Component, signal: NodeJS.Signals = 'SIGKILL', downMs = 0): Promise<void> {
    const pid = this.pid(c);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    process.kill(pid, signal);
    await exited(pid, 30000);
    if (downMs) await sleep(downMs);
    for (let attempt = 1; ; attempt++) {
      const log = openSync(join(this.runDir, 'logs', `${c}.log`), 'a');
      const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
      closeSync(log);
      child.unref();
      writeFileSync(join(this.runDir, 'pids', `${c}.pid`), `${child.pid}\n`);
      const early = await Promise.race([
        new Promise<number | null>((r) => child.once('exit', (code) => r(code))),
        sleep(3000).then(() => undefined),
      ]);
      if (early === undefined) return;
      if (attempt >= 5)
        throw new Error(`${c} exited (${early}) right after each of ${attempt} starts; see its log`);
      process.stderr.write(`${c} exited (${early}) right after start ${attempt}; starting it again\n`);
      await sleep(500 * attempt);
    }
  }

  /**
   * Waits until the apiserver answers /readyz; returns how long that took. On time-out the error
   * carries what the apiserver said last (the failing readyz checks) and the tail of its log.
   */
  async ready(timeoutMs = 120000): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      const r = await this.kube.run(['get', '--raw', '/readyz?verbose']);
      if (r.code === 0) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) {
        const failing = (r.stdout + r.stderr)
          .split('\n')
          .filter((l) => /failed|error|refused/i.test(l))
          .slice(0, 20);
        throw new Error(
          `apiserver of ${this.runDir} not ready in ${timeoutMs} ms\n` +
            `last readyz: ${failing.join('\n') || r.stderr.trim()}\n` +
            `kube-apiserver log (tail):\n${this.logTail('kube-apiserver', 40)}\n` +
            `etcd log (tail):\n${this.logTail('etcd', 15)}`,
        );
      }
      await sleep(200);
    }
  }

  /** The last `lines` lines of a component's log. */
  logTail(c: Component, lines: number): string {
    try {
      return readFileSync(join(this.runDir, 'logs', `${c}.log`), 'utf8')
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch (e) {
      return `(no log: ${(e as Error).message})`;
    }
  }
}

/**
 * Waits until a killed process has let go of everything it held. Its /proc entry going away is
 * enough; a zombie is not, while it is a thread-group leader whose other threads are still exiting
 * (they hold the file table, sockets included, until the last one is gone): wait for Threads: 1.
 */
async function exited(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      return;
    }
    if (/^State:\s+Z/m.test(status) && /^Threads:\s+1$/m.test(status)) return;
    await sleep(50);
  }
  throw new Error(`process ${pid} still running ${timeoutMs} ms after it was killed`);
}

// ---- the operator's own identity -------------------------------------------------------------------

interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: unknown[];
}

function deployObject(file: string, kind: string): RbacObject {
  const docs = loadAll(readFileSync(join(repoRoot, 'deploy', file), 'utf8')) as RbacObject[];
  const o = docs.find((d) => d?.kind === kind);
  if (!o) throw new Error(`deploy/${file} has no ${kind}`);
  return o;
}

export interface Identity {
  /** system:serviceaccount:<ns>:<sa>, as the audit log and `kubectl auth can-i --as` name it. */
  user: string;
  kubeconfig: string;
  /** Removes the cluster-scoped objects (the namespaced ones go with the namespace). */
  remove(): Promise<void>;
}

/**
 * A ServiceAccount in `ns` bound to deploy/02-rbac.yaml's ClusterRole (under a unique name) and to
 * deploy/03-leader-election.yaml's Role, as test/e2e/least-privilege.test.ts binds them; the returned
 * kubeconfig holds only a TokenRequest token for it.
 */
export async function operatorIdentity(kube: Kube, ns: string): Promise<Identity> {
  const sa = 'modelship';
  const role = `modelship-rel-${ns}`;
  const dir = mkdtempSync(join(tmpdir(), 'modelship-rel-id-'));
  const cr = deployObject('02-rbac.yaml', 'ClusterRole');
  await kube.ok(['apply', '-f', '-'], JSON.stringify({ ...cr, metadata: { name: role } }));
  await kube.ok(['create', 'serviceaccount', sa, '-n', ns]);
  await kube.ok([
    'create',
    'clusterrolebinding',
    role,
    `--clusterrole=${role}`,
    `--serviceaccount=${ns}:${sa}`,
  ]);
  const lease = deployObject('03-leader-election.yaml', 'Role');
  await kube.ok(
    ['apply', '-f', '-'],
    JSON.stringify({ ...lease, metadata: { name: 'modelship-leader-election', namespace: ns } }),
  );
  await kube.ok([
    'create',
    'rolebinding',
    'modelship-leader-election',
    '-n',
    ns,
    '--role=modelship-leader-election',
    `--serviceaccount=${ns}:${sa}`,
  ]);
  const token = (await kube.ok(['create', 'token', sa, '-n', ns, '--duration=1h'])).trim();
  const kc = new KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  const file = writeTokenKubeconfig(join(dir, 'kubeconfig'), kc, sa, token);
  return {
    user: `system:serviceaccount:${ns}:${sa}`,
    kubeconfig: file,
    remove: async () => {
      await kube.run(['delete', `clusterrolebinding/${role}`, `clusterrole/${role}`, '--ignore-not-found']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The built operator watching `namespaces` only, against `kubeconfig` (the last --kubeconfig wins),
 * with no metrics server (--listen=): the machine is shared with other operators.
 */
export function operatorAt(kubeconfig: string, namespaces: string[], extra: string[] = []): Operator {
  const op = startOperator([
    '--kubeconfig',
    kubeconfig,
    '--unready-grace',
    '2s',
    '--listen=',
    '--namespaces',
    namespaces.join(','),
    ...extra,
  ]);
  return withLines(op);
}

/**
 * Lines an operator printed that show it died of an error: an uncaught exception's stack or Node's
 * fatal-error report. Its own JSON log lines are not counted (an error it logged is one it handled).
 */
export function crashLines(output: string): string[] {
  return output
    .split('\n')
    .filter(
      (l) =>
        !l.startsWith('{') &&
        /Uncaught|UnhandledPromiseRejection|FATAL ERROR|^\s+at .*\(|TypeError|RangeError|ReferenceError/.test(
          l,
        ),
    );
}

// ---- the audit log: test/harness/audit.ts (shared with the benchmarks) ------------------------------

export { auditLogSize, auditWrites, type AuditWrite } from './audit.js';

// ---- the operator's log ------------------------------------------------------------------------------

/** The operator's JSON log lines, parsed (other lines are skipped). */
export function logRecords(output: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const l of output.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // a line cut by a kill
    }
  }
  return out;
}

/** Errors an informer reported (a failed list or watch of `path`), whatever the log's wording. */
export const informerErrors = (output: string): Array<Record<string, unknown>> =>
  logRecords(output).filter((r) => typeof r.path === 'string' && typeof r.phase === 'string' && 'error' in r);

/** Relists made for `reason` (`expired`: after a 410 Gone; `retry`: after a failed list). */
export const relists = (output: string, reason: string): Array<Record<string, unknown>> =>
  logRecords(output).filter((r) => (r.message ?? r.msg) === 'relisted' && r.reason === reason);
