// Benchmark "peers": time to safe for modelship and for Argo Rollouts side by side, on the same local
// cluster, with the same pods and the same kwok faults (docs/benchmarks.md, "Peers").
//
// The pods: Argo Rollouts' Rollout carries the pod template that the operator rendered for the same
// ModelVersion (captured from a settled ModelDeployment), relabelled so that neither tool sees the
// other's pods. The faults: the kwok Stages of hack/cluster/kwok-stages.yaml, selected by the pod
// annotation both tools' templates carry (or that the benchmark adds to running canary pods).
//
// "Safe", the same for both tools: the tool has taken the failed canary out, i.e. the canary's
// workload (modelship: the revision Deployment; Argo Rollouts: the canary ReplicaSet) has
// spec.replicas 0. Counted from the moment the failure is visible on a canary pod (the first
// CrashLoopBackOff status, or for a canary that is never Ready, its first status running but not
// Ready), each stamped on receipt by a watch. Both tools run as separate processes against the same
// apiserver, each managing only its own kind of object, each trial in a namespace of its own.
//
// The canary: 1 pod at 50 % in both. modelship: replicas 1 with an HTTPRoute split 50/50 (steps
// setWeight 50, pause 1 h). Argo Rollouts: replicas 2 with a replica-ratio canary (steps setWeight 50,
// pause without duration), so 1 canary pod beside 1 stable pod (with replicas 1 Argo Rollouts would
// scale the stable ReplicaSet to 0 once the canary is available).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeHttp } from '../src/k8s/kube-http.js';
import {
  applyObj,
  deleteNamespace,
  ensureNamespace,
  fmt,
  freePort,
  Informer,
  now,
  repoRoot,
  sleep,
  summarize,
  when,
  type BenchCluster,
  type Kube,
  type Obj,
} from './lib.js';
import { FAULT } from './objects.js';
import { runningNotReady, TimeToSafe, type TtsTrial } from './time-to-safe.js';
import { run } from '../test/harness/process.js';

export type PeerKind = TtsTrial['kind'];
export const PEER_KINDS: PeerKind[] = ['crash-from-start', 'ready-then-crash', 'never-ready'];
export type Settings = 'defaults' | 'tuned';
export type Tool = 'modelship' | 'argo-rollouts';

export interface PeerTrial {
  tool: Tool;
  settings: Settings;
  kind: PeerKind;
  trial: number;
  namespace: string;
  /** Failure visible -> canary workload spec.replicas 0; null when it did not happen within capMs. */
  safeMs: number | null;
  capMs: number;
  /** modelship: the HTTPRoute 100 % stable and status.history RolledBack. */
  routeStableMs?: number;
  rolledBackStatusMs?: number | null;
  /** Argo Rollouts: status.abort set, status.phase Degraded (null: not within capMs). */
  abortedMs?: number | null;
  degradedMs?: number | null;
  error?: string;
}

export interface PeerOptions {
  trials: number;
  defaultTrials: number;
  /** progressDeadlineSeconds of the tuned settings (both tools). */
  deadlineSeconds: number;
  /** How long a trial waits for "safe" after the failure: with the defaults, and tuned. */
  capSeconds: number;
  tunedCapSeconds: number;
  log: (s: string) => void;
}

// ---- Argo Rollouts as a process -------------------------------------------------------------------

export interface ArgoRollouts {
  version: string;
  pid: number;
  log: string;
  stop(): Promise<void>;
}

/**
 * Builds Argo Rollouts once (hack/tools/argo-rollouts.sh: from the Go module proxy into the cache,
 * never into the repository), installs its CRDs and starts its controller with the cluster's admin
 * kubeconfig (it needs cluster-wide rights on ReplicaSets, Services and its own kinds; leader election
 * off, its metrics and health ports on free loopback ports).
 */
export async function startArgoRollouts(c: BenchCluster, log: (s: string) => void): Promise<ArgoRollouts> {
  log('peers: building Argo Rollouts (hack/tools/argo-rollouts.sh; once, then cached)');
  const built = await run('bash', [join(repoRoot, 'hack', 'tools', 'argo-rollouts.sh')]);
  if (built.code !== 0) throw new Error(`hack/tools/argo-rollouts.sh failed:\n${built.stderr}`);
  const dir = built.stdout.trim();
  const version = /argo-rollouts-v([^/]+)$/.exec(dir)?.[1] ?? 'unknown';
  for (const f of readdirSync(join(dir, 'crds'))) {
    await c.kube.ok(['apply', '--server-side', '--force-conflicts', '-f', join(dir, 'crds', f)]);
  }
  // `kubectl wait` fails at once on a CRD whose status has no conditions yet: ask again.
  for (let i = 0; ; i++) {
    const w = await c.kube.run([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/rollouts.argoproj.io',
    ]);
    if (w.code === 0) break;
    if (i >= 30) throw new Error(`the Rollout CRD is not Established: ${w.stderr.trim()}`);
    await sleep(1000);
  }
  const [metrics, healthz] = [await freePort(), await freePort()];
  const logFile = join(c.runDir, 'logs', 'rollouts-controller.log');
  const out = createWriteStream(logFile);
  const proc: ChildProcess = spawn(
    join(dir, 'rollouts-controller'),
    [
      '--kubeconfig',
      c.kubeconfig,
      '--leader-elect=false',
      `--metricsPort=${metrics}`,
      `--healthzPort=${healthz}`,
      '--loglevel=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null)
      throw new Error(`rollouts-controller exited (${proc.exitCode}); see ${logFile}`);
    try {
      if ((await fetch(`http://127.0.0.1:${healthz}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`rollouts-controller not healthy in 120 s; see ${logFile}`);
    await sleep(200);
  }
  log(`peers: Argo Rollouts v${version} running (pid ${proc.pid}, log ${logFile})`);
  return {
    version,
    pid: proc.pid!,
    log: logFile,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---- the Rollout --------------------------------------------------------------------------------

const PEER_APP = 'peer';
const VERSION_ANNOTATION = 'bench.modelship.test/version';

/**
 * The operator's pod template without its modelship labels and annotations (so the operator's
 * watches never count these pods), labelled for the Rollout's selector.
 */
export function peerTemplate(rendered: Record<string, unknown>): Record<string, unknown> {
  const t = JSON.parse(JSON.stringify(rendered)) as {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  };
  const keep = (m: Record<string, string> = {}): Record<string, string> =>
    Object.fromEntries(
      Object.entries(m).filter(([k]) => !k.includes('modelship.io') && !k.startsWith('app.kubernetes.io/')),
    );
  t.metadata = { labels: { app: PEER_APP }, annotations: keep(t.metadata?.annotations) };
  return t as Record<string, unknown>;
}

export interface RolloutOpts {
  version: string;
  fault?: 'crashloop' | 'never-ready';
  /** Tuned as Argo Rollouts' docs advise: abort on the progress deadline, a short deadline. */
  tunedDeadlineSeconds?: number;
}

export function rollout(ns: string, template: Record<string, unknown>, o: RolloutOpts): Obj {
  const t = JSON.parse(JSON.stringify(template)) as { metadata: { annotations: Record<string, string> } };
  t.metadata.annotations = {
    ...t.metadata.annotations,
    [VERSION_ANNOTATION]: o.version,
    ...(o.fault ? { [FAULT]: o.fault } : {}),
  };
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: PEER_APP, namespace: ns },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: PEER_APP } },
      template: t,
      ...(o.tunedDeadlineSeconds
        ? { progressDeadlineSeconds: o.tunedDeadlineSeconds, progressDeadlineAbort: true }
        : {}),
      strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
    },
  };
}

interface RolloutStatus {
  stableRS?: string;
  currentPodHash?: string;
  phase?: string;
  abort?: boolean;
  pauseConditions?: unknown[];
  observedGeneration?: string;
}
const rs = (o: Obj): RolloutStatus => (o.status ?? {}) as RolloutStatus;
const HASH = 'rollouts-pod-template-hash';

const crashLooping = (o: Obj): boolean =>
  (
    (o.status as { containerStatuses?: Array<{ state?: { waiting?: { reason?: string } } }> } | undefined)
      ?.containerStatuses ?? []
  ).some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff');

/** Resolves with the receipt time, or null when `p` timed out (the cap). */
const capped = (p: Promise<{ at: number }>): Promise<number | null> =>
  p.then(
    (r) => r.at,
    () => null,
  );

/** One Argo Rollouts trial in namespace `ns`: a healthy stable version, then a failing canary. */
async function argoTrial(
  http: KubeHttp,
  kube: Kube,
  ns: string,
  template: Record<string, unknown>,
  kind: PeerKind,
  tunedDeadlineSeconds: number | undefined,
  capMs: number,
): Promise<Omit<PeerTrial, 'tool' | 'settings' | 'trial' | 'namespace'>> {
  await ensureNamespace(http, ns);
  const ros = new Informer(http, `/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts`);
  const rss = new Informer(http, `/apis/apps/v1/namespaces/${ns}/replicasets`);
  const pods = new Informer(http, `/api/v1/namespaces/${ns}/pods`, { labelSelector: `app=${PEER_APP}` });
  await Promise.all([ros.start(), rss.start(), pods.start()]);
  try {
    const base = tunedDeadlineSeconds ? { tunedDeadlineSeconds } : {};
    await applyObj(http, rollout(ns, template, { version: '1', ...base }));
    const { o: healthy } = await when(
      ros,
      (o) => !!rs(o).stableRS && rs(o).stableRS === rs(o).currentPodHash && rs(o).phase === 'Healthy',
      120_000,
      `${ns}: Rollout Healthy on version 1`,
    );
    const stable = rs(healthy).stableRS!;
    const fault =
      kind === 'never-ready' ? 'never-ready' : kind === 'crash-from-start' ? 'crashloop' : undefined;
    await applyObj(http, rollout(ns, template, { version: '2', ...(fault ? { fault } : {}), ...base }));
    const { o: withCanary } = await when(
      ros,
      (o) => !!rs(o).currentPodHash && rs(o).currentPodHash !== stable,
      60_000,
      `${ns}: a canary pod hash in status`,
    );
    const canary = rs(withCanary).currentPodHash!;
    const isCanary = (o: Obj): boolean => o.metadata.labels?.[HASH] === canary;
    if (kind === 'ready-then-crash') {
      // At the pause step with its pod available: the canary carries its 50 % when it fails.
      await when(
        rss,
        (o) => isCanary(o) && ((o.status?.availableReplicas as number | undefined) ?? 0) >= 1,
        60_000,
        `${ns}: canary ReplicaSet available`,
      );
      await when(ros, (o) => (rs(o).pauseConditions ?? []).length > 0, 60_000, `${ns}: Rollout paused`);
      const names = [...pods.items.values()].filter(isCanary).map((p) => p.metadata.name);
      await Promise.all(
        names.map((p) => kube.ok(['annotate', 'pod', p, '-n', ns, `${FAULT}=crashloop`, '--overwrite'])),
      );
    }
    const failure = await when(
      pods,
      (o) => isCanary(o) && (kind === 'never-ready' ? runningNotReady(o) : crashLooping(o)),
      120_000,
      `${ns}: canary failure visible`,
    );
    const t0 = failure.at;
    // Armed after the failure: by then the canary ReplicaSet has been scaled up (it starts at 0).
    const [scaled, aborted, degraded] = await Promise.all([
      capped(when(rss, (o) => isCanary(o) && o.spec?.replicas === 0, capMs, `${ns}: canary ReplicaSet at 0`)),
      capped(when(ros, (o) => rs(o).abort === true, capMs, `${ns}: Rollout aborted`)),
      capped(when(ros, (o) => rs(o).phase === 'Degraded', capMs, `${ns}: Rollout Degraded`)),
    ]);
    const since = (t: number | null): number | null => (t === null ? null : Math.max(0, t - t0));
    return {
      kind,
      safeMs: since(scaled),
      capMs,
      abortedMs: since(aborted),
      degradedMs: since(degraded),
    };
  } finally {
    for (const i of [ros, rss, pods]) i.stop();
  }
}

/** One modelship trial in namespace `ns` (bench/time-to-safe.ts with a ModelDeployment of its own). */
async function modelshipTrial(
  http: KubeHttp,
  kube: Kube,
  ns: string,
  kind: PeerKind,
  tunedDeadlineSeconds: number | undefined,
  capMs: number,
): Promise<Omit<PeerTrial, 'tool' | 'settings' | 'trial' | 'namespace'>> {
  const tts = new TimeToSafe(http, kube, '2', {
    ns,
    md: 'peer',
    ...(tunedDeadlineSeconds ? { progressDeadlineSeconds: tunedDeadlineSeconds } : {}),
  });
  try {
    await tts.setup();
    const t = await tts.trial(kind, capMs);
    return {
      kind,
      safeMs: t.scaledToZeroMs,
      capMs,
      routeStableMs: t.timeToSafeMs,
      rolledBackStatusMs: t.rolledBackStatusMs,
    };
  } finally {
    tts.stop();
  }
}

/** The pod template the operator renders for the benchmark's ModelVersion (a settled ModelDeployment). */
async function capturedTemplate(http: KubeHttp, kube: Kube): Promise<Record<string, unknown>> {
  const ns = 'peers-template';
  const tts = new TimeToSafe(http, kube, '2', { ns, md: 'peer' });
  try {
    await tts.setup();
    return peerTemplate(tts.stableTemplate());
  } finally {
    tts.stop();
  }
}

// ---- the run --------------------------------------------------------------------------------------

interface Lane {
  tool: Tool;
  settings: Settings;
  kind: PeerKind;
  trial: number;
}

export interface PeersResult {
  argoRollouts: { version: string; controllerFlags: string[] };
  flagger: string;
  settings: Record<Settings, Record<Tool, string>>;
  capSeconds: number;
  tunedCapSeconds: number;
  deadlineSeconds: number;
  trials: PeerTrial[];
  summary: PeerSummary[];
}

export interface PeerSummary {
  settings: Settings;
  kind: PeerKind;
  modelship: { n: number; p50: number; min: number; max: number };
  argo: { n: number; p50: number | null; min: number | null; max: number | null; overCap: number };
  /** Argo median / modelship median; null when Argo's median is beyond the cap. */
  ratioOfMedians: number | null;
  /** Per trial index pair: Argo / modelship (a lower bound, "> x", where Argo hit the cap). */
  pairRatios: Array<{ ratio: number; lowerBound: boolean }>;
}

export async function runPeers(
  c: BenchCluster,
  argo: ArgoRollouts,
  o: PeerOptions,
  flagger: string,
): Promise<PeersResult> {
  const { http, kube } = c;
  const template = await capturedTemplate(http, kube);
  o.log('peers: captured the operator-rendered pod template for the Rollouts');
  const out: PeerTrial[] = [];
  const runLane = async (l: Lane, capMs: number): Promise<void> => {
    const ns = `peers-${l.tool === 'modelship' ? 'ms' : 'argo'}-${l.settings.slice(0, 1)}-${l.kind}-${l.trial}`;
    const tuned = l.settings === 'tuned' ? o.deadlineSeconds : undefined;
    const started = now();
    let r: Omit<PeerTrial, 'tool' | 'settings' | 'trial' | 'namespace'>;
    try {
      r =
        l.tool === 'modelship'
          ? await modelshipTrial(http, kube, ns, l.kind, tuned, capMs)
          : await argoTrial(http, kube, ns, template, l.kind, tuned, capMs);
    } catch (err) {
      r = { kind: l.kind, safeMs: null, capMs, error: (err as Error).message };
    }
    const t: PeerTrial = { ...l, namespace: ns, ...r };
    out.push(t);
    o.log(
      `  ${l.tool} ${l.settings} ${l.kind} #${l.trial}: safe ${t.safeMs === null ? `> ${capMs / 1000} s` : `+${fmt(t.safeMs, 0)} ms`}` +
        (t.abortedMs !== undefined
          ? `, aborted ${t.abortedMs === null ? '-' : `+${fmt(t.abortedMs, 0)} ms`}`
          : '') +
        (t.degradedMs !== undefined
          ? `, Degraded ${t.degradedMs === null ? '-' : `+${fmt(t.degradedMs, 0)} ms`}`
          : '') +
        (t.error ? `, ERROR ${t.error}` : '') +
        ` (trial ${((now() - started) / 1000).toFixed(1)} s)`,
    );
  };
  // Kinds run side by side, trials of a kind one after the other; one tool at a time, so neither
  // tool's figures carry the other's load.
  const phase = async (tool: Tool, settings: Settings, trials: number, capMs: number): Promise<void> => {
    o.log(`peers: ${tool}, ${settings}: ${trials} trial(s) of each kind (cap ${capMs / 1000} s)`);
    await Promise.all(
      PEER_KINDS.map(async (kind) => {
        for (let i = 0; i < trials; i++) await runLane({ tool, settings, kind, trial: i }, capMs);
      }),
    );
  };
  const capMs = o.capSeconds * 1000;
  await phase('modelship', 'tuned', o.trials, o.tunedCapSeconds * 1000);
  await phase('argo-rollouts', 'tuned', o.trials, o.tunedCapSeconds * 1000);
  // The defaults take minutes per trial (progress deadlines of 300 s and 600 s): every trial at
  // once, both tools, fewer of them.
  o.log(
    `peers: defaults, ${o.defaultTrials} trial(s) of each kind for each tool, all at once (cap ${o.capSeconds} s)`,
  );
  await Promise.all(
    (['modelship', 'argo-rollouts'] as const).flatMap((tool) =>
      PEER_KINDS.flatMap((kind) =>
        Array.from({ length: o.defaultTrials }, (_, i) =>
          runLane({ tool, settings: 'defaults', kind, trial: i }, capMs),
        ),
      ),
    ),
  );
  o.log('peers: deleting the trial namespaces');
  await Promise.all(
    [...new Set(out.map((t) => t.namespace)), 'peers-template'].map((ns) => deleteNamespace(kube, ns)),
  );

  return {
    argoRollouts: { version: argo.version, controllerFlags: ['--leader-elect=false'] },
    flagger,
    settings: {
      defaults: {
        modelship:
          'strategy defaults (progressDeadlineSeconds 300, maxRestarts 3, autoRollback true); operator --unready-grace 10s (its default)',
        'argo-rollouts': 'Rollout defaults (progressDeadlineSeconds 600, progressDeadlineAbort false)',
      },
      tuned: {
        modelship: `strategy.progressDeadlineSeconds ${o.deadlineSeconds}`,
        'argo-rollouts': `progressDeadlineAbort true, progressDeadlineSeconds ${o.deadlineSeconds}`,
      },
    },
    capSeconds: o.capSeconds,
    tunedCapSeconds: o.tunedCapSeconds,
    deadlineSeconds: o.deadlineSeconds,
    trials: out,
    summary: summarizePeers(out),
  };
}

/** Per settings and kind: both tools' medians and ranges, and Argo's as a ratio to modelship's. */
export function summarizePeers(trials: PeerTrial[]): PeerSummary[] {
  const rows: PeerSummary[] = [];
  for (const settings of ['tuned', 'defaults'] as const) {
    for (const kind of PEER_KINDS) {
      const of = (tool: Tool): PeerTrial[] =>
        trials
          .filter((t) => t.settings === settings && t.kind === kind && t.tool === tool && !t.error)
          .sort((a, b) => a.trial - b.trial);
      const ms = of('modelship');
      const ar = of('argo-rollouts');
      if (ms.length === 0 || ar.length === 0) continue;
      const m = summarize(ms.map((t) => t.safeMs ?? t.capMs));
      // Beyond the cap counts as +Infinity for the order statistics.
      const av = ar.map((t) => t.safeMs ?? Infinity).sort((x, y) => x - y);
      // The nearest-rank median, as summarize() takes it.
      const med = av[Math.max(0, Math.ceil(0.5 * av.length) - 1)]!;
      const fin = (x: number | undefined): number | null =>
        x === undefined || !Number.isFinite(x) ? null : x;
      const pairRatios = ar
        .map((a) => {
          const mm = ms.find((x) => x.trial === a.trial);
          if (!mm || mm.safeMs === null) return undefined;
          const denom = Math.max(mm.safeMs, 1);
          return a.safeMs === null
            ? { ratio: a.capMs / denom, lowerBound: true }
            : { ratio: a.safeMs / denom, lowerBound: false };
        })
        .filter((x): x is { ratio: number; lowerBound: boolean } => !!x);
      rows.push({
        settings,
        kind,
        modelship: { n: m.n, p50: m.p50, min: m.min, max: m.max },
        argo: {
          n: ar.length,
          p50: fin(med),
          min: fin(av[0]),
          max: fin(av[av.length - 1]),
          overCap: ar.filter((t) => t.safeMs === null).length,
        },
        ratioOfMedians: fin(med) === null ? null : med / Math.max(m.p50, 1),
        pairRatios,
      });
    }
  }
  return rows;
}

const sec = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(ms < 10_000 ? 3 : 1));

export function printPeers(r: PeersResult): void {
  const rows = r.summary.map((s) => {
    const over = s.argo.overCap;
    const capSeconds = s.settings === 'tuned' ? r.tunedCapSeconds : r.capSeconds;
    const argo =
      s.argo.p50 === null
        ? `> ${capSeconds} (${over} of ${s.argo.n} beyond the cap)`
        : `${sec(s.argo.p50)} (${sec(s.argo.min)}–${s.argo.max === null ? `> ${capSeconds}` : sec(s.argo.max)})`;
    const lo = Math.min(...s.pairRatios.map((p) => p.ratio));
    const hi = Math.max(...s.pairRatios.map((p) => p.ratio));
    return {
      settings: s.settings,
      canary: s.kind,
      'modelship s': `${sec(s.modelship.p50)} (${sec(s.modelship.min)}–${sec(s.modelship.max)}), n ${s.modelship.n}`,
      'Argo Rollouts s': `${argo}, n ${s.argo.n}`,
      'ratio of medians':
        s.ratioOfMedians === null
          ? `> ${fmt((capSeconds * 1000) / Math.max(s.modelship.p50, 1), 0)}`
          : fmt(s.ratioOfMedians, 0),
      'per-trial ratios': s.pairRatios.length
        ? `${fmt(lo, 0)}–${fmt(hi, 0)}${s.pairRatios.some((p) => p.lowerBound) ? ' (some > cap)' : ''}`
        : '-',
    };
  });
  process.stdout.write(
    `\n## peers: failure visible -> canary scaled to 0, Argo Rollouts v${r.argoRollouts.version} beside modelship (median (min–max))\n\n`,
  );
  const cols = Object.keys(rows[0] ?? {});
  if (cols.length) {
    process.stdout.write(`| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n`);
    for (const row of rows)
      process.stdout.write(`| ${cols.map((k) => String(row[k as keyof typeof row])).join(' | ')} |\n`);
  }
  process.stdout.write(`\nsettings: ${JSON.stringify(r.settings)}\nFlagger: ${r.flagger}\n`);
}

/** Why Flagger is not measured beside them (docs/benchmarks.md, "Peers"). */
export const FLAGGER_NOTE = 'not measured: see docs/benchmarks.md, "Peers"';
