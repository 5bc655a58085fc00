import { createWriteStream } from 'node:fs';
// What the benchmarks share: a control plane of their own (hack/cluster/up.sh on other ports, so the
// shared cluster is never touched), bulk server-side apply over one keep-alive connection pool,
// informers that stamp every event with the time it was received, the operator as a separate
// process, /proc sampling, a /metrics scraper, statistics and the result files.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { dump, loadAll } from 'js-yaml';
import { fileURLToPath } from 'node:url';
import { KubeHttp } from '../src/k8s/kube-http.js';
import { run, type RunResult } from '../test/harness/process.js';

/** The repository: the nearest folder above this file (bench/, or dist-bench/bench/) with a package.json. */
export const repoRoot = ((): string => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();
const clusterScripts = join(repoRoot, 'hack', 'cluster');

/** The cluster's own kubectl against one kubeconfig. */
export class Kube {
  readonly kubectl: string;
  constructor(readonly kubeconfig: string) {
    const env = execFileSync('bash', [join(clusterScripts, 'env.sh')], { encoding: 'utf8' });
    this.kubectl = /^MODELSHIP_BIN_DIR=(.*)$/m.exec(env)![1]! + '/kubectl';
  }

  run(args: string[], input?: string): Promise<RunResult> {
    return run(
      this.kubectl,
      ['--kubeconfig', this.kubeconfig, ...args],
      input === undefined ? {} : { input },
    );
  }

  async ok(args: string[], input?: string): Promise<string> {
    const r = await this.run(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }
}

export { sleep };

/** Wall-clock milliseconds with sub-millisecond resolution. */
export const now = (): number => performance.timeOrigin + performance.now();

// ---- the cluster ---------------------------------------------------------------------------------

export interface BenchCluster {
  runDir: string;
  /** The environment hack/ scripts need to act on this cluster (its run directory and ports). */
  env: NodeJS.ProcessEnv;
  kubeconfig: string;
  kube: Kube;
  http: KubeHttp;
  down(): void;
}

/**
 * hack/cluster/up.sh with its own run directory and ports (idempotent: a cluster already running
 * there is reused), then the modelship, Gateway API and Istio CRDs.
 */
export function startCluster(runDir: string, basePort: number, nodes: number): BenchCluster {
  const env = {
    ...process.env,
    MODELSHIP_RUN_DIR: runDir,
    MODELSHIP_APISERVER_PORT: String(basePort),
    MODELSHIP_ETCD_PORT: String(basePort + 10),
    MODELSHIP_KCM_PORT: String(basePort + 1),
    MODELSHIP_SCHEDULER_PORT: String(basePort + 2),
    MODELSHIP_KWOK_PORT: String(basePort + 3),
    MODELSHIP_NODES: String(nodes),
  };
  const sh = (script: string, ...args: string[]): string =>
    execFileSync('bash', [join(clusterScripts, script), ...args], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  sh('up.sh');
  sh('install-crds.sh', '--routers');
  const kubeconfig = join(runDir, 'kubeconfig');
  return {
    runDir,
    env,
    kubeconfig,
    kube: new Kube(kubeconfig),
    http: httpFor(kubeconfig),
    down: () => void sh('down.sh'),
  };
}

export function httpFor(kubeconfig: string): KubeHttp {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return new KubeHttp(kc);
}

// ---- objects ---------------------------------------------------------------------------------------

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const PLURAL: Record<string, string> = {
  ModelDeployment: 'modeldeployments',
  ModelVersion: 'modelversions',
  Deployment: 'deployments',
  Service: 'services',
  Namespace: 'namespaces',
  HTTPRoute: 'httproutes',
  Pod: 'pods',
  ConfigMap: 'configmaps',
  Rollout: 'rollouts',
  Canary: 'canaries',
  AnalysisTemplate: 'analysistemplates',
  MetricTemplate: 'metrictemplates',
};

/** The collection path of `kind` in `ns` (cluster-scoped when ns is undefined). */
/**
 * The weights of an HTTPRoute's default rule (the one that matches no header) by revision, only
 * those above 0: backend `<md>-<revision>` -> weight. What the benchmarks watch for "traffic moved".
 */
export function defaultRuleWeights(o: Obj | undefined, md: string): Record<string, number> {
  const rules = (
    o?.spec as
      | {
          rules?: Array<{
            matches?: Array<{ headers?: unknown[] }>;
            backendRefs?: Array<{ name: string; weight?: number }>;
          }>;
        }
      | undefined
  )?.rules;
  const rule = rules?.find((r) => !(r.matches ?? []).some((m) => (m.headers ?? []).length > 0));
  const out: Record<string, number> = {};
  for (const b of rule?.backendRefs ?? []) {
    const w = b.weight ?? 1;
    if (w > 0) out[b.name.slice(md.length + 1)] = w;
  }
  return out;
}

export function collection(apiVersion: string, kind: string, ns?: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const plural = PLURAL[kind];
  if (!plural) throw new Error(`bench: no plural known for ${kind}`);
  return ns ? `${base}/namespaces/${ns}/${plural}` : `${base}/${plural}`;
}

/** Server-side apply of one object under the field manager `bench` (create or update). */
export async function applyObj(http: KubeHttp, o: Obj): Promise<void> {
  await http.request(
    'PATCH',
    `${collection(o.apiVersion, o.kind, o.metadata.namespace)}/${o.metadata.name}`,
    {
      query: { fieldManager: 'bench', force: true },
      body: o,
      contentType: 'application/apply-patch+yaml',
    },
  );
}

/**
 * Runs `each` on every item with `parallel` calls in flight; a call that fails is tried again up
 * to `retries` times, 200 ms × the attempt apart, and the last failure rejects.
 */
async function forEachInFlight<T>(
  items: readonly T[],
  parallel: number,
  retries: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      for (let attempt = 0; ; attempt++) {
        try {
          await each(item);
          break;
        } catch (err) {
          if (attempt >= retries) throw err;
          await sleep(200 * (attempt + 1));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Applies every object with `parallel` requests in flight (the keep-alive pool holds 64 sockets). */
export async function applyAll(http: KubeHttp, objs: Obj[], parallel = 32): Promise<void> {
  // 429 (APF) or a conflict with the operator on status: retried a few times.
  await forEachInFlight(objs, parallel, 5, (o) => applyObj(http, o));
}

export async function ensureNamespace(http: KubeHttp, ns: string): Promise<void> {
  await applyObj(http, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
}

/**
 * Deletes every object of one kind in a namespace, `parallel` requests in flight, and resolves with
 * how many it deleted and how long that took. A namespace's own deletion deletes a collection at a
 * time in the namespace controller: 19,800 Services went at about 8 a second in run 8, so a
 * benchmark that must go on in the same run deletes the bulk itself first. Gone already (404) counts
 * as done; any other failure of a delete is retried, up to 10 times.
 */
export async function deleteAllOf(
  http: KubeHttp,
  apiVersion: string,
  kind: string,
  ns: string,
  parallel = 32,
): Promise<{ deleted: number; seconds: number }> {
  const t0 = now();
  const path = collection(apiVersion, kind, ns);
  const names: string[] = [];
  let cont: string | undefined;
  do {
    const page = await http.getJson<{ items: Obj[]; metadata?: { continue?: string } }>(path, {
      limit: 2000,
      ...(cont ? { continue: cont } : {}),
    });
    for (const o of page.items) names.push(o.metadata.name);
    cont = page.metadata?.continue || undefined;
  } while (cont);
  await forEachInFlight(names, parallel, 10, async (name) => {
    try {
      await http.request('DELETE', `${path}/${name}`, { body: { propagationPolicy: 'Background' } });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  });
  return { deleted: names.length, seconds: +((now() - t0) / 1000).toFixed(1) };
}

/** Deletes a namespace and waits until it is gone (its pods and children with it). */
export async function deleteNamespace(kube: Kube, ns: string, timeoutS = 600): Promise<void> {
  await deleteNamespaces(kube, [ns], timeoutS);
}

/** Deletes namespaces at once (one request each, in one kubectl) and waits until all are gone. */
export async function deleteNamespaces(kube: Kube, names: string[], timeoutS = 600): Promise<void> {
  if (names.length === 0) return;
  await kube.run([
    'delete',
    'namespace',
    ...names,
    '--ignore-not-found',
    '--wait=true',
    `--timeout=${timeoutS}s`,
  ]);
}

// ---- informers -----------------------------------------------------------------------------------

export type Listener = (type: string, o: Obj, at: number) => void;

/**
 * A list + watch of one collection, keeping the newest copy of each object and calling listeners
 * with the time each event was received (before parsing anything else). Rewatches from the last
 * resourceVersion when the apiserver ends a watch; relists on 410 Gone.
 */
export class Informer {
  readonly items = new Map<string, Obj>();
  private readonly listeners = new Set<Listener>();
  private readonly abort = new AbortController();
  private synced = false;

  constructor(
    private readonly http: KubeHttp,
    private readonly path: string,
    private readonly query: Record<string, string> = {},
  ) {}

  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async start(): Promise<void> {
    let rv = await this.list();
    this.synced = true;
    void (async () => {
      while (!this.abort.signal.aborted) {
        try {
          await this.http.watch(
            this.path,
            { ...this.query, watch: 1, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 300 },
            this.abort.signal,
            (e) => {
              const at = now();
              const o = e.object as Obj;
              if (e.type === 'ERROR') throw Object.assign(new Error('watch error'), { gone: true });
              if (o.metadata?.resourceVersion) rv = o.metadata.resourceVersion;
              if (e.type === 'BOOKMARK') return;
              if (e.type === 'DELETED') this.items.delete(key(o));
              else this.items.set(key(o), o);
              for (const l of this.listeners) l(e.type, o, at);
            },
          );
        } catch (err) {
          if (this.abort.signal.aborted) return;
          if ((err as { gone?: boolean }).gone || /410/.test(String(err))) rv = await this.list();
          else await sleep(200);
        }
      }
    })();
  }

  private async list(): Promise<string> {
    const l = await this.http.getJson<{ metadata: { resourceVersion: string }; items: Obj[] }>(
      this.path,
      this.query,
      this.abort.signal,
    );
    this.items.clear();
    for (const o of l.items) this.items.set(key(o), o);
    return l.metadata.resourceVersion;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  stop(): void {
    this.abort.abort();
  }
}

const key = (o: Obj): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Resolves with the receipt time of the first event for which `pred` holds (or of now, if it already does). */
export function when(
  inf: Informer,
  pred: (o: Obj) => boolean,
  timeoutMs: number,
  what: string,
  checkExisting = true,
): Promise<{ at: number; o: Obj }> {
  return new Promise((resolve, reject) => {
    if (checkExisting) {
      for (const o of inf.items.values()) if (pred(o)) return resolve({ at: now(), o });
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const off = inf.on((type, o, at) => {
      if (type !== 'DELETED' && pred(o)) {
        clearTimeout(timer);
        off();
        resolve({ at, o });
      }
    });
  });
}

/** Resolves when `count(items)` reaches `target`, with the receipt time of the event that got it there. */
export function whenCount(
  inf: Informer,
  pred: (o: Obj) => boolean,
  target: number,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const count = (): number => [...inf.items.values()].filter(pred).length;
  return new Promise((resolve, reject) => {
    if (count() >= target) return resolve(now());
    let n = count();
    const ok = new Set([...inf.items.entries()].filter(([, o]) => pred(o)).map(([k]) => k));
    const timer = setTimeout(() => {
      off();
      reject(new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what} (${n}/${target})`));
    }, timeoutMs);
    const off = inf.on((type, o, at) => {
      const k = key(o);
      if (type !== 'DELETED' && pred(o)) ok.add(k);
      else ok.delete(k);
      n = ok.size;
      if (n >= target) {
        clearTimeout(timer);
        off();
        resolve(at);
      }
    });
  });
}

/**
 * Receipt time of the first event at which each object satisfied `pred`, by `keyOf(o)` (objects it
 * maps to undefined are skipped). Objects already satisfying it when called count from now. Call
 * the returned function to stop recording.
 */
export function firstTimes(
  inf: Informer,
  pred: (o: Obj) => boolean,
  keyOf: (o: Obj) => string | undefined,
): { times: Map<string, number>; stop: () => void } {
  const times = new Map<string, number>();
  const t = now();
  for (const o of inf.items.values()) {
    const k = keyOf(o);
    if (k !== undefined && pred(o)) times.set(k, t);
  }
  const stop = inf.on((type, o, at) => {
    const k = keyOf(o);
    if (k !== undefined && type !== 'DELETED' && !times.has(k) && pred(o)) times.set(k, at);
  });
  return { times, stop: () => void stop() };
}

// ---- the operator ----------------------------------------------------------------------------------

export interface OperatorProc {
  proc: ChildProcess;
  pid: number;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The node flags a pod of deploy/ runs the operator with: the container's `NODE_OPTIONS`
 * (deploy/04-deployment.yaml), which replaces the image's; the Dockerfile's `ENV NODE_OPTIONS=` when
 * the container sets none.
 */
export function podNodeFlags(): string[] {
  interface Container {
    name: string;
    env?: Array<{ name: string; value?: string }>;
  }
  const docs = loadAll(readFileSync(join(repoRoot, 'deploy', '04-deployment.yaml'), 'utf8')) as Array<{
    kind?: string;
    spec?: { template?: { spec?: { containers?: Container[] } } };
  }>;
  const container = docs
    .find((d) => d?.kind === 'Deployment')
    ?.spec?.template?.spec?.containers?.find((c) => c.name === 'operator');
  const opts =
    container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ??
    /^ENV NODE_OPTIONS=(.*)$/m.exec(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))?.[1];
  return opts ? opts.trim().split(/\s+/) : [];
}

/**
 * `node <a pod's node flags> dist/main.js` against `kubeconfig`, its metrics on a free loopback
 * port, warnings only; resolves once /readyz answers 200 (its caches have synced). `nodeArgs` are
 * added, e.g. ['--cpu-prof']. `unreadyGrace` replaces the benchmarks' 2 s (bench/peers.ts runs the 10 s default).
 */
export async function startOperator(
  kubeconfig: string,
  opts: {
    nodeArgs?: string[];
    cwd?: string;
    unreadyGrace?: string;
    /**
     * --pre-traffic-checks (default on). kwok's pods serve nothing, so a Ready Triton canary there
     * fails the loaded-interface check (no answer, or whatever the pod address reaches on this
     * machine) before it gets traffic: the kwok benchmarks that need a canary with traffic turn it off.
     */
    preTrafficChecks?: boolean;
  } = {},
): Promise<OperatorProc> {
  const main = join(repoRoot, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} does not exist: run npm run build first`);
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...podNodeFlags(),
      ...(opts.nodeArgs ?? []),
      main,
      '--kubeconfig',
      kubeconfig,
      `--listen=127.0.0.1:${port}`,
      // The scraper reads /metrics over plain http on loopback, without a token.
      '--metrics-auth=none',
      '--log-level',
      process.env.BENCH_OPERATOR_LOG_LEVEL ?? 'warn',
      '--log-format',
      'json',
      '--unready-grace',
      opts.unreadyGrace ?? '2s',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: {
        ...process.env,
        ...(opts.preTrafficChecks === false ? { MODELSHIP_PRE_TRAFFIC_CHECKS: 'false' } : {}),
      },
    },
  );
  let out = '';
  const dump = process.env.BENCH_OPERATOR_LOG ? createWriteStream(process.env.BENCH_OPERATOR_LOG) : undefined;
  const keep = (d: Buffer): void => {
    dump?.write(d);
    out += d.toString();
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`bench: the operator exited (${proc.exitCode}):\n${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`bench: the operator was not ready in 300 s:\n${out}`);
    await sleep(100);
  }
  return {
    proc,
    pid: proc.pid!,
    port,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---- /proc -------------------------------------------------------------------------------------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** RSS (bytes, /proc/<pid>/status VmRSS) and CPU seconds used so far (utime + stime of /proc/<pid>/stat). */
export function procSample(pid: number): { rssBytes: number; cpuSeconds: number; at: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { rssBytes: rssKb * 1024, cpuSeconds: (utime + stime) / CLK_TCK, at: now() };
}

/**
 * CPU seconds used so far by each named process (a process that is gone counts as 0): the
 * benchmark's own accounting of where a timed window's CPU went, read at both ends of the window.
 */
export function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      out[name] = procSample(pid).cpuSeconds;
    } catch {
      out[name] = 0;
    }
  }
  return out;
}

/** Per process, CPU seconds between two snapshots, and their sum as `total`. */
export function cpuDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const name of Object.keys(after)) {
    const d = Math.max(0, (after[name] ?? 0) - (before[name] ?? 0));
    out[name] = Math.round(d * 10) / 10;
    total += d;
  }
  out.total = Math.round(total * 10) / 10;
  return out;
}

/** The control plane's processes (hack/cluster writes `<run dir>/pids/<component>.pid`). */
export function clusterPids(runDir: string): Record<string, number> {
  const dir = join(runDir, 'pids');
  const out: Record<string, number> = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.pid')) continue;
    const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
    if (pid > 0) out[f.slice(0, -'.pid'.length)] = pid;
  }
  return out;
}

// ---- /metrics ----------------------------------------------------------------------------------------

export type Samples = Array<{ name: string; labels: Record<string, string>; value: number }>;

export async function scrape(port: number): Promise<Samples> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export const sumOf = (s: Samples, name: string, match: Record<string, string> = {}): number =>
  s
    .filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v))
    .reduce((a, x) => a + x.value, 0);

/** Cumulative bucket counts of a histogram, by upper bound, ascending. */
export function buckets(s: Samples, name: string, match: Record<string, string>): Array<[number, number]> {
  return s
    .filter((x) => x.name === `${name}_bucket` && Object.entries(match).every(([k, v]) => x.labels[k] === v))
    .map((x) => [x.labels.le === '+Inf' ? Infinity : Number(x.labels.le), x.value] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

/** Quantile `q` of the observations between two scrapes, linear within a bucket (Prometheus' way). */
export function histogramQuantile(
  before: Array<[number, number]>,
  after: Array<[number, number]>,
  q: number,
): number {
  const delta = after.map(([le, c], i) => [le, c - (before[i]?.[1] ?? 0)] as [number, number]);
  const total = delta.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevC = 0;
  for (const [le, c] of delta) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevC)) / Math.max(c - prevC, 1e-9);
    }
    prevLe = le;
    prevC = c;
  }
  return prevLe;
}

// ---- statistics and results --------------------------------------------------------------------------

export interface Summary {
  n: number;
  median: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

/** Nearest-rank percentiles; with fewer than 100 samples p99 is the maximum. */
export function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const pct = (p: number): number =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return {
    n: s.length,
    median: pct(0.5),
    p50: pct(0.5),
    p99: pct(0.99),
    min: s[0] ?? NaN,
    max: s.at(-1) ?? NaN,
  };
}

export const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
export const fmtRange = (s: Summary, digits = 2, unit = ''): string =>
  `${fmt(s.median, digits)}${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  process.stdout.write(`\n## ${title}\n\n`);
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  process.stdout.write(`| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n`);
  for (const r of rows) process.stdout.write(`| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |\n`);
}

export function machineInfo(): Record<string, unknown> {
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    dirty =
      execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoRoot, encoding: 'utf8' }) !== '';
  } catch {
    // not a git checkout
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    date: new Date().toISOString(),
    gitCommit: commit,
    srcDirty: dirty,
    loadavgAtStart: load,
  };
}

export function writeResult(name: string, data: Record<string, unknown>): string {
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ benchmark: name, machine: machineInfo(), ...data }, null, 2) + '\n');
  return file;
}

// ---- the operator's own identity -------------------------------------------------------------------

/**
 * A ServiceAccount `modelship` in `ns`, bound to deploy/02-rbac.yaml's ClusterRole, and a kubeconfig
 * holding only a TokenRequest token for it: the audit log then tells the operator's writes apart
 * (test/harness/faults.ts does the same for the reliability tests).
 */
export async function operatorIdentity(
  kube: Kube,
  ns: string,
  dir: string,
): Promise<{ user: string; kubeconfig: string }> {
  const docs = loadAll(readFileSync(join(repoRoot, 'deploy', '02-rbac.yaml'), 'utf8')) as Array<{
    kind?: string;
  }>;
  const cr = docs.find((d) => d?.kind === 'ClusterRole');
  if (!cr) throw new Error('deploy/02-rbac.yaml has no ClusterRole');
  const role = `modelship-bench-${ns}`;
  await kube.ok(['apply', '-f', '-'], JSON.stringify({ ...cr, metadata: { name: role } }));
  await kube.run(['create', 'namespace', ns]);
  await kube.run(['create', 'serviceaccount', 'modelship', '-n', ns]);
  await kube.run([
    'create',
    'clusterrolebinding',
    role,
    `--clusterrole=${role}`,
    `--serviceaccount=${ns}:modelship`,
  ]);
  const token = (await kube.ok(['create', 'token', 'modelship', '-n', ns, '--duration=24h'])).trim();
  const kc = new KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  const admin = kc.getCurrentCluster()!;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'operator.kubeconfig');
  writeFileSync(
    file,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: admin.server, 'certificate-authority': admin.caFile } }],
      users: [{ name: 'modelship', user: { token } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'modelship' } }],
      'current-context': 'local',
    }),
    { mode: 0o600 },
  );
  return { user: `system:serviceaccount:${ns}:modelship`, kubeconfig: file };
}

// ---- the audit log: test/harness/audit.ts (shared with the reliability tests) --------------------

export { auditLogSize, auditWrites, type AuditWrite } from '../test/harness/audit.js';
