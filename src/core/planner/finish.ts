// The plan out of the decisions: sizes of every revision kept, revisions to delete, requeue time and
// status; and the plan that holds the world when the desired version cannot be resolved. Pure.
import type { Plan, RolloutStatus, WarmRevision } from '../plan-types.js';
import { computeStatus } from '../status.js';
import { analysisCondition, warnAnalysisHold } from './analysis.js';
import { gatesStatus } from './pre-traffic.js';
import type { Planner } from './state.js';
import { parseTime } from '../time.js';

/** Invalid or unresolvable spec: report it and keep every serving revision exactly as it is. */
export function hold(pl: Planner, reason: string, message: string): Plan {
  for (const r of pl.input.revisions) pl.replicas.set(r.hash, r.replicas);
  const traffic = pl.prev.traffic ?? [];
  pl.weights = traffic
    .filter((t) => pl.revs.has(t.revision))
    .map((t) => ({
      revision: t.revision,
      version: t.version ?? pl.revs.get(t.revision)!.version,
      weight: t.weight,
    }));
  if (pl.prev.canaryRevision && pl.revs.has(pl.prev.canaryRevision)) {
    pl.canary = {
      hash: pl.prev.canaryRevision,
      version: pl.revs.get(pl.prev.canaryRevision)!.version,
      weight: pl.prev.canaryWeight ?? 0,
      step: pl.prev.currentStepIndex ?? 0,
      stepStartedAt: parseTime(pl.prev.currentStepStartedAt) ?? pl.input.now,
    };
  }
  pl.warm = pl.prev.warmRevisions ?? [];
  pl.experiment = pl.prev.experiment;
  pl.degraded(reason, `${message}; the serving revisions are left as they are`);
  pl.reasons.progressing = [false, reason, message];
  return finish(pl, { keepAll: true });
}

export function finish(pl: Planner, opts: { keepAll?: boolean } = {}): Plan {
  const now = pl.input.now;
  // A promote request acts on a pause (or a ready blue-green preview) that is waiting now; one that
  // found none is acknowledged without effect, so it cannot skip a pause of a later rollout.
  if (!opts.keepAll && !pl.promoteWaits && pl.takeRequest('promote')) {
    pl.event(
      'Normal',
      'PromoteIgnored',
      'promote requested, but no rollout is waiting at a pause: nothing to promote',
    );
  }
  // Warm revisions keep their size until their time is up.
  const stillWarm: WarmRevision[] = [];
  for (const w of pl.warm) {
    if (w.revision === pl.stable || !pl.revs.has(w.revision)) continue;
    const at = parseTime(w.scaleDownAt) ?? now;
    const split = !pl.input.exactWeights && pl.weights.filter((x) => x.weight > 0).length > 1;
    if (at > now && !split && !pl.knownBad(w.revision)) {
      stillWarm.push(w);
      if (!pl.replicas.has(w.revision)) pl.replicas.set(w.revision, pl.spec.replicas);
      pl.wake(at);
    } else if (!pl.replicas.has(w.revision)) {
      pl.replicas.set(w.revision, 0);
    }
  }

  // Keep: every revision with a size or a role, plus revisionHistoryLimit more (newest first).
  const keep = new Set<string>([...pl.replicas.keys()].filter((h) => (pl.replicas.get(h) ?? 0) > 0));
  for (const h of [pl.stable, pl.canary?.hash, pl.preview, ...stillWarm.map((w) => w.revision)])
    if (h) keep.add(h);
  const desired = pl.input.desired.ok ? pl.input.desired.revision : undefined;
  // The desired revision is created only once a branch gives it a size (not while paused before start).
  if (desired && (pl.revs.has(desired.hash) || pl.replicas.has(desired.hash))) keep.add(desired.hash);
  const others = pl.input.revisions
    .filter((r) => !keep.has(r.hash))
    .sort((a, b) => b.createdAt - a.createdAt || a.hash.localeCompare(b.hash));
  const limit = opts.keepAll ? Infinity : pl.spec.revisionHistoryLimit;
  const retained = others.slice(0, limit);
  const deleted = others.slice(limit).map((r) => r.hash);

  const revisions = new Map<string, { hash: string; version: string; replicas: number }>();
  const versionOf = (h: string): string =>
    pl.revs.get(h)?.version ??
    (desired?.hash === h ? desired.version : undefined) ??
    // An experiment's arms are created too (planner/experiment.ts).
    pl.experiment?.arms?.find((a) => a.revision === h)?.version ??
    '';
  for (const h of keep)
    revisions.set(h, { hash: h, version: versionOf(h), replicas: pl.replicas.get(h) ?? 0 });
  for (const r of retained)
    revisions.set(r.hash, { hash: r.hash, version: r.version, replicas: pl.replicas.get(r.hash) ?? 0 });

  const status = buildStatus(pl, stillWarm);
  const future = pl.wakeAt.filter((t) => t > now);
  const requeueAfterMs = future.length ? Math.max(1, Math.min(...future) - now) : undefined;
  const plan: Plan = {
    revisions: [...revisions.values()].sort((a, b) => a.hash.localeCompare(b.hash)),
    deleteRevisions: deleted,
    weights: pl.weights,
    status,
    events: pl.events,
  };
  if (requeueAfterMs !== undefined) plan.requeueAfterMs = requeueAfterMs;
  if (pl.preview && pl.spec.blueGreen.previewService) plan.previewRevision = pl.preview;
  return plan;
}

export function buildStatus(pl: Planner, warm: WarmRevision[]): RolloutStatus {
  const analysisCond = analysisCondition(pl);
  warnAnalysisHold(pl, analysisCond);
  const status = computeStatus({
    input: pl.input,
    spec: pl.spec,
    previous: pl.prev,
    nowIso: pl.nowIso,
    phase: pl.phase,
    reasons: pl.reasons,
    stable: pl.stable,
    canary: pl.canary,
    weights: pl.weights,
    history: pl.history,
    rolloutStartedAt: pl.rolloutStartedAt,
    desiredSince: pl.desiredSince,
    lastRollback: pl.lastRollback,
    warm,
    acknowledged: pl.ack,
    analysis: pl.analysis.finish(pl),
    analysisCondition: analysisCond,
  });
  const gates = gatesStatus(pl);
  if (gates) status.gates = gates;
  // A concluded experiment whose challenger was promoted stays on record (its comparison and
  // winner) while the strategy is Experiment. Any other one this plan did not carry on is gone: the
  // spec dropped it (and asking for the same versions again starts a new one).
  const prevX = pl.prev.experiment;
  const promotedWinner =
    prevX?.phase === 'Concluded' &&
    !!pl.stable &&
    !!prevX.arms?.some((a) => a.role === 'Challenger' && a.revision === pl.stable);
  const experiment =
    pl.experiment ?? (pl.spec.strategy === 'Experiment' && promotedWinner ? prevX : undefined);
  if (experiment)
    status.experiment = {
      ...experiment,
      arms: (experiment.arms ?? []).map((a) => ({
        ...a,
        weight: pl.weights.find((w) => w.revision === a.revision)?.weight ?? 0,
      })),
    };
  return status;
}
