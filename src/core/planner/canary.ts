// The Canary strategy: setWeight and pause steps, then the canary grows to full size and takes all
// traffic. Pure.
import type { Failure } from '../health.js';
import { readiness, servingCount } from '../observed.js';
import { canaryFailed, promote } from './outcomes.js';
import { gateDecision, type GateStage } from './pre-traffic.js';
import type { Planner } from './state.js';
import { canaryFloor, cohortsServe } from './routing.js';
import { advance, checkCanary, pausedPhase, startOrResume } from './steps.js';

export function canaryRollout(pl: Planner, hash: string, version: string): void {
  const s = pl.stable!;
  const stableRev = pl.revs.get(s)!;
  const fresh = pl.prev.canaryRevision !== hash;
  const c = startOrResume(pl, hash, version);
  const rev = pl.revs.get(hash);
  const steps = pl.spec.steps;
  pl.replicas.set(s, pl.spec.replicas);
  const analysis = pl.analysis;
  analysis.ensureCanary(hash, s, fresh);
  // Cohorts and a mirror reach the canary at weight 0 too: it keeps a pod for them.
  const floor = canaryFloor(pl);
  const size = (weight: number): number => Math.max(floor, pl.replicasForWeight(weight));

  let failure: Failure | undefined = analysis.failure('Canary', hash, version);
  let waiting: string | undefined;
  let holdReason: string | undefined;
  let targetReplicas = size(c.weight);
  if (failure) targetReplicas = rev?.replicas ?? targetReplicas;
  /**
   * A step the canary served traffic in ends only once every analysis check has passed since it
   * began (never on no data); sets the waiting message and reason when it cannot.
   */
  const held = (what: string): boolean => {
    if (c.weight <= 0 && !cohortsServe(pl)) return false;
    const hold = analysis.gate(hash, c.stepStartedAt);
    if (!hold) return false;
    waiting = `${what}: ${hold.message}`;
    holdReason = hold.reason;
    return true;
  };
  /**
   * The pre-traffic gates (pre-traffic.ts): before the canary's first user request and before its
   * promotion. Sets the failure, or the waiting message and reason, when traffic may not move.
   */
  const gated = (stage: GateStage): boolean => {
    const g = gateDecision(pl, hash, version, stage);
    if (g.pass) return false;
    if ('failure' in g) failure = g.failure;
    else [waiting, holdReason] = [g.hold.message, g.hold.reason];
    return true;
  };
  while (!waiting && !failure) {
    const step = steps[c.step];
    if (pl.spec.paused) {
      // Frozen: no step moves, sizes stay as they are; failures are still acted on.
      targetReplicas = rev?.replicas ?? 0;
      failure = checkCanary(pl, rev, c, Math.min(targetReplicas, size(c.weight)));
      waiting = 'paused';
      pausedPhase(pl);
      break;
    }
    if (!step) {
      // After the last step: the canary grows to full size, then takes all traffic.
      targetReplicas = pl.spec.replicas;
      failure = checkCanary(pl, rev, c, targetReplicas);
      if (failure) break;
      if (servingCount(rev) >= targetReplicas) {
        if (held(`promotion of ${version}`)) break;
        if (c.weight === 0 && gated('beforeTraffic')) break;
        if (gated('beforePromotion')) break;
        return promote(pl, hash, version, s, stableRev.version);
      }
      waiting = `promoting: ${readiness(rev, targetReplicas, version)}`;
    } else if ('setWeight' in step) {
      targetReplicas = Math.max(size(step.setWeight), size(c.weight));
      failure = checkCanary(pl, rev, c, targetReplicas);
      if (failure) break;
      // Weight moves only to pods the gateway can reach: Ready and in the Service's endpoints.
      if (servingCount(rev) >= size(step.setWeight)) {
        if (held(`step ${c.step + 1}/${steps.length}: weight ${c.weight}% before ${step.setWeight}%`)) break;
        if (c.weight === 0 && step.setWeight > 0 && gated('beforeTraffic')) break;
        c.weight = step.setWeight;
        advance(pl, c);
        continue;
      }
      waiting = `step ${c.step + 1}/${steps.length}: waiting for ${size(step.setWeight)} ready replicas of ${version} before setting weight ${step.setWeight}%: ${readiness(rev, size(step.setWeight), version)}`;
    } else {
      targetReplicas = size(c.weight);
      failure = checkCanary(pl, rev, c, targetReplicas);
      if (failure) break;
      if (pl.takeRequest('promote')) {
        advance(pl, c);
        continue;
      }
      if (step.pauseMs !== undefined) {
        const end = c.stepStartedAt + step.pauseMs;
        if (pl.input.now >= end) {
          if (held(`step ${c.step + 1}/${steps.length}: pause over at weight ${c.weight}%`)) break;
          advance(pl, c);
          continue;
        }
        pl.wake(end);
        waiting = `step ${c.step + 1}/${steps.length}: paused for ${Math.ceil((end - pl.input.now) / 1000)}s more at weight ${c.weight}%`;
      } else {
        waiting = `step ${c.step + 1}/${steps.length}: paused at weight ${c.weight}% until promoted (annotation modelship.io/promote)`;
        pl.phase = 'Paused';
        pl.progressing('WaitingForPromotion', waiting, 'Unknown');
      }
    }
  }
  pl.replicas.set(hash, targetReplicas);
  if (failure) return canaryFailed(pl, c, failure, s, stableRev.version);
  pl.canary = c;
  pl.splitTraffic(s, stableRev.version, hash, version, c.weight);
  analysis.wake(pl, 'Canary', hash);
  if (pl.phase !== 'Paused') pl.progressing(holdReason ?? 'CanaryStep', waiting ?? '');
}
