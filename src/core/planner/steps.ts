// What the canary and blue-green strategies share: starting or resuming a rollout from the status,
// moving to the next step, checking the new revision's health at a step, and pausing. Pure.
import type { Failure } from '../health.js';
import type { ObservedRevision } from '../observed.js';
import { weightBefore } from '../spec.js';
import { endCanary } from './outcomes.js';
import { routedBefore } from './routing.js';
import type { CanaryState, Planner } from './state.js';
import { parseTime } from '../time.js';

/** spec.paused before the new version's rollout began: it does not begin. */
export function pausedBeforeStart(pl: Planner, version: string): void {
  const s = pl.stable!;
  pl.replicas.set(s, pl.spec.replicas);
  pl.route([[s, pl.revs.get(s)!.version, 100]]);
  pausedPhase(pl, `spec.paused is true: the rollout of ${version} has not started`);
}

export function pausedPhase(
  pl: Planner,
  message = 'spec.paused is true: the rollout is frozen; traffic and sizes stay as they are',
): void {
  pl.phase = 'Paused';
  pl.reasons.ready = ['Paused', message];
  pl.reasons.progressing = ['Unknown', 'Paused', message];
}

export function startOrResume(pl: Planner, hash: string, version: string): CanaryState {
  const p = pl.prev;
  if (p.canaryRevision === hash) {
    const step = p.currentStepIndex ?? 0;
    return {
      hash,
      version,
      weight: weightBefore(pl.spec.steps, step),
      step,
      stepStartedAt: parseTime(p.currentStepStartedAt) ?? pl.input.now,
    };
  }
  endCanary(pl, `superseded by ${version}`);
  pl.rolloutStartedAt = pl.input.now;
  pl.event(
    'Normal',
    'RolloutStarted',
    `rolling out version ${version} (revision ${hash}) with strategy ${pl.spec.strategy}`,
  );
  return { hash, version, weight: 0, step: 0, stepStartedAt: pl.input.now };
}

export function advance(pl: Planner, c: { step: number; stepStartedAt: number }): void {
  c.step += 1;
  c.stepStartedAt = pl.input.now;
}

export function checkCanary(
  pl: Planner,
  rev: ObservedRevision | undefined,
  c: { weight: number; stepStartedAt: number },
  required: number,
): Failure | undefined {
  if (!rev) {
    // Not created yet: the deadline still runs from the step's start.
    if (required > 0) pl.wake(c.stepStartedAt + pl.spec.progressDeadlineMs);
    return undefined;
  }
  // Pods that served (weight, or the cohorts and mirror of the last plan) and lost readiness fail it.
  const served = c.weight > 0 ? pl.replicasForWeight(c.weight) : routedBefore(pl, rev.hash) ? 1 : 0;
  if (served > 0) {
    const lost = pl.checkRollout(rev, served, c.stepStartedAt, true);
    if (lost) return lost;
  }
  return pl.checkRollout(rev, required, c.stepStartedAt, false);
}
