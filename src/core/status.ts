// The ModelDeployment status, computed once per reconcile from what the planner decided and what
// it observed. Pure; equal inputs give an equal status, so an unchanged world writes nothing.
import type { Condition, ConditionInput } from './conditions.js';
import { computeConditions } from './conditions.js';
import { livePods, readyCount } from './observed.js';
import type { Phase, PlanInput, RolloutStatus, WarmRevision, Weight } from './plan-types.js';
import type { ResolvedSpec } from './spec.js';

const HISTORY_LIMIT = 20;

export interface Decided {
  input: PlanInput;
  spec: ResolvedSpec;
  previous: RolloutStatus;
  nowIso: string;
  phase: Phase;
  /** Reason and message of the Ready, Progressing and Degraded conditions. */
  reasons: {
    ready: [string, string];
    progressing: [boolean | 'Unknown', string, string];
    degraded?: [string, string];
  };
  stable: string | undefined;
  canary: { hash: string; version: string; step: number; stepStartedAt: number } | undefined;
  weights: Weight[];
  history: NonNullable<RolloutStatus['history']>;
  rolloutStartedAt: number | undefined;
  desiredSince: number | undefined;
  lastRollback: RolloutStatus['lastRollback'];
  warm: WarmRevision[];
  acknowledged: NonNullable<RolloutStatus['acknowledged']>;
  /** Metric analysis: status.analysis and the AnalysisPassing condition, when the spec has checks. */
  analysis?: RolloutStatus['analysis'];
  analysisCondition?: ConditionInput | undefined;
}

export function computeStatus(d: Decided): RolloutStatus {
  const { input, spec } = d;
  const revs = new Map(input.revisions.map((r) => [r.hash, r]));
  const stableRev = d.stable ? revs.get(d.stable) : undefined;
  const stableVersion =
    stableRev?.version ??
    (input.desired.ok && input.desired.revision.hash === d.stable
      ? input.desired.revision.version
      : undefined);
  const live = input.revisions.flatMap((r) => livePods(r));
  const stableReady = readyCount(stableRev);
  const available = spec.replicas === 0 || stableReady > 0;
  const [progressing, progressingReason, progressingMessage] = d.reasons.progressing;
  const conds: ConditionInput[] = [
    {
      type: 'Ready',
      status: d.phase === 'Healthy' ? 'True' : 'False',
      reason: d.reasons.ready[0],
      message: d.reasons.ready[1],
    },
    {
      type: 'Available',
      status: available ? 'True' : 'False',
      reason: available ? 'MinimumReplicasAvailable' : 'NoReadyReplicas',
      message: stableVersion
        ? `${stableReady}/${spec.replicas} replicas of the stable version ${stableVersion} ready`
        : 'no stable version yet',
    },
    {
      type: 'Progressing',
      status: progressing === 'Unknown' ? 'Unknown' : progressing ? 'True' : 'False',
      reason: progressingReason,
      message: progressingMessage,
    },
    {
      type: 'Degraded',
      status: d.reasons.degraded ? 'True' : 'False',
      reason: d.reasons.degraded?.[0] ?? 'Healthy',
      message: d.reasons.degraded?.[1] ?? 'no failure under the current spec',
    },
  ];
  if (d.analysisCondition) conds.push(d.analysisCondition);
  const gen = input.md.metadata?.generation;
  const status: RolloutStatus = {
    phase: d.phase,
    conditions: computeConditions(d.previous.conditions as Condition[] | undefined, conds, gen, d.nowIso),
    traffic: d.weights.map((w) => ({ revision: w.revision, version: w.version, weight: w.weight })),
    replicas: live.length,
    readyReplicas: live.filter((p) => p.ready).length,
    selector: `modelship.io/deployment=${input.md.metadata?.name ?? ''}`,
    history: trimHistory(d.history, new Set(input.revisions.map((r) => r.hash))),
  };
  if (gen !== undefined) status.observedGeneration = gen;
  if (d.stable) status.stableRevision = d.stable;
  if (stableVersion) status.stableVersion = stableVersion;
  if (d.canary) {
    const hash = d.canary.hash;
    status.canaryRevision = hash;
    status.canaryVersion = d.canary.version;
    status.canaryWeight = d.weights.find((w) => w.revision === hash)?.weight ?? 0;
    status.currentStepIndex = d.canary.step;
    status.currentStepStartedAt = new Date(d.canary.stepStartedAt).toISOString();
  }
  if (d.rolloutStartedAt !== undefined) status.rolloutStartedAt = new Date(d.rolloutStartedAt).toISOString();
  if (input.desired.ok && d.desiredSince !== undefined) {
    status.desiredRevision = input.desired.revision.hash;
    status.desiredSince = new Date(d.desiredSince).toISOString();
  } else {
    // Unresolvable spec: the attempt in progress is kept as it was.
    if (d.previous.desiredRevision) status.desiredRevision = d.previous.desiredRevision;
    if (d.previous.desiredSince) status.desiredSince = d.previous.desiredSince;
  }
  if (d.lastRollback) status.lastRollback = d.lastRollback;
  if (d.warm.length) status.warmRevisions = d.warm;
  if (Object.keys(d.acknowledged).length) status.acknowledged = d.acknowledged;
  if (d.analysis) status.analysis = d.analysis;
  return status;
}

/**
 * The history is capped (the schema allows 20 entries), but the newest entry of every revision that
 * still exists is kept whatever its age: the planner reads it to know that the stable revision was
 * promoted and which earlier revisions are fail-over targets or known bad. Dropping it after 20
 * reverted rollouts made the next version replace a healthy stable revision without a canary.
 */
export function trimHistory<T extends { revision: string }>(history: T[], existing: Set<string>): T[] {
  if (history.length <= HISTORY_LIMIT) return history;
  const chosen = new Set<number>();
  const seen = new Set<string>();
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i]!.revision;
    if (existing.has(r) && !seen.has(r)) {
      seen.add(r);
      chosen.add(i);
    }
  }
  for (let i = history.length - 1; i >= 0 && chosen.size < HISTORY_LIMIT; i--) chosen.add(i);
  return history.filter((_, i) => chosen.has(i));
}
