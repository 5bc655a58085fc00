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
import { captureChildren, FAULT } from './objects.js';
import { runningNotReady, TimeToSafe, type TtsTrial } from './time-to-safe.js';
import { run } from '../test/harness/process.js';

export type PeerKind = TtsTrial['kind'];
export const PEER_KINDS: PeerKind[] = ['crash-from-start', 'ready-then-crash', 'never-ready'];
export type Settings = 'defaults' | 'tuned';
/** flagger-gatewayapi: the same Flagger process, its Canaries with `provider: gatewayapi:v1`. */
export type Tool = 'modelship' | 'argo-rollouts' | 'flagger' | 'flagger-gatewayapi';
export type Peer = Exclude<Tool, 'modelship'>;

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
  /** Argo Rollouts: status.abort set, status.phase Degraded; Flagger: Canary phase Failed (in abortedMs). */
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

// ---- the peers as processes --------------------------------------------------------------------------

export interface PeerProc {
  tool: Peer;
  version: string;
  pid: number;
  log: string;
  flags: string[];
  stop(): Promise<void>;
}

/** Builds a peer (hack/tools/<tool>.sh), installs its CRDs, returns its cache directory and version. */
async function buildPeer(
  c: BenchCluster,
  tool: Peer,
  crd: string,
  log: (s: string) => void,
): Promise<{ dir: string; version: string }> {
  log(`peers: building ${tool} (hack/tools/${tool}.sh; once, then cached)`);
  const built = await run('bash', [join(repoRoot, 'hack', 'tools', `${tool}.sh`)]);
  if (built.code !== 0) throw new Error(`hack/tools/${tool}.sh failed:\n${built.stderr}`);
  const dir = built.stdout.trim();
  const version = new RegExp(`${tool}-v([^/]+)$`).exec(dir)?.[1] ?? 'unknown';
  for (const f of readdirSync(join(dir, 'crds'))) {
    await c.kube.ok(['apply', '--server-side', '--force-conflicts', '-f', join(dir, 'crds', f)]);
  }
  // `kubectl wait` fails at once on a CRD whose status has no conditions yet: ask again.
  for (let i = 0; ; i++) {
    const w = await c.kube.run(['wait', '--for=condition=Established', '--timeout=30s', `crd/${crd}`]);
    if (w.code === 0) break;
    if (i >= 30) throw new Error(`the CRD ${crd} is not Established: ${w.stderr.trim()}`);
    await sleep(1000);
  }
  return { dir, version };
}

/** Starts `bin args`, logs to a file in the run directory, resolves once `healthz` answers 200. */
async function startPeerProc(
  c: BenchCluster,
  tool: Peer,
  version: string,
  bin: string,
  flags: string[],
  healthz: string,
  log: (s: string) => void,
): Promise<PeerProc> {
  const logFile = join(c.runDir, 'logs', `${tool}.log`);
  const out = createWriteStream(logFile);
  const proc: ChildProcess = spawn(bin, flags, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${tool} exited (${proc.exitCode}); see ${logFile}`);
    try {
      if ((await fetch(healthz)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${tool} not healthy in 120 s; see ${logFile}`);
    await sleep(200);
  }
  log(`peers: ${tool} v${version} running (pid ${proc.pid}, log ${logFile})`);
  return {
    tool,
    version,
    pid: proc.pid!,
    log: logFile,
    flags: flags.filter((f) => !f.includes(c.kubeconfig)),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * Flagger (hack/tools/flagger.sh) with its `kubernetes` provider (blue/green on plain Services: the
 * one of its providers that needs no mesh or ingress here), the cluster's admin kubeconfig, and
 * `metricsServer` (by default none: the failure trials' analyses use no metric; it logs the
 * unreachable server once and carries on; peers-latency gives it the real Prometheus).
 */
export async function startFlagger(
  c: BenchCluster,
  log: (s: string) => void,
  metricsServer = 'http://127.0.0.1:1',
): Promise<PeerProc> {
  const { dir, version } = await buildPeer(c, 'flagger', 'canaries.flagger.app', log);
  const port = await freePort();
  const flags = [
    '-kubeconfig',
    c.kubeconfig,
    '-mesh-provider',
    'kubernetes',
    '-metrics-server',
    metricsServer,
    '-port',
    String(port),
    '-log-level',
    'info',
  ];
  return startPeerProc(
    c,
    'flagger',
    version,
    join(dir, 'flagger'),
    flags,
    `http://127.0.0.1:${port}/healthz`,
    log,
  );
}

/**
 * Builds Argo Rollouts once (hack/tools/argo-rollouts.sh: from the Go module proxy into the cache,
 * never into the repository), installs its CRDs and starts its controller with the cluster's admin
 * kubeconfig (it needs cluster-wide rights on ReplicaSets, Services and its own kinds; leader election
 * off, its metrics and health ports on free loopback ports).
 */
export async function startArgoRollouts(c: BenchCluster, log: (s: string) => void): Promise<PeerProc> {
  const { dir, version } = await buildPeer(c, 'argo-rollouts', 'rollouts.argoproj.io', log);
  const [metrics, healthz] = [await freePort(), await freePort()];
  const flags = [
    '--kubeconfig',
    c.kubeconfig,
    '--leader-elect=false',
    `--metricsPort=${metrics}`,
    `--healthzPort=${healthz}`,
    '--loglevel=info',
  ];
  return startPeerProc(
    c,
    'argo-rollouts',
    version,
    join(dir, 'rollouts-controller'),
    flags,
    `http://127.0.0.1:${healthz}/healthz`,
    log,
  );
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
  /** Flagger only: the Gateway API provider (a progressive canary on an HTTPRoute), not `kubernetes`. */
  gatewayApi?: boolean;
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
  template: Captured,
  kind: PeerKind,
  tunedDeadlineSeconds: number | undefined,
  capMs: number,
): Promise<Omit<PeerTrial, 'tool' | 'settings' | 'trial' | 'namespace'>> {
  await ensureNamespace(http, ns);
  for (const cm of template.configMaps)
    await applyObj(http, { ...cm, metadata: { ...cm.metadata, namespace: ns } });
  const ros = new Informer(http, `/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts`);
  const rss = new Informer(http, `/apis/apps/v1/namespaces/${ns}/replicasets`);
  const pods = new Informer(http, `/api/v1/namespaces/${ns}/pods`, { labelSelector: `app=${PEER_APP}` });
  await Promise.all([ros.start(), rss.start(), pods.start()]);
  try {
    const base = tunedDeadlineSeconds ? { tunedDeadlineSeconds } : {};
    await applyObj(http, rollout(ns, template.template, { version: '1', ...base }));
    const { o: healthy } = await when(
      ros,
      (o) => !!rs(o).stableRS && rs(o).stableRS === rs(o).currentPodHash && rs(o).phase === 'Healthy',
      120_000,
      `${ns}: Rollout Healthy on version 1`,
    );
    const stable = rs(healthy).stableRS!;
    const fault =
      kind === 'never-ready' ? 'never-ready' : kind === 'crash-from-start' ? 'crashloop' : undefined;
    await applyObj(
      http,
      rollout(ns, template.template, { version: '2', ...(fault ? { fault } : {}), ...base }),
    );
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

/**
 * The Flagger objects: the target Deployment (the same pod template, 1 replica) and a Canary with
 * the `kubernetes` provider. Flagger copies the Deployment to `<name>-primary` (which serves) and
 * runs a changed template in the target Deployment itself as the canary, analysed for `iterations`
 * intervals before promotion. Defaults: interval 60 s, progressDeadlineSeconds 600, threshold 1;
 * tuned: a short deadline and interval. With `gatewayApi`, the provider `gatewayapi:v1` instead: a
 * progressive canary (stepWeight 10 up to maxWeight 50, one step an interval, so the canary is under
 * analysis for at least 5 intervals) on an HTTPRoute that Flagger writes, parented to a Gateway
 * named in the trial's namespace (nothing serves it: Flagger only writes the route).
 */
export function flaggerObjects(ns: string, template: Record<string, unknown>, o: RolloutOpts): Obj[] {
  const t = JSON.parse(JSON.stringify(template)) as { metadata: { annotations: Record<string, string> } };
  t.metadata.annotations = {
    ...t.metadata.annotations,
    [VERSION_ANNOTATION]: o.version,
    ...(o.fault ? { [FAULT]: o.fault } : {}),
  };
  const d = o.tunedDeadlineSeconds;
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: PEER_APP, namespace: ns },
      spec: { replicas: 1, selector: { matchLabels: { app: PEER_APP } }, template: t },
    },
    {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: PEER_APP, namespace: ns },
      spec: {
        provider: o.gatewayApi ? 'gatewayapi:v1' : 'kubernetes',
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: PEER_APP },
        service: {
          port: 8000,
          ...(o.gatewayApi ? { gatewayRefs: [{ name: 'gateway', namespace: ns }] } : {}),
        },
        ...(d ? { progressDeadlineSeconds: d } : {}),
        // 10 iterations (or 5 weight steps): the canary is still under analysis when ready-then-crash
        // fails it. Its CRD requires interval and threshold: the defaults are its documented 60 s and
        // its code's 1.
        analysis: {
          ...(o.gatewayApi ? { stepWeight: 10, maxWeight: 50 } : { iterations: 10 }),
          interval: d ? `${Math.max(1, Math.round(d / 2))}s` : '60s',
          threshold: 1,
        },
      },
    },
  ];
}

async function flaggerTrial(
  http: KubeHttp,
  kube: Kube,
  ns: string,
  template: Captured,
  kind: PeerKind,
  tunedDeadlineSeconds: number | undefined,
  capMs: number,
  gatewayApi = false,
): Promise<Omit<PeerTrial, 'tool' | 'settings' | 'trial' | 'namespace'>> {
  await ensureNamespace(http, ns);
  for (const cm of template.configMaps)
    await applyObj(http, { ...cm, metadata: { ...cm.metadata, namespace: ns } });
  const cans = new Informer(http, `/apis/flagger.app/v1beta1/namespaces/${ns}/canaries`);
  const deps = new Informer(http, `/apis/apps/v1/namespaces/${ns}/deployments`);
  // The target Deployment's pods (Flagger relabels the primary's pods `app: <name>-primary`).
  const pods = new Informer(http, `/api/v1/namespaces/${ns}/pods`, { labelSelector: `app=${PEER_APP}` });
  await Promise.all([cans.start(), deps.start(), pods.start()]);
  const phase = (o: Obj): string | undefined => (o.status as { phase?: string } | undefined)?.phase;
  try {
    const base = { ...(tunedDeadlineSeconds ? { tunedDeadlineSeconds } : {}), gatewayApi };
    for (const o of flaggerObjects(ns, template.template, { version: '1', ...base })) await applyObj(http, o);
    await when(cans, (o) => phase(o) === 'Initialized', 180_000, `${ns}: Canary Initialized`);
    const fault =
      kind === 'never-ready' ? 'never-ready' : kind === 'crash-from-start' ? 'crashloop' : undefined;
    await applyObj(
      http,
      flaggerObjects(ns, template.template, { version: '2', ...(fault ? { fault } : {}), ...base })[0]!,
    );
    const isCanary = (o: Obj): boolean => o.metadata.annotations?.[VERSION_ANNOTATION] === '2';
    if (kind === 'ready-then-crash') {
      // Under analysis with its pod Ready: then the pod starts crash-looping. Progressing alone is
      // not enough: Flagger sets it when it scales the canary up, and a pod that fails before its
      // next tick is, for Flagger, a canary that never was Ready. So: the analysis has run once (a
      // blue/green iteration, or the first weight step on the HTTPRoute).
      await when(pods, (o) => isCanary(o) && podReady(o), 120_000, `${ns}: canary pod Ready`);
      const cst = (o: Obj): { iterations?: number; canaryWeight?: number } =>
        (o.status ?? {}) as { iterations?: number; canaryWeight?: number };
      await when(
        cans,
        (o) =>
          phase(o) === 'Progressing' &&
          (gatewayApi ? (cst(o).canaryWeight ?? 0) > 0 : (cst(o).iterations ?? 0) >= 1),
        300_000,
        `${ns}: Canary Progressing with its analysis run once`,
      );
      const names = [...pods.items.values()].filter(isCanary).map((p) => p.metadata.name);
      await Promise.all(
        names.map((p) => kube.ok(['annotate', 'pod', p, '-n', ns, `${FAULT}=crashloop`, '--overwrite'])),
      );
    }
    const failure = await when(
      pods,
      (o) => isCanary(o) && (kind === 'never-ready' ? runningNotReady(o) : crashLooping(o)),
      180_000,
      `${ns}: canary failure visible`,
    );
    const t0 = failure.at;
    const [scaled, failed] = await Promise.all([
      capped(
        when(
          deps,
          (o) => o.metadata.name === PEER_APP && o.spec?.replicas === 0,
          capMs,
          `${ns}: canary Deployment at 0`,
        ),
      ),
      capped(when(cans, (o) => phase(o) === 'Failed', capMs, `${ns}: Canary Failed`)),
    ]);
    const since = (t: number | null): number | null => (t === null ? null : Math.max(0, t - t0));
    return { kind, safeMs: since(scaled), capMs, abortedMs: since(failed) };
  } finally {
    for (const i of [cans, deps, pods]) i.stop();
  }
}

const podReady = (o: Obj): boolean =>
  ((o.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some(
    (c) => c.type === 'Ready' && c.status === 'True',
  );

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

/**
 * The pod template the operator renders for the benchmark's ModelVersion (a settled ModelDeployment),
 * and the ConfigMaps it mounts (copied into each peer's namespace: Flagger refuses a target whose
 * ConfigMaps it cannot find, and both peers' pods should be the operator's).
 */
interface Captured {
  template: Record<string, unknown>;
  configMaps: Obj[];
}

async function capturedTemplate(http: KubeHttp, kube: Kube): Promise<Captured> {
  const ns = 'peers-template';
  const tts = new TimeToSafe(http, kube, '2', { ns, md: 'peer' });
  try {
    await tts.setup();
    const configMaps = (await captureChildren(http, ns, 'peer'))
      .filter((o) => o.kind === 'ConfigMap')
      .map((o) => ({ ...o, metadata: { name: o.metadata.name } }));
    return { template: peerTemplate(tts.stableTemplate()), configMaps };
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
  peers: Array<{ tool: Peer; version: string; flags: string[] }>;
  settings: Record<Settings, Partial<Record<Tool, string>>>;
  capSeconds: number;
  tunedCapSeconds: number;
  deadlineSeconds: number;
  trials: PeerTrial[];
  summary: PeerSummary[];
}

export interface PeerSummary {
  settings: Settings;
  kind: PeerKind;
  peer: Peer;
  modelship: { n: number; p50: number; min: number; max: number };
  /** The peer's figures; null where beyond the cap. */
  other: { n: number; p50: number | null; min: number | null; max: number | null; overCap: number };
  /** Peer median / modelship median; null when the peer's median is beyond the cap. */
  ratioOfMedians: number | null;
  /** Per trial index pair: peer / modelship (a lower bound where the peer hit the cap). */
  pairRatios: Array<{ ratio: number; lowerBound: boolean }>;
}

const SETTINGS_TEXT = (d: number): PeersResult['settings'] => ({
  defaults: {
    modelship:
      'strategy defaults (progressDeadlineSeconds 300, maxRestarts 3, autoRollback true); operator --unready-grace 10s (its default)',
    'argo-rollouts': 'Rollout defaults (progressDeadlineSeconds 600, progressDeadlineAbort false)',
    flagger:
      'Canary defaults (progressDeadlineSeconds 600, analysis interval 60s, threshold 1), iterations 10',
    'flagger-gatewayapi':
      'provider gatewayapi:v1, Canary defaults (progressDeadlineSeconds 600, analysis interval 60s, threshold 1), stepWeight 10, maxWeight 50',
  },
  tuned: {
    modelship: `strategy.progressDeadlineSeconds ${d}`,
    'argo-rollouts': `progressDeadlineAbort true, progressDeadlineSeconds ${d}`,
    flagger: `progressDeadlineSeconds ${d}, analysis interval ${Math.max(1, Math.round(d / 2))}s, threshold 1, iterations 10`,
    'flagger-gatewayapi': `provider gatewayapi:v1, progressDeadlineSeconds ${d}, analysis interval ${Math.max(1, Math.round(d / 2))}s, threshold 1, stepWeight 10, maxWeight 50`,
  },
});

export async function runPeers(c: BenchCluster, peers: PeerProc[], o: PeerOptions): Promise<PeersResult> {
  const { http, kube } = c;
  const template = await capturedTemplate(http, kube);
  o.log('peers: captured the operator-rendered pod template for the peers');
  const out: PeerTrial[] = [];
  const short: Record<Tool, string> = {
    modelship: 'ms',
    'argo-rollouts': 'argo',
    flagger: 'fl',
    'flagger-gatewayapi': 'flgw',
  };
  const runLane = async (l: Lane, capMs: number): Promise<void> => {
    const ns = `peers-${short[l.tool]}-${l.settings.slice(0, 1)}-${l.kind}-${l.trial}`;
    const tuned = l.settings === 'tuned' ? o.deadlineSeconds : undefined;
    const started = now();
    let r: Omit<PeerTrial, 'tool' | 'settings' | 'trial' | 'namespace'>;
    try {
      r =
        l.tool === 'modelship'
          ? await modelshipTrial(http, kube, ns, l.kind, tuned, capMs)
          : l.tool === 'argo-rollouts'
            ? await argoTrial(http, kube, ns, template, l.kind, tuned, capMs)
            : await flaggerTrial(
                http,
                kube,
                ns,
                template,
                l.kind,
                tuned,
                capMs,
                l.tool === 'flagger-gatewayapi',
              );
    } catch (err) {
      r = { kind: l.kind, safeMs: null, capMs, error: (err as Error).message };
    }
    const t: PeerTrial = { ...l, namespace: ns, ...r };
    out.push(t);
    o.log(
      `  ${l.tool} ${l.settings} ${l.kind} #${l.trial}: safe ${t.safeMs === null ? `> ${capMs / 1000} s` : `+${fmt(t.safeMs, 0)} ms`}` +
        (t.abortedMs !== undefined
          ? `, aborted/Failed ${t.abortedMs === null ? '-' : `+${fmt(t.abortedMs, 0)} ms`}`
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
  const tools: Tool[] = ['modelship', ...peers.map((p) => p.tool)];
  for (const tool of tools) await phase(tool, 'tuned', o.trials, o.tunedCapSeconds * 1000);
  // The defaults take minutes per trial (progress deadlines of 300 s and 600 s): every trial at
  // once, every tool, fewer of them.
  o.log(
    `peers: defaults, ${o.defaultTrials} trial(s) of each kind for each tool, all at once (cap ${o.capSeconds} s)`,
  );
  await Promise.all(
    tools.flatMap((tool) =>
      PEER_KINDS.flatMap((kind) =>
        Array.from({ length: o.defaultTrials }, (_, i) =>
          runLane({ tool, settings: 'defaults', kind, trial: i }, o.capSeconds * 1000),
        ),
      ),
    ),
  );
  o.log('peers: deleting the trial namespaces');
  await Promise.all(
    [...new Set(out.map((t) => t.namespace)), 'peers-template'].map((ns) => deleteNamespace(kube, ns)),
  );
  return {
    peers: peers.map((p) => ({ tool: p.tool, version: p.version, flags: p.flags })),
    settings: SETTINGS_TEXT(o.deadlineSeconds),
    capSeconds: o.capSeconds,
    tunedCapSeconds: o.tunedCapSeconds,
    deadlineSeconds: o.deadlineSeconds,
    trials: out,
    summary: summarizePeers(out),
  };
}

/** Per settings, kind and peer: both tools' medians and ranges, and the peer's as a ratio to modelship's. */
export function summarizePeers(trials: PeerTrial[]): PeerSummary[] {
  const rows: PeerSummary[] = [];
  for (const settings of ['tuned', 'defaults'] as const) {
    for (const kind of PEER_KINDS) {
      for (const peer of ['argo-rollouts', 'flagger', 'flagger-gatewayapi'] as const) {
        const of = (tool: Tool): PeerTrial[] =>
          trials
            .filter((t) => t.settings === settings && t.kind === kind && t.tool === tool && !t.error)
            .sort((a, b) => a.trial - b.trial);
        const ms = of('modelship');
        const ar = of(peer);
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
          peer,
          modelship: { n: m.n, p50: m.p50, min: m.min, max: m.max },
          other: {
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
  }
  return rows;
}

const sec = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(ms < 10_000 ? 3 : 1));

export function printPeers(r: PeersResult): void {
  const rows = r.summary.map((s) => {
    const over = s.other.overCap;
    const capSeconds = s.settings === 'tuned' ? r.tunedCapSeconds : r.capSeconds;
    const other =
      s.other.p50 === null
        ? `> ${capSeconds} (${over} of ${s.other.n} beyond the cap)`
        : `${sec(s.other.p50)} (${sec(s.other.min)}–${s.other.max === null ? `> ${capSeconds}` : sec(s.other.max)})`;
    const lo = Math.min(...s.pairRatios.map((p) => p.ratio));
    const hi = Math.max(...s.pairRatios.map((p) => p.ratio));
    return {
      settings: s.settings,
      canary: s.kind,
      peer: s.peer,
      'modelship s': `${sec(s.modelship.p50)} (${sec(s.modelship.min)}–${sec(s.modelship.max)}), n ${s.modelship.n}`,
      'peer s': `${other}, n ${s.other.n}`,
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
    `\n## peers: failure visible -> canary scaled to 0 (${r.peers.map((p) => `${p.tool} v${p.version}`).join(', ')} beside modelship; median (min–max))\n\n`,
  );
  const cols = Object.keys(rows[0] ?? {});
  if (cols.length) {
    process.stdout.write(`| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n`);
    for (const row of rows)
      process.stdout.write(`| ${cols.map((k) => String(row[k as keyof typeof row])).join(' | ')} |\n`);
  }
  process.stdout.write(`\nsettings: ${JSON.stringify(r.settings)}\n`);
}
