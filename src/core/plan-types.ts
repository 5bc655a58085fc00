import type { ModelDeployment, ModelDeploymentStatus, ModelVersionSpecInterface } from '../api/index.js';
import type { AnalysisInput } from './analysis/verdict.js';
import type { ObservedRevision } from './observed.js';

export type Phase = NonNullable<ModelDeploymentStatus['phase']>;
export type HistoryEntry = NonNullable<ModelDeploymentStatus['history']>[number];
export type HistoryResult = HistoryEntry['result'];
export type WarmRevision = NonNullable<ModelDeploymentStatus['warmRevisions']>[number];
export type RolloutStatus = ModelDeploymentStatus;

/** The revision the spec asks for, or why it cannot be had (the shell resolves the ModelVersion). */
export type Resolution =
  { ok: true; revision: { hash: string; version: string } } | { ok: false; reason: string; message: string };

export interface PlanInput {
  md: ModelDeployment;
  desired: Resolution;
  /** Every revision Deployment of this ModelDeployment, with its pods. */
  revisions: ObservedRevision[];
  /** Weights read back from the router's applied objects (revision -> weight), if any. */
  appliedWeights?: Map<string, number> | undefined;
  /** The router splits by weight exactly (mesh, gateway) rather than by replica counts. */
  exactWeights: boolean;
  /** promote / abort / retry tokens from the ModelDeployment's annotations. */
  requests: { promote?: string; abort?: string; retry?: string };
  now: number;
  /** How long a revision that had been Ready may stay unready before it counts as failed. */
  unreadyGraceMs: number;
  /** Metric analysis: what the shell measured in this reconcile (see core/analysis/verdict.ts). */
  analysis?: AnalysisInput | undefined;
  /**
   * The interface gate: the interface each revision's ModelVersion declares (undefined: none), by
   * revision hash, for the desired revision and the observed ones whose ModelVersion the shell found.
   * A revision missing here is not judged; without the map there is no gate.
   */
  interfaces?: ReadonlyMap<string, ModelVersionSpecInterface | undefined> | undefined;
  /**
   * What the router can do besides weights: send header/cookie cohorts to one revision, mirror
   * requests. Without it, exact routers (exactWeights) are taken to do both and others neither.
   */
  routing?: { cohorts: boolean; mirror: boolean } | undefined;
  /**
   * The pre-traffic gates (loaded interface, smoke test, webhooks) of one revision, as the shell's
   * probes left them (src/gates). Undefined: no gate applies to any revision of this
   * ModelDeployment. See core/planner/pre-traffic.ts.
   */
  gates?: GatesInput | undefined;
  /**
   * strategy.experiment, as the shell found it: each of its arms resolved to a revision (or why
   * not), and what Prometheus said of the versions in the experiment (planner/experiment.ts).
   */
  experiment?: ExperimentInput | undefined;
}

/** An experiment's arms resolved by the shell, and the measurement it made in this reconcile. */
export interface ExperimentInput {
  /** strategy.experiment.arms in spec order. */
  arms: Array<{ version: string; resolution: Resolution }>;
  /** Undefined: nothing measured in this reconcile (not due, or no experiment running). */
  measurement?: ExperimentMeasurement | undefined;
}

/** What one version served since the experiment's start. */
export interface ArmMetrics {
  requests: number;
  errors: number;
  /** undefined: no successful request to time. */
  meanLatencyMs: number | undefined;
}

/** Numbers by revision, or why there are none (no Prometheus, unreachable, refused). */
export type ExperimentMeasurement =
  { ok: true; arms: Record<string, ArmMetrics> } | { ok: false; reason: string; message: string };

export type GateResult = 'Pending' | 'Passed' | 'Held' | 'Failed';

/** What one stage of the gates decided: Pending (a probe in flight), Passed, Held (ask again), Failed. */
export interface GateVerdict {
  result: GateResult;
  /** CamelCase: GatesPending, SmokeTestPassed, SmokeTestFailed, InterfaceMismatch, GateRejected, GateFailed… */
  reason: string;
  message: string;
  /** When the verdict was reached (ISO 8601); absent while Pending. */
  time?: string;
}

export interface GatesInput {
  /** The revision judged. */
  revision: string;
  /** Before the first user request reaches it; undefined: nothing to check at this stage. */
  beforeTraffic?: GateVerdict | undefined;
  /** Before it takes all traffic; undefined: nothing to check at this stage. */
  beforePromotion?: GateVerdict | undefined;
}

export interface Weight {
  revision: string;
  version: string;
  weight: number;
}

export interface PlanEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Plan {
  /** Revisions to keep, each at this size; a desired revision not yet in the world is created. */
  revisions: Array<{ hash: string; version: string; replicas: number }>;
  /** Revisions beyond revisionHistoryLimit: their children are deleted. */
  deleteRevisions: string[];
  /** The traffic table the router applies (sums to 100). */
  weights: Weight[];
  /** Blue-green: the revision the preview Service selects. */
  previewRevision?: string;
  /** The revision requests matching spec.strategy.canary.cohorts go to (planner/routing.ts). */
  cohort?: { revision: string; version: string };
  /** The revision a copy of the stable revision's requests goes to; never part of `weights`. */
  mirror?: { revision: string; version: string; percent: number };
  status: RolloutStatus;
  events: PlanEvent[];
  requeueAfterMs?: number;
}
