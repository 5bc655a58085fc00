/**
 * A small simulated world for the pure rollout core: revision Deployments whose pods become Ready
 * after a delay or fail as a test says, a clock, and a ModelDeployment whose status the plans write.
 * It stands in for the apiserver + kube-controller-manager + kwok only in unit and property tests;
 * the integration tests run the same core against the real control plane.
 */
import type { ModelDeployment, ModelDeploymentSpec, ModelVersionSpecInterface } from '../../src/api/index.js';
import { resolveAnalysis } from '../../src/core/analysis/spec.js';
import type { AnalysisInput, Measurement } from '../../src/core/analysis/verdict.js';
import { analysisTarget, dueChecks } from '../../src/core/analysis/verdict.js';
import type { PodObservation } from '../../src/core/observed.js';
import type { ExperimentInput, GatesInput, GateVerdict, Plan, PlanInput } from '../../src/core/plan.js';
import { experimentTarget } from '../../src/core/planner/experiment-verdict.js';
import { planRollout } from '../../src/core/plan.js';

export type Fault = 'none' | 'crashloop' | 'never-ready' | 'image-pull' | 'unready-later';

interface SimPod {
  name: string;
  createdAt: number;
}

interface SimRevision {
  hash: string;
  version: string;
  replicas: number;
  pods: SimPod[];
  createdAt: number;
}

export interface SimOptions {
  spec: Partial<ModelDeploymentSpec> & { version: string };
  exactWeights?: boolean;
  /** ms from pod creation to Ready. */
  readyAfterMs?: number;
  /** How long after a pod's Ready its Service's EndpointSlice lists it (default 0). */
  endpointsLagMs?: number;
  unreadyGraceMs?: number;
  /** Faults by version. */
  faults?: Record<string, Fault>;
}

/**
 * What a simulated Prometheus says about a version over any window: its request count, error share,
 * mean latency and the value of a custom query.
 */
/** What a version's pre-traffic gates end with (World.gates). */
export interface SimGates {
  beforeTraffic?: GateVerdict['result'];
  beforePromotion?: GateVerdict['result'];
  /** How long each stage stays Pending once it can start. */
  pendingMs?: number;
  /** The reason of a Failed verdict (default SmokeTestFailed). */
  reason?: string;
}

export interface SimMetrics {
  requests: number;
  errorRate: number;
  latencyMs: number;
  custom?: number;
}

export const DEFAULT_METRICS: SimMetrics = { requests: 100, errorRate: 0, latencyMs: 20 };

export const hashOf = (version: string): string => `r${version.replace(/[^a-z0-9]/gi, '')}`;

export class World {
  now = 1_700_000_000_000;
  md: ModelDeployment;
  revisions = new Map<string, SimRevision>();
  applied: Map<string, number> | undefined;
  plans: Plan[] = [];
  faults: Record<string, Fault>;
  /** When a fault of kind unready-later starts (ms after the pod became Ready). */
  unreadyAfterMs = 5000;
  private podSeq = 0;
  requests: PlanInput['requests'] = {};
  missingVersions = new Set<string>();
  /** Metric analysis: what Prometheus says per version, and whether it answers at all. */
  metrics: Record<string, SimMetrics> = {};
  prometheus: 'up' | 'down' | 'refuses' | 'unconfigured' = 'up';
  /** Every analysis measurement handed to the core, with the time. */
  measured: Array<{ at: number; input: AnalysisInput }> = [];
  /**
   * The interface each version's ModelVersion declares (a key with undefined: none declared). Unset:
   * the shell hands the core no interfaces (no gate); a version without a key is not known.
   */
  interfaces: Record<string, ModelVersionSpecInterface | undefined> | undefined;
  /**
   * The pre-traffic gates per version, as the shell's probes would end (src/gates/observe.ts): each
   * stage Pending for `pendingMs` once its probe can start, then `result`. Unset: no gates.
   */
  gates: Record<string, SimGates> | undefined;
  private gateStarted = new Map<string, number>();
  /** The input of every reconcile, in order (plans[i] was planned from inputs[i]). */
  inputs: PlanInput[] = [];

  constructor(private readonly opts: SimOptions) {
    this.md = {
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: 'iris', namespace: 'ns', generation: 1, uid: 'uid-1' },
      spec: { model: 'iris', replicas: 4, ...opts.spec },
    };
    this.faults = { ...(opts.faults ?? {}) };
  }

  setSpec(patch: Partial<ModelDeploymentSpec>): void {
    this.md = {
      ...this.md,
      spec: { ...this.md.spec, ...patch },
      metadata: { ...this.md.metadata, generation: (this.md.metadata!.generation ?? 0) + 1 },
    };
  }

  advance(ms: number): void {
    this.now += ms;
  }

  private podObservation(r: SimRevision, p: SimPod): PodObservation {
    const s = this.podState(r, p);
    // The EndpointSlice controller publishes a Ready pod as an endpoint endpointsLagMs later.
    const inService = s.ready && this.now >= (s.readyTransitionAt ?? 0) + (this.opts.endpointsLagMs ?? 0);
    return { ...s, inService, startedAt: p.createdAt };
  }

  private podState(r: SimRevision, p: SimPod): Omit<PodObservation, 'inService'> {
    const fault = this.faults[r.version] ?? 'none';
    const age = this.now - p.createdAt;
    const readyAt = p.createdAt + (this.opts.readyAfterMs ?? 1000);
    if (fault === 'crashloop') {
      const restarts = Math.floor(age / 1000);
      return restarts >= 1
        ? {
            name: p.name,
            ready: false,
            restarts,
            waitingReason: 'CrashLoopBackOff',
            terminating: false,
            readyTransitionAt: p.createdAt,
          }
        : { name: p.name, ready: false, restarts: 0, terminating: false, readyTransitionAt: p.createdAt };
    }
    if (fault === 'image-pull')
      return {
        name: p.name,
        ready: false,
        restarts: 0,
        waitingReason: 'ImagePullBackOff',
        terminating: false,
      };
    if (fault === 'never-ready' || this.now < readyAt)
      return { name: p.name, ready: false, restarts: 0, terminating: false, readyTransitionAt: p.createdAt };
    if (fault === 'unready-later' && this.now >= readyAt + this.unreadyAfterMs) {
      return {
        name: p.name,
        ready: false,
        restarts: 0,
        terminating: false,
        readyTransitionAt: readyAt + this.unreadyAfterMs,
      };
    }
    return { name: p.name, ready: true, restarts: 0, terminating: false, readyTransitionAt: readyAt };
  }

  /** Pods of the version that are Ready and endpoints of its Service. */
  servingOf(version: string): number {
    const r = this.revisions.get(hashOf(version));
    return r ? r.pods.filter((p) => this.podObservation(r, p).inService).length : 0;
  }

  readyOf(version: string): number {
    const r = this.revisions.get(hashOf(version));
    return r ? r.pods.filter((p) => this.podObservation(r, p).ready).length : 0;
  }

  input(): PlanInput {
    const version = this.md.spec.version;
    return {
      md: this.md,
      desired: this.missingVersions.has(version)
        ? { ok: false, reason: 'ModelVersionNotFound', message: `no ModelVersion for iris ${version}` }
        : { ok: true, revision: { hash: hashOf(version), version } },
      revisions: [...this.revisions.values()].map((r) => ({
        hash: r.hash,
        version: r.version,
        replicas: r.replicas,
        createdAt: r.createdAt,
        pods: r.pods.map((p) => this.podObservation(r, p)),
      })),
      appliedWeights: this.applied,
      exactWeights: this.opts.exactWeights ?? true,
      requests: this.requests,
      now: this.now,
      unreadyGraceMs: this.opts.unreadyGraceMs ?? 3000,
      analysis: this.measure(),
      interfaces: this.interfaceMap(),
      gates: this.gateInput(),
      experiment: this.experimentInput(),
    };
  }

  /**
   * The shell's part of an experiment (src/experiments/observe.ts), simulated: each arm resolved
   * unless its version is in missingVersions, and the simulated Prometheus read when due.
   */
  private experimentInput(): ExperimentInput | undefined {
    const x = this.md.spec.strategy?.experiment;
    if (this.md.spec.strategy?.type !== 'Experiment' || !x) return undefined;
    const arms = (x.arms ?? []).map((a) => ({
      version: a.version,
      resolution: this.missingVersions.has(a.version)
        ? ({
            ok: false,
            reason: 'ModelVersionNotFound',
            message: `no ModelVersion of model iris with version ${a.version}`,
          } as const)
        : ({ ok: true, revision: { hash: hashOf(a.version), version: a.version } } as const),
    }));
    const target = experimentTarget(this.md, this.now);
    if (!target) return { arms };
    if (this.prometheus !== 'up')
      return {
        arms,
        measurement: { ok: false, reason: 'PrometheusNotConfigured', message: 'no --prometheus-url' },
      };
    const out: Record<string, { requests: number; errors: number; meanLatencyMs: number }> = {};
    for (const a of target.arms) {
      const m = this.metrics[a.version] ?? DEFAULT_METRICS;
      out[a.revision] = {
        requests: m.requests,
        errors: m.requests * m.errorRate,
        meanLatencyMs: m.latencyMs,
      };
    }
    return { arms, measurement: { ok: true, arms: out } };
  }

  /** The shell's part of the pre-traffic gates, simulated: the rules of src/gates/observe.ts. */
  private gateInput(): GatesInput | undefined {
    const version = this.md.spec.version;
    const g = this.gates?.[version];
    const st = this.md.status ?? {};
    const hash = hashOf(version);
    if (!g || !st.stableRevision || st.stableRevision === hash) return undefined;
    const pending = (message: string): GateVerdict => ({
      result: 'Pending',
      reason: 'GatesPending',
      message,
    });
    const out: GatesInput = { revision: hash };
    const stage = (
      name: 'beforeTraffic' | 'beforePromotion',
      result: GateVerdict['result'] | undefined,
      canStart: boolean,
    ): void => {
      if (!result) return;
      const key = `${hash}@${st.rolloutStartedAt ?? ''}/${name}`;
      if (st.canaryRevision !== hash || !canStart) {
        out[name] = pending('not started');
        return;
      }
      const since = this.gateStarted.get(key) ?? this.now;
      this.gateStarted.set(key, since);
      out[name] =
        this.now - since < (g.pendingMs ?? 0)
          ? pending('running')
          : {
              result,
              reason: result === 'Failed' ? (g.reason ?? 'SmokeTestFailed') : 'GatesPassed',
              message: result,
            };
    };
    stage('beforeTraffic', g.beforeTraffic, this.servingOf(version) > 0);
    const steps =
      this.md.spec.strategy?.type === 'BlueGreen' ? 1 : (this.md.spec.strategy?.canary?.steps?.length ?? 0);
    stage('beforePromotion', g.beforePromotion, (st.currentStepIndex ?? 0) >= steps);
    return out;
  }

  private interfaceMap(): Map<string, ModelVersionSpecInterface | undefined> | undefined {
    const known = this.interfaces;
    if (!known) return undefined;
    const versions = [this.md.spec.version, ...[...this.revisions.values()].map((r) => r.version)];
    return new Map(versions.filter((v) => v in known).map((v) => [hashOf(v), known[v]]));
  }

  /** The shell's part of metric analysis (src/analysis/measure.ts) over the simulated Prometheus. */
  measure(): AnalysisInput | undefined {
    const spec = resolveAnalysis(this.md);
    const target = analysisTarget(this.md, this.now);
    if (!spec || !target) return undefined;
    const results: Record<string, Measurement> = {};
    const of = (rev: string | undefined): SimMetrics => {
      const v = rev ? this.revisions.get(rev)?.version : undefined;
      return (v && this.metrics[v]) || DEFAULT_METRICS;
    };
    for (const c of dueChecks(spec, this.md.status?.analysis, target, this.now)) {
      if (this.prometheus === 'down') {
        results[c.name] = { ok: false, reason: 'PrometheusUnavailable', message: 'connect ECONNREFUSED' };
        continue;
      }
      if (this.prometheus === 'unconfigured') {
        results[c.name] = { ok: false, reason: 'PrometheusNotConfigured', message: 'no --prometheus-url' };
        continue;
      }
      if (this.prometheus === 'refuses') {
        results[c.name] = { ok: false, reason: 'QueryFailed', message: 'bad_data: parse error' };
        continue;
      }
      const m = of(target.revision);
      const b = of(target.baseline);
      const n = m.requests;
      switch (c.builtin) {
        case 'ErrorRate':
          results[c.name] = { ok: true, values: [n * m.errorRate, n], samples: [n] };
          break;
        case 'MeanLatency':
          results[c.name] = { ok: true, values: [m.latencyMs * 1000 * n, n], samples: [n] };
          break;
        case 'LatencyVsStable':
          results[c.name] = {
            ok: true,
            values: [m.latencyMs * 1000 * n, n, b.latencyMs * 1000 * b.requests, b.requests],
            samples: [n, b.requests],
          };
          break;
        default:
          results[c.name] = { ok: true, values: [m.custom], samples: [n] };
      }
    }
    const input = { target, results };
    this.measured.push({ at: this.now, input });
    return input;
  }

  /** One reconcile: plan, then apply the plan to the world as the shell would. */
  reconcile(): Plan {
    const input = this.input();
    this.inputs.push(input);
    const plan = planRollout(input);
    this.plans.push(plan);
    for (const r of plan.revisions) {
      let rev = this.revisions.get(r.hash);
      if (!rev) {
        rev = { hash: r.hash, version: r.version, replicas: 0, pods: [], createdAt: this.now };
        this.revisions.set(r.hash, rev);
      }
      rev.replicas = r.replicas;
      while (rev.pods.length > r.replicas) rev.pods.pop();
      while (rev.pods.length < r.replicas)
        rev.pods.push({ name: `${r.hash}-${this.podSeq++}`, createdAt: this.now });
    }
    for (const h of plan.deleteRevisions) this.revisions.delete(h);
    this.applied = new Map(plan.weights.map((w) => [w.revision, w.weight]));
    this.md = { ...this.md, status: plan.status };
    return plan;
  }

  /** Reconciles every `stepMs` until `pred` holds or `maxMs` passes; returns whether it held. */
  runUntil(pred: (w: World) => boolean, maxMs = 120_000, stepMs = 500): boolean {
    for (let t = 0; t <= maxMs; t += stepMs) {
      this.reconcile();
      if (pred(this)) return true;
      this.advance(stepMs);
    }
    return false;
  }

  weightOf(version: string): number {
    return this.applied?.get(hashOf(version)) ?? 0;
  }

  get status() {
    return this.md.status!;
  }

  condition(type: string) {
    return this.status.conditions?.find((c) => c.type === type);
  }
}
