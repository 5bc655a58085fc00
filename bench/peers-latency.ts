// Benchmark "peers-latency" (issue 17, case d): a latency regression of a canary that is Ready and
// answers, judged by metric analysis against the same real Prometheus, in modelship
// (spec.strategy.analysis, built-in MeanLatency), Argo Rollouts (a background analysis: an
// AnalysisTemplate with its prometheus provider) and Flagger (a MetricTemplate with its prometheus
// provider), each with its defaults (as its docs' examples set them) and tuned (the shortest
// schedule). docs/benchmarks.md, "Peers", case (d).
//
// The pods: real Triton servers on the real data plane (hack/dataplane/), serving the same test
// model (test/harness/test-models.ts tunableModel, 40 ms a request). The peers' pod template is the
// one the operator renders for the same ModelVersion, captured from a settled ModelDeployment, with
// the pod label modelship.io/deployment kept: the Prometheus of hack/cluster/prometheus.sh scrapes
// only pods carrying it (no ModelDeployment of that name exists in the peers' namespaces, so the
// operator has nothing to do with them). Traffic: the benchmark sends KServe v2 requests to every
// Ready pod, one at a time, at most 10 a second per pod; the regression is the request parameter
// latency_ms 400 for every request to the canary's pods from t0 on (the mechanism of bench/analysis.ts).
//
// The same check in every tool: the mean request latency of the canary's pods over the window
// (sum(increase(nv_inference_request_duration_us)) / sum(increase(nv_inference_request_success)),
// in ms), failing above 100 ms, with no verdict (a pass for the peers, which have no "inconclusive")
// under 10 requests in the window.
//
// t0, common to all tools: the canary's pods Ready, the tool's analysis running and passing (modelship:
// condition AnalysisPassing ChecksPassing; Argo Rollouts: a successful measurement in the AnalysisRun;
// Flagger: a passed iteration), at least 10 canary requests in the window as Prometheus sees them;
// then every request to the canary takes 400 ms. "Safe", as in bench/peers.ts: the canary's workload
// has spec.replicas 0 (the revision Deployment, the canary ReplicaSet, Flagger's target Deployment),
// from a watch event stamped on receipt. Also taken: when the benchmark's own query, polled every
// 0.5 s, first shows the regression in Prometheus (the floor any tool could reach).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeHttp } from '../src/k8s/kube-http.js';
import { readConfig, type DataPlaneConfig } from '../test/harness/dataplane/config.js';
import { send } from '../test/harness/load.js';
import { tunableModel } from '../test/harness/test-models.js';
import {
  applyObj,
  deleteNamespace,
  ensureNamespace,
  fmt,
  Informer,
  now,
  repoRoot,
  summarize,
  when,
  type BenchCluster,
  type Obj,
} from './lib.js';
import { captureChildren } from './objects.js';
import { peerTemplate, type Peer, type PeerProc, type Settings, type Tool } from './peers.js';

export const THRESHOLD_MS = 100;
export const MIN_SAMPLES = 10;
const BASE_MS = 40;
const REGRESSED_MS = 400;
/** At most this many requests a second to each pod (the data plane shares 2 cores with everything). */
const PER_POD_RPS = 10;
const NAME = 'peer';

/** Each tool's schedule in each setting (the check itself is the same everywhere). */
export interface LatencySettings {
  /** The query window (the same for every tool in a setting: modelship's window). */
  window: string;
  modelship: { interval: string; failureLimit: number };
  argo: { interval: string; failureLimit: number };
  flagger: { interval: string; threshold: number };
}

export const LATENCY_SETTINGS: Record<Settings, LatencySettings> = {
  // modelship: its defaults (interval 10s, window 30s, failureLimit 1). Argo Rollouts: its docs'
  // background-analysis example (interval 5m, failureLimit 3; with no interval it measures once).
  // Flagger: its documented default interval (60s) and the threshold of its docs' examples (5).
  defaults: {
    window: '30s',
    modelship: { interval: '10s', failureLimit: 1 },
    argo: { interval: '5m', failureLimit: 3 },
    flagger: { interval: '60s', threshold: 5 },
  },
  // The scrape interval (2 s) as the interval, rolled back on the first failed measurement; Flagger
  // v1.36.1 takes any analysis interval under 10 s as 10 s (Canary.GetAnalysisInterval), so 10 s.
  tuned: {
    window: '4s',
    modelship: { interval: '2s', failureLimit: 1 },
    argo: { interval: '2s', failureLimit: 0 },
    flagger: { interval: '10s', threshold: 1 },
  },
};

/**
 * The PromQL every tool runs: the mean latency (ms) of the series `sel` selects over `window`, or 0
 * when the window holds fewer than `minSamples` requests (no verdict: below any threshold).
 */
export function meanLatencyQuery(sel: string, window: string, minSamples = MIN_SAMPLES): string {
  const inc = (m: string): string => `sum(increase(${m}{${sel}}[${window}]))`;
  const samples = `((${inc('nv_inference_request_success')} or vector(0)) + (${inc('nv_inference_request_failure')} or vector(0)))`;
  const mean = `(${inc('nv_inference_request_duration_us')} / ${inc('nv_inference_request_success')} / 1000)`;
  return `(${mean} and on() (${samples} >= ${minSamples})) or on() vector(0)`;
}

/** The request count of the window (what the benchmark waits on before t0). */
export function samplesQuery(sel: string, window: string): string {
  const inc = (m: string): string => `sum(increase(${m}{${sel}}[${window}]))`;
  return `(${inc('nv_inference_request_success')} or vector(0)) + (${inc('nv_inference_request_failure')} or vector(0))`;
}

export interface LatencyTrial {
  tool: Tool;
  settings: Settings;
  trial: number;
  namespace: string;
  /** t0 (regression starts) -> the canary workload at spec.replicas 0; null: not within capMs. */
  safeMs: number | null;
  capMs: number;
  /** t0 -> the benchmark's own poll of the query first reads above the threshold. */
  visibleMs: number | null;
  /** t0 -> the tool's verdict: modelship status lastRollback, Argo AnalysisRun Failed, Flagger Failed. */
  verdictMs: number | null;
  error?: string;
}

// ---- Prometheus -------------------------------------------------------------------------------------

async function promValue(url: string, query: string): Promise<number | undefined> {
  try {
    const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query })}`);
    const j = (await r.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
    const v = j.data?.result?.[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  } catch {
    return undefined;
  }
}

/** Polls `query` every 0.5 s until `pred` holds: the receipt time, or null after timeoutMs. */
async function promUntil(
  url: string,
  query: string,
  pred: (x: number) => boolean,
  timeoutMs: number,
  stop: { stopped: boolean } = { stopped: false },
): Promise<number | null> {
  const end = now() + timeoutMs;
  while (now() < end && !stop.stopped) {
    const v = await promValue(url, query);
    if (v !== undefined && pred(v)) return now();
    await sleep(500);
  }
  return null;
}

// ---- traffic -----------------------------------------------------------------------------------------

/**
 * Requests one at a time to every Ready pod of namespace `ns` labelled modelship.io/deployment, at
 * most PER_POD_RPS a second each; `params` by the key `keyOf` gives a pod (its revision, hash, role).
 */
class PacedLoad {
  readonly params = new Map<string, Record<string, number>>();
  private readonly workers = new Map<string, Promise<void>>();
  private live = new Map<string, string>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly http: KubeHttp,
    private readonly ns: string,
    private readonly model: string,
    private readonly keyOf: (p: Obj) => string | undefined,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const l = await this.http.getJson<{ items: Obj[] }>(`/api/v1/namespaces/${this.ns}/pods`, {
            labelSelector: `modelship.io/deployment=${NAME}`,
          });
          const live = new Map<string, string>();
          for (const p of l.items) {
            const ip = (p.status as { podIP?: string } | undefined)?.podIP;
            const k = this.keyOf(p);
            if (podReady(p) && ip && k && !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp)
              live.set(ip, k);
          }
          this.live = live;
          for (const [ip, k] of live) if (!this.workers.has(ip)) this.workers.set(ip, this.work(ip, k));
        } catch {
          // the next round lists again
        }
        await sleep(1000);
      }
    })();
  }

  private async work(ip: string, key: string): Promise<void> {
    while (!this.stopped && this.live.get(ip) === key) {
      const t = now();
      const code = await send(ip, this.model, this.params.get(key) ?? {});
      const gap = 1000 / PER_POD_RPS - (now() - t);
      await sleep(code === 0 ? 200 : Math.max(0, gap));
    }
    this.workers.delete(ip);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.workers.values());
  }
}

const podReady = (o: Obj): boolean =>
  ((o.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some(
    (c) => c.type === 'Ready' && c.status === 'True',
  );

// ---- the environment ------------------------------------------------------------------------------

export interface LatencyEnv {
  cfg: DataPlaneConfig;
  promUrl: string;
  scrapeInterval: string;
}

/** The real data plane and the real Prometheus beside the benchmark's cluster (root). */
export function startDataPlaneAndPrometheus(c: BenchCluster): LatencyEnv {
  const sh = (path: string): string =>
    execFileSync('bash', [join(repoRoot, 'hack', path)], {
      encoding: 'utf8',
      env: c.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const cfg = readConfig(sh('dataplane/up.sh').trim().split('\n').at(-1)!);
  const promEnv = Object.fromEntries(
    sh('cluster/prometheus.sh')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  return {
    cfg,
    promUrl: promEnv.MODELSHIP_PROMETHEUS_URL!,
    scrapeInterval: promEnv.MODELSHIP_PROMETHEUS_SCRAPE_INTERVAL ?? '2s',
  };
}

function onDataPlane(cfg: DataPlaneConfig): Record<string, unknown> {
  return {
    nodeSelector: { [cfg.nodeLabel]: 'true' },
    tolerations: [{ key: cfg.nodeLabel, operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
    resources: { requests: { cpu: '100m', memory: '256Mi' } },
  };
}

/** Publishes the test model as `version` in the data plane's store and applies its ModelVersion. */
async function release(http: KubeHttp, env: LatencyEnv, ns: string, version: string): Promise<void> {
  const path = `${ns}/${NAME}/${version}/model.py`;
  const content = tunableModel(version, { latencyMs: BASE_MS });
  const file = join(env.cfg.store.dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  await applyObj(http, {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: `${NAME}-${version}`, namespace: ns },
    spec: {
      model: NAME,
      version,
      runtime: 'triton',
      format: 'python',
      storageUri: `${env.cfg.store.url}/${path}`,
      digest: `sha256:${createHash('sha256').update(content).digest('hex')}`,
      interface: {
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4] }],
        outputs: [
          { name: 'OUTPUT0', datatype: 'FP32', shape: [4] },
          { name: 'MODEL_VERSION', datatype: 'BYTES', shape: [1] },
        ],
      },
    },
  });
}

function modelDeployment(ns: string, version: string, env: LatencyEnv, s: LatencySettings): Obj {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: NAME, namespace: ns },
    spec: {
      model: NAME,
      version,
      replicas: 1,
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 50 }, { pause: {} }] },
        analysis: {
          interval: s.modelship.interval,
          checks: [
            {
              name: 'latency',
              builtin: 'MeanLatency',
              threshold: THRESHOLD_MS,
              minSamples: MIN_SAMPLES,
              window: s.window,
              failureLimit: s.modelship.failureLimit,
            },
          ],
        },
      },
      traffic: { router: 'service' },
      pod: onDataPlane(env.cfg),
    },
  };
}

interface MdStatus {
  phase?: string;
  stableRevision?: string;
  canaryRevision?: string;
  canaryWeight?: number;
  lastRollback?: { from?: { revision?: string } };
  conditions?: Array<{ type: string; status: string; reason: string }>;
}
const mst = (o: Obj): MdStatus => (o.status ?? {}) as MdStatus;

/** The operator's pod template for the test model (a settled ModelDeployment) and its ConfigMaps. */
export interface LatencyTemplate {
  template: Record<string, unknown>;
  configMaps: Obj[];
}

export async function captureLatencyTemplate(
  http: KubeHttp,
  env: LatencyEnv,
  ns: string,
): Promise<LatencyTemplate> {
  await ensureNamespace(http, ns);
  await release(http, env, ns, '1.0.0');
  const mds = new Informer(http, `/apis/modelship.io/v1alpha1/namespaces/${ns}/modeldeployments`);
  await mds.start();
  try {
    await applyObj(http, modelDeployment(ns, '1.0.0', env, LATENCY_SETTINGS.tuned));
    const { o } = await when(mds, (x) => mst(x).phase === 'Healthy', 240_000, `${ns}: Healthy`);
    const rev = mst(o).stableRevision;
    const deps = await http.getJson<{ items: Obj[] }>(`/apis/apps/v1/namespaces/${ns}/deployments`, {
      labelSelector: `modelship.io/revision=${rev}`,
    });
    const d = deps.items[0];
    if (!d) throw new Error(`${ns}: no Deployment of revision ${rev}`);
    const t = peerTemplate(d.spec!.template as Record<string, unknown>) as {
      metadata: { labels: Record<string, string> };
    };
    // Prometheus scrapes only pods carrying it (hack/cluster/prometheus.sh).
    t.metadata.labels['modelship.io/deployment'] = NAME;
    const configMaps = (await captureChildren(http, ns, NAME))
      .filter((x) => x.kind === 'ConfigMap')
      .map((x) => ({ ...x, metadata: { name: x.metadata.name } }));
    return { template: t as Record<string, unknown>, configMaps };
  } finally {
    mds.stop();
  }
}

function withVersion(template: Record<string, unknown>, version: string): Record<string, unknown> {
  const t = JSON.parse(JSON.stringify(template)) as { metadata: { annotations?: Record<string, string> } };
  t.metadata.annotations = { ...t.metadata.annotations, 'bench.modelship.test/version': version };
  return t as Record<string, unknown>;
}

// ---- the peers' objects ------------------------------------------------------------------------------

export function argoObjects(
  ns: string,
  template: Record<string, unknown>,
  version: string,
  promUrl: string,
  s: LatencySettings,
): Obj[] {
  return [
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'latency', namespace: ns },
      spec: {
        args: [{ name: 'canary-hash' }],
        metrics: [
          {
            name: 'latency',
            interval: s.argo.interval,
            failureLimit: s.argo.failureLimit,
            successCondition: `result[0] <= ${THRESHOLD_MS}`,
            provider: {
              prometheus: {
                address: promUrl,
                query: meanLatencyQuery(
                  `namespace="${ns}",rollouts_pod_template_hash="{{args.canary-hash}}"`,
                  s.window,
                ),
              },
            },
          },
        ],
      },
    },
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: NAME, namespace: ns },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: NAME } },
        template: withVersion(template, version),
        strategy: {
          canary: {
            // A background analysis of the canary, from the first step on.
            analysis: {
              templates: [{ templateName: 'latency' }],
              args: [{ name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } }],
            },
            steps: [{ setWeight: 50 }, { pause: {} }],
          },
        },
      },
    },
  ];
}

export function flaggerObjects(
  ns: string,
  template: Record<string, unknown>,
  version: string,
  promUrl: string,
  s: LatencySettings,
): Obj[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: NAME, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: NAME } },
        template: withVersion(template, version),
      },
    },
    {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'latency', namespace: ns },
      spec: {
        provider: { type: 'prometheus', address: promUrl },
        // The canary's pods: the target Deployment's (`app: <target>`; the primary's are `<target>-primary`).
        query: meanLatencyQuery(`namespace="${ns}",app="${NAME}"`, s.window),
      },
    },
    {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: NAME, namespace: ns },
      spec: {
        provider: 'kubernetes',
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: NAME },
        service: { port: 8000 },
        analysis: {
          interval: s.flagger.interval,
          threshold: s.flagger.threshold,
          // Blue/green: enough iterations that the canary is still under analysis at the regression.
          iterations: 10_000,
          metrics: [
            {
              name: 'latency',
              templateRef: { name: 'latency', namespace: ns },
              thresholdRange: { max: THRESHOLD_MS },
              interval: s.window,
            },
          ],
        },
      },
    },
  ];
}

// ---- the trials ------------------------------------------------------------------------------------

interface TrialCtx {
  http: KubeHttp;
  env: LatencyEnv;
  ns: string;
  s: LatencySettings;
  capMs: number;
  tpl: LatencyTemplate;
  log: (s: string) => void;
}

type Outcome = Pick<LatencyTrial, 'safeMs' | 'visibleMs' | 'verdictMs'>;

/**
 * The common part of a trial once the canary is under analysis: waits for enough canary requests in
 * Prometheus, starts the regression (t0), and takes the times.
 */
async function regress(
  c: TrialCtx,
  load: PacedLoad,
  key: string,
  sel: string,
  safe: (capMs: number) => Promise<{ at: number }>,
  verdict: (capMs: number) => Promise<{ at: number }>,
): Promise<Outcome> {
  const enough = await promUntil(
    c.env.promUrl,
    samplesQuery(sel, c.s.window),
    (x) => x >= MIN_SAMPLES,
    120_000,
  );
  if (enough === null) throw new Error(`${c.ns}: fewer than ${MIN_SAMPLES} canary requests in Prometheus`);
  const t0 = now();
  load.params.set(key, { latency_ms: REGRESSED_MS });
  const stop = { stopped: false };
  const capped = (p: Promise<{ at: number }>): Promise<number | null> =>
    p.then(
      (r) => r.at - t0,
      () => null,
    );
  const visible = promUntil(
    c.env.promUrl,
    meanLatencyQuery(sel, c.s.window),
    (x) => x > THRESHOLD_MS,
    c.capMs,
    stop,
  ).then((t) => (t === null ? null : t - t0));
  const [safeMs, verdictMs] = await Promise.all([capped(safe(c.capMs)), capped(verdict(c.capMs))]);
  stop.stopped = true;
  return { safeMs, verdictMs, visibleMs: await visible };
}

async function modelshipTrial(c: TrialCtx): Promise<Outcome> {
  const { http, ns } = c;
  await ensureNamespace(http, ns);
  await release(http, c.env, ns, '1.0.0');
  await release(http, c.env, ns, '1.0.1');
  const mds = new Informer(http, `/apis/modelship.io/v1alpha1/namespaces/${ns}/modeldeployments`);
  const deps = new Informer(http, `/apis/apps/v1/namespaces/${ns}/deployments`);
  const load = new PacedLoad(http, ns, NAME, (p) => p.metadata.labels?.['modelship.io/revision']);
  await Promise.all([mds.start(), deps.start()]);
  load.start();
  try {
    await applyObj(http, modelDeployment(ns, '1.0.0', c.env, c.s));
    await when(mds, (x) => mst(x).phase === 'Healthy', 240_000, `${ns}: 1.0.0 Healthy`);
    await applyObj(http, modelDeployment(ns, '1.0.1', c.env, c.s));
    const { o } = await when(
      mds,
      (x) => {
        const s = mst(x);
        const passing = s.conditions?.find((k) => k.type === 'AnalysisPassing');
        return !!s.canaryRevision && s.canaryWeight === 50 && passing?.reason === 'ChecksPassing';
      },
      300_000,
      `${ns}: 1.0.1 at 50 % with its checks passing`,
    );
    const canary = mst(o).canaryRevision!;
    return await regress(
      c,
      load,
      canary,
      `namespace="${ns}",modelship_io_revision="${canary}"`,
      (cap) =>
        when(
          deps,
          (x) => x.metadata.labels?.['modelship.io/revision'] === canary && x.spec?.replicas === 0,
          cap,
          `${ns}: canary Deployment at 0`,
        ),
      (cap) =>
        when(mds, (x) => mst(x).lastRollback?.from?.revision === canary, cap, `${ns}: rollback in status`),
    );
  } finally {
    await load.stop();
    for (const i of [mds, deps]) i.stop();
  }
}

const HASH = 'rollouts-pod-template-hash';

async function argoTrial(c: TrialCtx): Promise<Outcome> {
  const { http, ns } = c;
  await ensureNamespace(http, ns);
  for (const cm of c.tpl.configMaps)
    await applyObj(http, { ...cm, metadata: { ...cm.metadata, namespace: ns } });
  const ros = new Informer(http, `/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts`);
  const rss = new Informer(http, `/apis/apps/v1/namespaces/${ns}/replicasets`);
  const runs = new Informer(http, `/apis/argoproj.io/v1alpha1/namespaces/${ns}/analysisruns`);
  const load = new PacedLoad(http, ns, NAME, (p) => p.metadata.labels?.[HASH]);
  await Promise.all([ros.start(), rss.start(), runs.start()]);
  load.start();
  type RS = { stableRS?: string; currentPodHash?: string; phase?: string; pauseConditions?: unknown[] };
  const rs = (o: Obj): RS => (o.status ?? {}) as RS;
  try {
    for (const o of argoObjects(ns, c.tpl.template, '1', c.env.promUrl, c.s)) await applyObj(http, o);
    const { o: healthy } = await when(
      ros,
      (o) => !!rs(o).stableRS && rs(o).stableRS === rs(o).currentPodHash && rs(o).phase === 'Healthy',
      240_000,
      `${ns}: Rollout Healthy on version 1`,
    );
    const stable = rs(healthy).stableRS!;
    await applyObj(http, argoObjects(ns, c.tpl.template, '2', c.env.promUrl, c.s)[1]!);
    const { o: withCanary } = await when(
      ros,
      (o) => !!rs(o).currentPodHash && rs(o).currentPodHash !== stable,
      60_000,
      `${ns}: a canary pod hash in status`,
    );
    const canary = rs(withCanary).currentPodHash!;
    const isCanary = (o: Obj): boolean => o.metadata.labels?.[HASH] === canary;
    await when(
      rss,
      (o) => isCanary(o) && ((o.status?.availableReplicas as number | undefined) ?? 0) >= 1,
      240_000,
      `${ns}: canary ReplicaSet available`,
    );
    await when(ros, (o) => (rs(o).pauseConditions ?? []).length > 0, 60_000, `${ns}: Rollout paused`);
    type Run = { phase?: string; metricResults?: Array<{ successful?: number }> };
    const run = (o: Obj): Run => (o.status ?? {}) as Run;
    await when(
      runs,
      (o) => isCanary(o) && run(o).phase === 'Running' && (run(o).metricResults?.[0]?.successful ?? 0) >= 1,
      600_000,
      `${ns}: the background analysis running with a successful measurement`,
    );
    return await regress(
      c,
      load,
      canary,
      `namespace="${ns}",rollouts_pod_template_hash="${canary}"`,
      (cap) => when(rss, (o) => isCanary(o) && o.spec?.replicas === 0, cap, `${ns}: canary ReplicaSet at 0`),
      (cap) => when(runs, (o) => isCanary(o) && run(o).phase === 'Failed', cap, `${ns}: AnalysisRun Failed`),
    );
  } finally {
    await load.stop();
    for (const i of [ros, rss, runs]) i.stop();
  }
}

async function flaggerTrial(c: TrialCtx): Promise<Outcome> {
  const { http, ns } = c;
  await ensureNamespace(http, ns);
  for (const cm of c.tpl.configMaps)
    await applyObj(http, { ...cm, metadata: { ...cm.metadata, namespace: ns } });
  const cans = new Informer(http, `/apis/flagger.app/v1beta1/namespaces/${ns}/canaries`);
  const deps = new Informer(http, `/apis/apps/v1/namespaces/${ns}/deployments`);
  const pods = new Informer(http, `/api/v1/namespaces/${ns}/pods`, { labelSelector: `app=${NAME}` });
  // The canary's pods are the target Deployment's (app: peer), the primary's app: peer-primary.
  const load = new PacedLoad(http, ns, NAME, (p) => p.metadata.labels?.app);
  await Promise.all([cans.start(), deps.start(), pods.start()]);
  load.start();
  type CS = { phase?: string; iterations?: number };
  const cs = (o: Obj): CS => (o.status ?? {}) as CS;
  try {
    for (const o of flaggerObjects(ns, c.tpl.template, '1', c.env.promUrl, c.s)) await applyObj(http, o);
    await when(cans, (o) => cs(o).phase === 'Initialized', 300_000, `${ns}: Canary Initialized`);
    await applyObj(http, flaggerObjects(ns, c.tpl.template, '2', c.env.promUrl, c.s)[0]!);
    const isCanary = (o: Obj): boolean => o.metadata.annotations?.['bench.modelship.test/version'] === '2';
    await when(pods, (o) => isCanary(o) && podReady(o), 240_000, `${ns}: canary pod Ready`);
    await when(
      cans,
      (o) => cs(o).phase === 'Progressing' && (cs(o).iterations ?? 0) >= 1,
      600_000,
      `${ns}: Canary Progressing with a passed iteration`,
    );
    return await regress(
      c,
      load,
      NAME,
      `namespace="${ns}",app="${NAME}"`,
      (cap) =>
        when(
          deps,
          (o) => o.metadata.name === NAME && o.spec?.replicas === 0,
          cap,
          `${ns}: canary Deployment at 0`,
        ),
      (cap) => when(cans, (o) => cs(o).phase === 'Failed', cap, `${ns}: Canary Failed`),
    );
  } finally {
    await load.stop();
    for (const i of [cans, deps, pods]) i.stop();
  }
}

// ---- the run -------------------------------------------------------------------------------------

export interface LatencyOptions {
  trials: number;
  defaultTrials: number;
  tunedCapSeconds: number;
  capSeconds: number;
  log: (s: string) => void;
}

export interface LatencyResult {
  peers: Array<{ tool: Peer; version: string; flags: string[] }>;
  settings: Record<Settings, LatencySettings>;
  check: string;
  regression: string;
  scrapeInterval: string;
  trials: LatencyTrial[];
  summary: LatencySummary[];
}

export async function runPeersLatency(
  c: BenchCluster,
  env: LatencyEnv,
  peers: PeerProc[],
  o: LatencyOptions,
): Promise<LatencyResult> {
  const { http, kube } = c;
  o.log('peers-latency: capturing the operator-rendered pod template on the data plane');
  const tpl = await captureLatencyTemplate(http, env, 'peers-lat-template');
  const out: LatencyTrial[] = [];
  const short: Record<Tool, string> = {
    modelship: 'ms',
    'argo-rollouts': 'argo',
    flagger: 'fl',
    'flagger-gatewayapi': 'flgw',
  };
  const lane = async (tool: Tool, settings: Settings, trial: number, capMs: number): Promise<void> => {
    const ns = `peers-lat-${short[tool]}-${settings.slice(0, 1)}-${trial}`;
    const ctx: TrialCtx = { http, env, ns, s: LATENCY_SETTINGS[settings], capMs, tpl, log: o.log };
    const started = now();
    let r: Outcome & { error?: string };
    try {
      r =
        tool === 'modelship'
          ? await modelshipTrial(ctx)
          : tool === 'argo-rollouts'
            ? await argoTrial(ctx)
            : await flaggerTrial(ctx);
    } catch (err) {
      r = { safeMs: null, visibleMs: null, verdictMs: null, error: (err as Error).message };
    }
    const t: LatencyTrial = { tool, settings, trial, namespace: ns, capMs, ...r };
    out.push(t);
    const ms = (x: number | null): string => (x === null ? '-' : `+${fmt(x, 0)} ms`);
    o.log(
      `  ${tool} ${settings} #${trial}: safe ${t.safeMs === null ? `> ${capMs / 1000} s` : ms(t.safeMs)}, ` +
        `visible in Prometheus ${ms(t.visibleMs)}, verdict ${ms(t.verdictMs)}` +
        (t.error ? `, ERROR ${t.error}` : '') +
        ` (trial ${((now() - started) / 1000).toFixed(1)} s)`,
    );
    // The pods go now: the data plane runs each as real processes on the shared cores.
    void deleteNamespace(kube, ns);
  };
  // (Flagger's Gateway API provider is not tried for this case: only its kubernetes provider.)
  const tools: Tool[] = ['modelship', ...peers.map((p) => p.tool).filter((t) => t !== 'flagger-gatewayapi')];
  // Tuned: one tool at a time, its trials one after the other.
  for (const tool of tools) {
    o.log(`peers-latency: ${tool}, tuned: ${o.trials} trial(s) (cap ${o.tunedCapSeconds} s)`);
    for (let i = 0; i < o.trials; i++) await lane(tool, 'tuned', i, o.tunedCapSeconds * 1000);
  }
  // Defaults (Argo Rollouts' example schedule takes 15 to 20 minutes): every trial of every tool at once.
  if (o.defaultTrials > 0) {
    o.log(
      `peers-latency: defaults, ${o.defaultTrials} trial(s) for each tool, all at once (cap ${o.capSeconds} s)`,
    );
    await Promise.all(
      tools.flatMap((tool) =>
        Array.from({ length: o.defaultTrials }, (_, i) => lane(tool, 'defaults', i, o.capSeconds * 1000)),
      ),
    );
  }
  await Promise.all(
    [...out.map((t) => t.namespace), 'peers-lat-template'].map((ns) => deleteNamespace(kube, ns)),
  );
  return {
    peers: peers.map((p) => ({ tool: p.tool, version: p.version, flags: p.flags })),
    settings: LATENCY_SETTINGS,
    check: `mean latency (ms) of the canary's pods over the window > ${THRESHOLD_MS} fails; under ${MIN_SAMPLES} requests no verdict`,
    regression: `${BASE_MS} ms -> ${REGRESSED_MS} ms per request, at most ${PER_POD_RPS} requests/s per pod`,
    scrapeInterval: env.scrapeInterval,
    trials: out,
    summary: summarizeLatency(out),
  };
}

// ---- the summary (pure) -----------------------------------------------------------------------------

export interface LatencySummary {
  settings: Settings;
  peer: Peer;
  modelship: { n: number; p50: number; min: number; max: number } | null;
  /** The peer's times (ms); null where beyond the cap. */
  other: { n: number; p50: number | null; min: number | null; max: number | null; overCap: number };
  /** Peer median / modelship median; null when the peer's median is beyond the cap. */
  ratioOfMedians: number | null;
  /** Trial i of the peer over trial i of modelship (a lower bound where the peer hit the cap). */
  pairRatios: Array<{ ratio: number; lowerBound: boolean }>;
}

/** Nearest-rank median of values where Infinity stands for "beyond the cap". */
function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(0.5 * s.length) - 1)]!;
}

/** Per settings and peer: both tools' medians and ranges of time to safe, and the peer's over modelship's. */
export function summarizeLatency(trials: LatencyTrial[]): LatencySummary[] {
  const rows: LatencySummary[] = [];
  for (const settings of ['tuned', 'defaults'] as const) {
    const of = (tool: Tool): LatencyTrial[] =>
      trials
        .filter((t) => t.settings === settings && t.tool === tool && !t.error)
        .sort((a, b) => a.trial - b.trial);
    const ms = of('modelship').filter((t) => t.safeMs !== null);
    const m = ms.length ? summarize(ms.map((t) => t.safeMs!)) : undefined;
    for (const peer of ['argo-rollouts', 'flagger'] as const) {
      const ar = of(peer);
      if (ar.length === 0) continue;
      const av = ar.map((t) => t.safeMs ?? Infinity);
      const fin = (x: number): number | null => (Number.isFinite(x) ? x : null);
      const med = medianOf(av);
      const pairRatios = ar
        .map((a) => {
          const mm = ms.find((x) => x.trial === a.trial);
          if (!mm) return undefined;
          const denom = Math.max(mm.safeMs!, 1);
          return a.safeMs === null
            ? { ratio: a.capMs / denom, lowerBound: true }
            : { ratio: a.safeMs / denom, lowerBound: false };
        })
        .filter((x): x is { ratio: number; lowerBound: boolean } => !!x);
      rows.push({
        settings,
        peer,
        modelship: m ? { n: m.n, p50: m.p50, min: m.min, max: m.max } : null,
        other: {
          n: ar.length,
          p50: fin(med),
          min: fin(Math.min(...av)),
          max: fin(Math.max(...av)),
          overCap: ar.filter((t) => t.safeMs === null).length,
        },
        ratioOfMedians: m && Number.isFinite(med) ? med / Math.max(m.p50, 1) : null,
        pairRatios,
      });
    }
  }
  return rows;
}

const sec = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(ms < 10_000 ? 2 : 1));

export function printLatency(r: LatencyResult): void {
  const rows = r.summary.map((s) => {
    const lo = Math.min(...s.pairRatios.map((p) => p.ratio));
    const hi = Math.max(...s.pairRatios.map((p) => p.ratio));
    return {
      settings: s.settings,
      peer: s.peer,
      'modelship s': s.modelship
        ? `${sec(s.modelship.p50)} (${sec(s.modelship.min)}–${sec(s.modelship.max)}), n ${s.modelship.n}`
        : '-',
      'peer s': `${s.other.p50 === null ? '> cap' : sec(s.other.p50)} (${sec(s.other.min)}–${s.other.max === null ? '> cap' : sec(s.other.max)}), n ${s.other.n}, ${s.other.overCap} over the cap`,
      'ratio of medians': s.ratioOfMedians === null ? '-' : fmt(s.ratioOfMedians, 1),
      'per-trial ratios': s.pairRatios.length
        ? `${fmt(lo, 1)}–${fmt(hi, 1)}${s.pairRatios.some((p) => p.lowerBound) ? ' (some > cap)' : ''}`
        : '-',
    };
  });
  process.stdout.write(
    `\n## peers-latency: latency regression -> canary scaled to 0 (${r.peers.map((p) => `${p.tool} v${p.version}`).join(', ')} beside modelship; median (min–max))\n\n`,
  );
  const cols = Object.keys(rows[0] ?? {});
  if (cols.length) {
    process.stdout.write(`| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n`);
    for (const row of rows)
      process.stdout.write(`| ${cols.map((k) => String(row[k as keyof typeof row])).join(' | ')} |\n`);
  }
  process.stdout.write('\nper trial (s: safe / visible / verdict):\n');
  for (const t of r.trials)
    process.stdout.write(
      `  ${t.tool} ${t.settings} #${t.trial}: ${sec(t.safeMs)} / ${sec(t.visibleMs)} / ${sec(t.verdictMs)}${t.error ? ` ERROR ${t.error}` : ''}\n`,
    );
}
