// Benchmarks 2-5 at scale: converge (ModelDeployments against the same workloads applied as plain
// Deployments + Services), steady-state writes (the audit log), footprint (/proc) and rollout
// throughput (/metrics).
import { IN_USE_FINALIZER } from '../src/controllers/modelversion.js';
import type { KubeHttp } from '../src/k8s/kube-http.js';
import {
  applyAll,
  auditLogSize,
  auditWrites,
  buckets,
  collection,
  cpuDelta,
  deleteNamespace,
  firstTimes,
  ensureNamespace,
  histogramQuantile,
  Informer,
  now,
  procSample,
  scrape,
  sleep,
  summarize,
  sumOf,
  when,
  whenCount,
  type AuditWrite,
  type Kube,
  type Obj,
  type OperatorProc,
  type Summary,
} from './lib.js';
import { LABEL_DEPLOYMENT } from '../src/core/labels.js';
import {
  captureChildren,
  deploymentReady,
  mdName,
  mdReady,
  modelDeployment,
  modelVersion,
  plainCopy,
} from './objects.js';

const mdPath = (ns: string): string => `/apis/modelship.io/v1alpha1/namespaces/${ns}/modeldeployments`;

/**
 * How long a burst of n first deploys (or plain Deployments) may take before the benchmark gives up:
 * 30 minutes, or 0.6 s each (first deploys ran at about 6 a second at N = 1,000 here, and slowed to
 * about 2 a second past 7,000 of 10,000: run 8, docs/benchmarks.md).
 */
export function burstTimeoutMs(n: number): number {
  return Math.max(1_800_000, n * 600);
}

/**
 * The namespace of the i-th object of a population spread over `spread` namespaces: `ns` itself for
 * one, else `ns-0` … `ns-<spread-1>` in turn. kube-controller-manager's Deployment controller lists
 * every ReplicaSet and Pod of a Deployment's namespace on each sync, so 10,000 workloads in one
 * namespace cost it O(10,000) a sync on either side (run 9, docs/benchmarks.md).
 */
export function popNamespace(ns: string, i: number, spread = 1): string {
  return spread <= 1 ? ns : `${ns}-${i % spread}`;
}

/** The namespaces of a population spread over `spread` (see popNamespace). */
export function popNamespaces(ns: string, spread = 1): string[] {
  return Array.from({ length: Math.max(1, spread) }, (_, i) => popNamespace(ns, i, spread));
}

/** N ModelVersions + N ModelDeployments (each its own model) in `ns`, or spread (see popNamespace). */
export function population(
  ns: string,
  n: number,
  replicas: number,
  version: string,
  from = 0,
  spread = 1,
): Obj[] {
  const out: Obj[] = [];
  for (let i = from; i < n; i++) out.push(modelVersion(popNamespace(ns, i, spread), mdName(i), version));
  for (let i = from; i < n; i++)
    out.push(
      modelDeployment(popNamespace(ns, i, spread), mdName(i), version, { replicas, router: 'service' }),
    );
  return out;
}

/**
 * An informer over a population's namespaces and a filter for its objects: the one namespace's
 * collection, or the cluster's filtered to the spread's namespaces.
 */
function spreadInformer(
  http: KubeHttp,
  namespaces: string[],
  apiVersion: string,
  kind: string,
): { inf: Informer; mine: (o: Obj) => boolean } {
  if (namespaces.length === 1)
    return { inf: new Informer(http, collection(apiVersion, kind, namespaces[0])), mine: () => true };
  const set = new Set(namespaces);
  return {
    inf: new Informer(http, collection(apiVersion, kind)),
    mine: (o) => set.has(o.metadata.namespace ?? ''),
  };
}

/**
 * N ModelDeployments from apply to Ready. Besides the total, when the operator had made the N-th
 * revision Deployment (`created`) and when the N-th of those was Available as the plain side counts
 * it (`available`): the total minus `available` is the time the operator took to report what the
 * Deployments already showed, `created` is how far behind the applies it made the children.
 */
export async function convergeModelDeployments(
  http: KubeHttp,
  ns: string,
  n: number,
  audit?: { runDir: string; user: string },
  cpu: () => Record<string, number> = () => ({}),
  operatorPid?: number,
): Promise<{
  ms: number;
  createdMs: number;
  availableMs: number;
  writes: Record<string, number>;
  /** CPU seconds per process over the timed window (see cpuDelta). */
  cpu: Record<string, number>;
  /**
   * Status lag per ModelDeployment (s): receipt of its Ready event minus receipt of the event that
   * made its revision Deployment Available. What the operator adds after the Deployment controller
   * has done its part.
   */
  lag: Summary;
  /** The operator's RSS (MiB), sampled every second over the window. */
  rssPeakMiB: number;
  /**
   * Where the lag goes, per ModelDeployment (s, receipt times): its revision Deployment made ->
   * Available; made -> its second Service made; and Ready minus the later of Available and the
   * Services (what the status step itself adds).
   */
  phases: { madeToAvailable: Summary; madeToServices: Summary; readyAfterBoth: Summary };
}> {
  await ensureNamespace(http, ns);
  const mvs = population(ns, n, 2, '1.0.0').filter((o) => o.kind === 'ModelVersion');
  const mds = population(ns, n, 2, '1.0.0').filter((o) => o.kind === 'ModelDeployment');
  // ModelVersions are the model catalogue, published before any deployment refers to them: not
  // timed. The clock starts once the operator has settled them too (finalizer on, status Available),
  // so that catalogue work does not run inside the window the plain side has no counterpart for.
  await publishCatalogue(http, ns, mvs);
  const inf = new Informer(http, mdPath(ns));
  const children = new Informer(http, `/apis/apps/v1/namespaces/${ns}/deployments`);
  await inf.start();
  await children.start();
  const fromByte = audit ? auditLogSize(audit.runDir) : 0;
  const readyAt = firstTimes(
    inf,
    (o) => mdReady(o),
    (o) => o.metadata.name,
  );
  const availableAt = firstTimes(children, deploymentReady, (o) => o.metadata.labels?.[LABEL_DEPLOYMENT]);
  const madeAt = firstTimes(
    children,
    () => true,
    (o) => o.metadata.labels?.[LABEL_DEPLOYMENT],
  );
  // A first deploy makes two Services (the ModelDeployment's and its revision's): when the second
  // one of each ModelDeployment arrives.
  const services = new Informer(http, `/api/v1/namespaces/${ns}/services`);
  await services.start();
  const seenServices = new Map<string, Set<string>>();
  const servicesAt = new Map<string, number>();
  const stopServices = services.on((type, o, at) => {
    const md = o.metadata.labels?.[LABEL_DEPLOYMENT];
    if (!md || type === 'DELETED' || servicesAt.has(md)) return;
    const seen = seenServices.get(md) ?? new Set<string>();
    seen.add(o.metadata.name);
    seenServices.set(md, seen);
    if (seen.size >= 2) servicesAt.set(md, at);
  });
  let peak = operatorPid ? procSample(operatorPid).rssBytes : 0;
  const sampler = setInterval(() => {
    try {
      if (operatorPid) peak = Math.max(peak, procSample(operatorPid).rssBytes);
    } catch {
      // exited
    }
  }, 1000);
  try {
    const cpu0 = cpu();
    const t0 = now();
    const done = whenCount(
      inf,
      (o) => mdReady(o),
      n,
      burstTimeoutMs(n),
      `${n} ModelDeployments Ready in ${ns}`,
    );
    const created = whenCount(
      children,
      () => true,
      n,
      burstTimeoutMs(n),
      `${n} revision Deployments in ${ns}`,
    );
    const available = whenCount(
      children,
      deploymentReady,
      n,
      burstTimeoutMs(n),
      `${n} revision Deployments Available`,
    );
    await applyAll(http, mds);
    const [t1, tc, ta] = await Promise.all([done, created, available]);
    const cpuUsed = cpuDelta(cpu0, cpu());
    await sleep(1000);
    const writes = audit
      ? byVerb(auditWrites(audit.runDir, audit.user, { fromByte, sinceMs: t0 - 1000, untilMs: t1 + 1000 }))
      : {};
    const lags: number[] = [];
    const madeToAvailable: number[] = [];
    const madeToServices: number[] = [];
    const readyAfterBoth: number[] = [];
    for (const [name, r] of readyAt.times) {
      const a = availableAt.times.get(name);
      if (a !== undefined) lags.push(Math.max(0, r - a) / 1000);
      const m = madeAt.times.get(name);
      const sv = servicesAt.get(name);
      if (m !== undefined && a !== undefined) madeToAvailable.push((a - m) / 1000);
      if (m !== undefined && sv !== undefined) madeToServices.push((sv - m) / 1000);
      if (a !== undefined && sv !== undefined) readyAfterBoth.push(Math.max(0, r - Math.max(a, sv)) / 1000);
    }
    return {
      ms: t1 - t0,
      createdMs: tc - t0,
      availableMs: ta - t0,
      writes,
      cpu: cpuUsed,
      lag: summarize(lags),
      rssPeakMiB: +(peak / 2 ** 20).toFixed(1),
      phases: {
        madeToAvailable: summarize(madeToAvailable),
        madeToServices: summarize(madeToServices),
        readyAfterBoth: summarize(readyAfterBoth),
      },
    };
  } finally {
    clearInterval(sampler);
    readyAt.stop();
    availableAt.stop();
    madeAt.stop();
    stopServices();
    services.stop();
    inf.stop();
    children.stop();
  }
}

/**
 * Applies ModelVersions and waits until the operator has taken each in (`mvSettled`): the catalogue
 * a benchmark's clock should not include.
 */
export async function publishCatalogue(http: KubeHttp, ns: string, mvs: Obj[]): Promise<void> {
  await applyAll(http, mvs);
  const inf = new Informer(http, `/apis/modelship.io/v1alpha1/namespaces/${ns}/modelversions`);
  await inf.start();
  try {
    const names = new Set(mvs.map((o) => o.metadata.name));
    const settled = (o: Obj): boolean => names.has(o.metadata.name) && mvSettled(o);
    await whenCount(inf, settled, names.size, 1_800_000, `${names.size} ModelVersions settled in ${ns}`);
  } finally {
    inf.stop();
  }
}

/** The operator has taken a ModelVersion in: its finalizer is on and its status is current. */
export function mvSettled(o: Obj): boolean {
  const s = o.status as { observedGeneration?: number; phase?: string } | undefined;
  return (
    (o.metadata.finalizers ?? []).includes(IN_USE_FINALIZER) &&
    s?.observedGeneration === o.metadata.generation &&
    !!s?.phase
  );
}

/**
 * Once a minute, how many of the informer's objects pass `done` (a long burst's curve: in run 8 first
 * deploys slowed from 5 to 2 a second as the population grew). Nothing without `onProgress`.
 */
function everyMinute(
  inf: Informer,
  done: (o: Obj) => boolean,
  n: number,
  t0: number,
  what: string,
  onProgress?: (line: string) => void,
): NodeJS.Timeout | undefined {
  if (!onProgress) return undefined;
  return setInterval(() => {
    let count = 0;
    for (const o of inf.items.values()) if (done(o)) count++;
    onProgress(`  ${count} of ${n} ${what} after ${((now() - t0) / 1000).toFixed(0)} s`);
  }, 60_000);
}

/** Applies the same N workloads (Deployment + ConfigMap + Services) directly; ms to all Available. */
export async function convergePlain(
  http: KubeHttp,
  ns: string,
  n: number,
  template: Obj[],
  from: string,
  cpu: () => Record<string, number> = () => ({}),
  onProgress?: (line: string) => void,
  spread = 1,
): Promise<{ ms: number; cpu: Record<string, number> }> {
  const namespaces = popNamespaces(ns, spread);
  for (const x of namespaces) await ensureNamespace(http, x);
  const objs: Obj[] = [];
  for (let i = 0; i < n; i++)
    objs.push(...plainCopy(template, from, `p${String(i).padStart(5, '0')}`, popNamespace(ns, i, spread)));
  // ConfigMaps and Services first, then Deployments, as a chart would order them.
  objs.sort((a, b) => Number(a.kind === 'Deployment') - Number(b.kind === 'Deployment'));
  const { inf, mine } = spreadInformer(http, namespaces, 'apps/v1', 'Deployment');
  const ready = (o: Obj): boolean => mine(o) && deploymentReady(o);
  await inf.start();
  try {
    const cpu0 = cpu();
    const t0 = now();
    const done = whenCount(
      inf,
      ready,
      n,
      burstTimeoutMs(n),
      `${n} plain Deployments Available in ${namespaces.join(',')}`,
    );
    const progress = everyMinute(inf, ready, n, t0, 'plain Deployments Available', onProgress);
    try {
      await applyAll(http, objs);
      const t1 = await done;
      return { ms: t1 - t0, cpu: cpuDelta(cpu0, cpu()) };
    } finally {
      clearInterval(progress);
    }
  } finally {
    inf.stop();
  }
}

/** One ModelDeployment's rendered children (`replicas` pods), for the baseline. */
export async function captureTemplate(
  http: KubeHttp,
  kube: Kube,
  replicas = 2,
): Promise<{ template: Obj[]; name: string }> {
  const ns = 'bench-template';
  const name = 'tmplmodel';
  await ensureNamespace(http, ns);
  await applyAll(http, [
    modelVersion(ns, name, '1.0.0'),
    modelDeployment(ns, name, '1.0.0', { replicas, router: 'service' }),
  ]);
  const inf = new Informer(http, mdPath(ns));
  await inf.start();
  await when(inf, (o) => mdReady(o), 120_000, 'template ModelDeployment Ready');
  inf.stop();
  const template = await captureChildren(http, ns, name);
  await deleteNamespace(kube, ns);
  return { template, name };
}

/** Grows `ns` to n ModelDeployments (1 replica) and waits until all are Ready. */
export async function grow(
  http: KubeHttp,
  ns: string,
  from: number,
  n: number,
  onProgress?: (line: string) => void,
  spread = 1,
): Promise<number> {
  const namespaces = popNamespaces(ns, spread);
  for (const x of namespaces) await ensureNamespace(http, x);
  const objs = population(ns, n, 1, '1.0.0', from, spread);
  await applyAll(
    http,
    objs.filter((o) => o.kind === 'ModelVersion'),
  );
  const { inf, mine } = spreadInformer(http, namespaces, 'modelship.io/v1alpha1', 'ModelDeployment');
  const ready = (o: Obj): boolean => mine(o) && mdReady(o);
  await inf.start();
  try {
    const t0 = now();
    // The informer sees the whole population: n in all are Ready once the n - from new ones are.
    const done = whenCount(
      inf,
      ready,
      n,
      burstTimeoutMs(n - from),
      `${n} ModelDeployments Ready in ${namespaces.join(',')}`,
    );
    const progress = everyMinute(inf, ready, n, t0, 'ModelDeployments Ready', onProgress);
    try {
      await applyAll(
        http,
        objs.filter((o) => o.kind === 'ModelDeployment'),
      );
      return (await done) - t0;
    } finally {
      clearInterval(progress);
    }
  } finally {
    inf.stop();
  }
}

/** Writes counted by `verb resource[/subresource]`. */
export function byVerb(writes: AuditWrite[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of writes) {
    const k = `${w.verb} ${w.resource}${w.subresource ? '/' + w.subresource : ''}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

export interface SteadyResult {
  windowSeconds: number;
  writes: number;
  writesPerMinute: number;
  byVerbResource: Record<string, number>;
  sample: AuditWrite[];
  rssMiB: { median: number; min: number; max: number };
  cpuPercent: number;
}

/**
 * Watches the operator for `seconds` with nothing changing: its writes in the audit log, its RSS
 * every 5 s, and the CPU it used over the window.
 */
export async function steadyState(
  op: OperatorProc,
  runDir: string,
  user: string,
  seconds: number,
): Promise<SteadyResult> {
  const fromByte = auditLogSize(runDir);
  const t0 = Date.now();
  const p0 = procSample(op.pid);
  const rss: number[] = [p0.rssBytes];
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(5000);
    rss.push(procSample(op.pid).rssBytes);
  }
  const p1 = procSample(op.pid);
  const t1 = Date.now();
  // The apiserver writes an event after the response; give it a moment to reach the file.
  await sleep(1000);
  const writes = auditWrites(runDir, user, { fromByte, sinceMs: t0, untilMs: t1 });
  const byVerbResource = byVerb(writes);
  const s = [...rss].sort((a, b) => a - b);
  const mib = (b: number): number => +(b / 2 ** 20).toFixed(1);
  return {
    windowSeconds: (t1 - t0) / 1000,
    writes: writes.length,
    writesPerMinute: +((writes.length * 60_000) / (t1 - t0)).toFixed(2),
    byVerbResource,
    sample: writes.slice(0, 20),
    rssMiB: { median: mib(s[Math.floor(s.length / 2)]!), min: mib(s[0]!), max: mib(s.at(-1)!) },
    cpuPercent: +((100 * (p1.cpuSeconds - p0.cpuSeconds)) / ((p1.at - p0.at) / 1000)).toFixed(2),
  };
}

export interface ThroughputResult {
  n: number;
  version: string;
  seconds: number;
  reconciles: number;
  reconcilesPerSecond: number;
  byResult: Record<string, number>;
  queueSeconds: { p50: number; p90: number; p99: number };
  reconcileSeconds: { p50: number; p99: number };
  rssPeakMiB: number;
  cpuPercent: number;
  apiWrites: number;
  writesByVerb: Record<string, number>;
}

/** Rolls every ModelDeployment of `ns` to `version` at once; until all are Ready on it. */
export async function rollAll(
  http: KubeHttp,
  op: OperatorProc,
  runDir: string,
  user: string,
  ns: string,
  n: number,
  version: string,
): Promise<ThroughputResult> {
  await publishCatalogue(
    http,
    ns,
    Array.from({ length: n }, (_, i) => modelVersion(ns, mdName(i), version)),
  );
  const inf = new Informer(http, mdPath(ns));
  await inf.start();
  const before = await scrape(op.port);
  const fromByte = auditLogSize(runDir);
  const p0 = procSample(op.pid);
  let peak = p0.rssBytes;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, procSample(op.pid).rssBytes);
    } catch {
      // exited
    }
  }, 1000);
  const t0 = now();
  try {
    const done = whenCount(
      inf,
      (o) => mdReady(o, version),
      n,
      1_800_000,
      `${n} ModelDeployments on ${version}`,
    );
    await applyAll(
      http,
      Array.from({ length: n }, (_, i) =>
        modelDeployment(ns, mdName(i), version, { replicas: 1, router: 'service' }),
      ),
    );
    const t1 = await done;
    const p1 = procSample(op.pid);
    const after = await scrape(op.port);
    await sleep(1000);
    const all = auditWrites(runDir, user, { fromByte, sinceMs: t0 - 1000, untilMs: t1 + 1000 });
    const writes = all.length;
    const results = ['success', 'requeue', 'error'];
    const byResult: Record<string, number> = {};
    for (const r of results) {
      byResult[r] =
        sumOf(after, 'controller_runtime_reconcile_total', { controller: 'modeldeployment', result: r }) -
        sumOf(before, 'controller_runtime_reconcile_total', { controller: 'modeldeployment', result: r });
    }
    const reconciles = Object.values(byResult).reduce((a, b) => a + b, 0);
    const seconds = (t1 - t0) / 1000;
    const qb = buckets(before, 'workqueue_queue_duration_seconds', { name: 'modeldeployment' });
    const qa = buckets(after, 'workqueue_queue_duration_seconds', { name: 'modeldeployment' });
    const rb = buckets(before, 'controller_runtime_reconcile_time_seconds', {
      controller: 'modeldeployment',
    });
    const ra = buckets(after, 'controller_runtime_reconcile_time_seconds', { controller: 'modeldeployment' });
    const r3 = (x: number): number => +x.toFixed(4);
    return {
      n,
      version,
      seconds: +seconds.toFixed(2),
      reconciles,
      reconcilesPerSecond: +(reconciles / seconds).toFixed(2),
      byResult,
      queueSeconds: {
        p50: r3(histogramQuantile(qb, qa, 0.5)),
        p90: r3(histogramQuantile(qb, qa, 0.9)),
        p99: r3(histogramQuantile(qb, qa, 0.99)),
      },
      reconcileSeconds: { p50: r3(histogramQuantile(rb, ra, 0.5)), p99: r3(histogramQuantile(rb, ra, 0.99)) },
      rssPeakMiB: +(peak / 2 ** 20).toFixed(1),
      cpuPercent: +((100 * (p1.cpuSeconds - p0.cpuSeconds)) / ((p1.at - p0.at) / 1000)).toFixed(1),
      apiWrites: writes,
      writesByVerb: byVerb(all),
    };
  } finally {
    clearInterval(sampler);
    inf.stop();
  }
}
