// Benchmark 1, time to safe: from the first Pod status showing CrashLoopBackOff on a canary (a watch
// on Pods, stamped on receipt) to the HTTPRoute carrying 100% on the stable revision (a watch on
// HTTPRoutes), and to the revert itself (the canary Deployment scaled to 0, status RolledBack).
//
// Two kinds of trial, because the operator gives a canary weight only once its pods are Ready:
// - `ready-then-crash`: the canary becomes Ready and gets 50% (a step that pauses for an hour), then
//   its pods are annotated with the kwok crash-loop fault: the route really carries canary traffic
//   when the failure appears, and time to safe measures the operator taking it away.
// - `crash-from-start`: the canary crash-loops from its first start, so it never gets weight and the
//   route is already 100% stable when the failure appears (time to safe is 0 by construction); what
//   matters there is the revert time.
// - `never-ready` (bench/peers.ts only): the canary's pods run but never pass readiness, so only the
//   progress deadline can fail it; the failure counts from the first canary pod status showing it.
import type { KubeHttp } from '../src/k8s/kube-http.js';
import {
  applyObj,
  defaultRuleWeights,
  ensureNamespace,
  Informer,
  now,
  when,
  type Kube,
  type Obj,
} from './lib.js';
import { FAULT, modelDeployment, modelVersion, mdReady } from './objects.js';

export const TTS_NS = 'bench-tts';
const MD_NAME = 'tts';
const PAUSE_STEPS = [{ setWeight: 50 }, { pause: { duration: '1h' } }];

export interface TtsTrial {
  kind: 'ready-then-crash' | 'crash-from-start' | 'never-ready';
  version: string;
  canaryRevision: string;
  /** Canary weight in the HTTPRoute when the failure became visible. */
  canaryWeightAtFailure: number;
  /** First CrashLoopBackOff -> HTTPRoute 100% stable (0 when it already was). */
  timeToSafeMs: number;
  /** First CrashLoopBackOff -> the canary Deployment's spec.replicas 0. */
  scaledToZeroMs: number;
  /** First CrashLoopBackOff -> status.history records the canary RolledBack. */
  rolledBackStatusMs: number;
}

interface MdStatus {
  stableRevision?: string;
  canaryRevision?: string;
  canaryWeight?: number;
  history?: Array<{ revision: string; result: string }>;
}
const status = (o: Obj): MdStatus => (o.status ?? {}) as MdStatus;

const onlyStable = (o: Obj | undefined, md: string, stable: string): boolean => {
  const w = defaultRuleWeights(o, md);
  const keys = Object.keys(w);
  return keys.length === 1 && keys[0] === stable;
};

const crashLooping = (o: Obj): boolean =>
  (
    (o.status as { containerStatuses?: Array<{ state?: { waiting?: { reason?: string } } }> } | undefined)
      ?.containerStatuses ?? []
  ).some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff');

/** Running with an address but not Ready: what the kwok `never-ready` fault shows. */
export const runningNotReady = (o: Obj): boolean => {
  const s = o.status as { podIP?: string; conditions?: Array<{ type: string; status: string }> } | undefined;
  return !!s?.podIP && (s.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'False');
};

/** Where a TimeToSafe runs its ModelDeployment, and its strategy's progress deadline. */
export interface TtsPlace {
  ns?: string;
  md?: string;
  progressDeadlineSeconds?: number;
}

export class TimeToSafe {
  private readonly mds: Informer;
  private readonly pods: Informer;
  private readonly routes: Informer;
  private readonly deps: Informer;
  private seq = 0;
  readonly ns: string;
  readonly mdName: string;
  private readonly deadline: number | undefined;
  /** Rollouts that ended RolledBack since the stable revision was last promoted. */
  private sincePromoted = 0;

  constructor(
    private readonly http: KubeHttp,
    private readonly kube: Kube,
    private readonly prefix: string,
    place: TtsPlace = {},
  ) {
    const NS = (this.ns = place.ns ?? TTS_NS);
    const MD = (this.mdName = place.md ?? MD_NAME);
    this.deadline = place.progressDeadlineSeconds;
    const sel = { labelSelector: `modelship.io/deployment=${MD}` };
    this.mds = new Informer(http, `/apis/modelship.io/v1alpha1/namespaces/${NS}/modeldeployments`);
    this.pods = new Informer(http, `/api/v1/namespaces/${NS}/pods`, sel);
    this.routes = new Informer(http, `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes`);
    this.deps = new Informer(http, `/apis/apps/v1/namespaces/${NS}/deployments`, sel);
  }

  /** The namespace, the watches, and a settled ModelDeployment at a healthy stable version. */
  async setup(): Promise<void> {
    const [NS, MD] = [this.ns, this.mdName];
    await ensureNamespace(this.http, NS);
    await Promise.all([this.mds.start(), this.pods.start(), this.routes.start(), this.deps.start()]);
    await applyObj(this.http, modelVersion(NS, MD, '1.0.0'));
    await applyObj(this.http, modelDeployment(NS, MD, '1.0.0', { ...this.opts(), steps: PAUSE_STEPS }));
    // Ready and recorded as promoted: the operator protects a stable revision only once its history
    // says so (a Ready status without that entry was seen under load; docs/benchmarks.md, defects).
    await when(
      this.mds,
      (o) =>
        status(o).stableRevision !== undefined &&
        mdReady(o) &&
        (status(o).history ?? []).some(
          (h) => h.revision === status(o).stableRevision && h.result === 'Promoted',
        ),
      120_000,
      `${NS}/${MD}: stable, Ready and Promoted`,
    );
  }

  stop(): void {
    for (const i of [this.mds, this.pods, this.routes, this.deps]) i.stop();
  }

  private opts(): { replicas: number; router: 'gatewayApi'; progressDeadlineSeconds?: number } {
    return {
      replicas: 1,
      router: 'gatewayApi',
      ...(this.deadline ? { progressDeadlineSeconds: this.deadline } : {}),
    };
  }

  private md(): Obj {
    return this.mds.items.get(`${this.ns}/${this.mdName}`)!;
  }

  /** The pod template of the stable revision's Deployment, as the operator rendered it. */
  stableTemplate(): Record<string, unknown> {
    const rev = status(this.md()).stableRevision;
    const d = [...this.deps.items.values()].find((o) => o.metadata.labels?.['modelship.io/revision'] === rev);
    if (!d) throw new Error(`${this.ns}/${this.mdName}: no Deployment for the stable revision ${rev}`);
    return d.spec!.template as Record<string, unknown>;
  }

  async trial(kind: TtsTrial['kind'], timeoutMs = 120_000): Promise<TtsTrial> {
    const [NS, MD] = [this.ns, this.mdName];
    const version = `${this.prefix}.${++this.seq}.0`;
    const stable = status(this.md()).stableRevision!;
    await applyObj(this.http, modelVersion(NS, MD, version));
    const fromStart = kind !== 'ready-then-crash';
    const fault =
      kind === 'never-ready' ? 'never-ready' : kind === 'crash-from-start' ? 'crashloop' : undefined;
    // The canary revision of this version: the status names it once the operator has seen the spec.
    const gen0 = this.md().metadata.generation ?? 0;
    const rev = (o: Obj): string | undefined => o.metadata.labels?.['modelship.io/revision'];
    const before = new Set([...this.deps.items.values()].map(rev));
    await applyObj(
      this.http,
      modelDeployment(NS, MD, version, {
        ...this.opts(),
        steps: PAUSE_STEPS,
        ...(fault ? { fault } : {}),
      }),
    );
    // The canary revision of this version: the status names it once the operator has seen the spec,
    // and its Deployment appears. Either will do: on a loaded machine a canary that fails at once can
    // be reverted before a status naming it is written (seen in bench/peers.ts, 18 trials at once).
    const canary = await Promise.any([
      when(
        this.mds,
        (o) =>
          (o.metadata.generation ?? 0) > gen0 &&
          !!status(o).canaryRevision &&
          status(o).canaryRevision !== stable,
        60_000,
        `${version}: a canary revision in status`,
      ).then(({ o }) => status(o).canaryRevision!),
      when(
        this.deps,
        (o) => !!rev(o) && rev(o) !== stable && !before.has(rev(o)),
        60_000,
        `${version}: a new revision Deployment`,
      ).then(({ o }) => rev(o)!),
    ]).catch(() => {
      throw new Error(
        `${version}: neither a canary revision in status nor a new revision Deployment in 60 s`,
      );
    });
    const isCanaryPod = (o: Obj): boolean => o.metadata.labels?.['modelship.io/revision'] === canary;
    const route = (): Obj | undefined => this.routes.items.get(`${NS}/${MD}`);

    if (!fromStart) {
      // Wait for the canary's 50% in the route, then make its pods crash-loop.
      await when(
        this.routes,
        (o) => (defaultRuleWeights(o, MD)[canary] ?? 0) > 0,
        60_000,
        `${version}: canary weight in route`,
      );
      const pods = [...this.pods.items.values()].filter(isCanaryPod).map((p) => p.metadata.name);
      await Promise.all(
        pods.map((p) => this.kube.ok(['annotate', 'pod', p, '-n', NS, `${FAULT}=crashloop`, '--overwrite'])),
      );
    }
    // Armed before the failure can appear, so no event is missed.
    const safe = when(
      this.routes,
      (o) => onlyStable(o, MD, stable),
      timeoutMs,
      `${version}: route 100% stable`,
      false,
    );
    const scaled = when(
      this.deps,
      (o) => o.metadata.labels?.['modelship.io/revision'] === canary && o.spec?.replicas === 0,
      timeoutMs,
      `${version}: canary Deployment at 0`,
    );
    const rolledBack = when(
      this.mds,
      (o) => (status(o).history ?? []).some((h) => h.revision === canary && h.result === 'RolledBack'),
      timeoutMs,
      `${version}: status RolledBack`,
    );
    const failure = await when(
      this.pods,
      (o) => isCanaryPod(o) && (kind === 'never-ready' ? runningNotReady(o) : crashLooping(o)),
      120_000,
      `${version}: ${kind === 'never-ready' ? 'running, not Ready' : 'CrashLoopBackOff'}`,
    );
    const t0 = failure.at;
    const weightAtFailure = defaultRuleWeights(route(), MD)[canary] ?? 0;
    const alreadySafe = onlyStable(route(), MD, stable);
    const [tScaled, tRolled] = await Promise.all([scaled, rolledBack]);
    let tSafe: number;
    if (alreadySafe) {
      tSafe = t0;
      void safe.catch(() => undefined);
    } else {
      tSafe = (await safe).at;
    }
    // The route must end 100% stable whatever happened in between.
    if (!onlyStable(route(), MD, stable))
      throw new Error(`${version}: the route is not 100% stable after the revert`);
    return {
      kind,
      version,
      canaryRevision: canary,
      canaryWeightAtFailure: weightAtFailure,
      timeToSafeMs: Math.max(0, tSafe - t0),
      scaledToZeroMs: tScaled.at - t0,
      rolledBackStatusMs: tRolled.at - t0,
    };
  }

  /**
   * Promotes a fresh healthy version (short steps), so the stable revision has a Promoted entry
   * among the last 20 of status.history. Without it the operator forgets that the stable revision
   * was established and deploys the next version directly, without a canary (a defect: see
   * docs/benchmarks.md, "Operator defects found").
   */
  private async promoteHealthy(): Promise<void> {
    const [NS, MD] = [this.ns, this.mdName];
    const version = `${this.prefix}.${++this.seq}.0`;
    await applyObj(this.http, modelVersion(NS, MD, version));
    await applyObj(this.http, modelDeployment(NS, MD, version, this.opts()));
    await when(this.mds, (o) => mdReady(o, version), 120_000, `${version} promoted`);
    await applyObj(this.http, modelDeployment(NS, MD, version, { ...this.opts(), steps: PAUSE_STEPS }));
    this.sincePromoted = 0;
  }

  /** `trials` of each kind, interleaved. */
  async run(trials: number, log: (s: string) => void): Promise<TtsTrial[]> {
    const out: TtsTrial[] = [];
    for (let i = 0; i < trials; i++) {
      if (this.sincePromoted >= 16) await this.promoteHealthy();
      for (const kind of ['ready-then-crash', 'crash-from-start'] as const) {
        this.sincePromoted++;
        const started = now();
        let t: TtsTrial;
        try {
          t = await this.trial(kind);
        } catch (err) {
          log(`  ${kind} failed; the ModelDeployment now: ${JSON.stringify(this.md())}`);
          throw err;
        }
        out.push(t);
        log(
          `  ${kind} ${t.version}: weight@failure ${t.canaryWeightAtFailure}%, safe +${t.timeToSafeMs.toFixed(0)} ms, ` +
            `replicas 0 +${t.scaledToZeroMs.toFixed(0)} ms, RolledBack +${t.rolledBackStatusMs.toFixed(0)} ms ` +
            `(trial ${((now() - started) / 1000).toFixed(1)} s)`,
        );
      }
    }
    return out;
  }
}
