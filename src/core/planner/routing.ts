// Cohorts and shadow traffic (spec.strategy.canary.cohorts, .mirror): which revision, beside the
// weight table, gets the requests that match a cohort and the copies of the stable revision's
// requests; and the hold when the router cannot do what the spec asks. Pure.
//
// Rules (property-tested in plan.property.test.ts):
// - only the canary of a rollout under way gets them, from when it has a serving pod (Ready and in
//   its Service's endpoints) until it is promoted, superseded or fails (a lost pod fails it after the
//   unready grace, as with weight), and not while the rollout is Degraded (halted), nor before its
//   pre-traffic gates passed (pre-traffic.ts);
// - a mirror is never served traffic: it is not in the weight table nor status.traffic.
import type { Plan } from '../plan-types.js';
import { servingCount } from '../observed.js';
import { trafficAllowed } from './pre-traffic.js';
import type { Planner } from './state.js';

interface Wanted {
  cohorts: boolean;
  mirror: number | undefined;
}

function wanted(pl: Planner): Wanted {
  if (pl.spec.strategy !== 'Canary') return { cohorts: false, mirror: undefined };
  const c = pl.input.md.spec.strategy?.canary;
  return { cohorts: (c?.cohorts?.length ?? 0) > 0, mirror: c?.mirror?.percent };
}

function able(pl: Planner): { cohorts: boolean; mirror: boolean } {
  const exact = pl.input.exactWeights;
  return pl.input.routing ?? { cohorts: exact, mirror: exact };
}

/**
 * Why the router cannot route as the spec asks, or undefined. The CRD rejects cohorts and mirror with
 * traffic.router service; this is for objects stored before that rule (or without it).
 */
export function routingUnsupported(pl: Planner): { reason: string; message: string } | undefined {
  const w = wanted(pl);
  const a = able(pl);
  const router = pl.spec.router;
  // Only an experiment to run is refused: a first deploy or the stable version alone needs no split.
  const d = pl.input.desired;
  const experimenting =
    pl.spec.strategy === 'Experiment' && d.ok && pl.stable && d.revision.hash !== pl.stable;
  if (experimenting && !pl.input.exactWeights) {
    return {
      reason: 'ExperimentUnsupported',
      message: `strategy.type Experiment needs a router that splits by fixed weights (gatewayApi or istio); traffic.router ${router} splits by ready pods: no experiment starts until the spec changes`,
    };
  }
  if (w.cohorts && !a.cohorts) {
    return {
      reason: 'CohortsUnsupported',
      message: `strategy.canary.cohorts needs a router that matches headers (gatewayApi or istio); traffic.router ${router} cannot: no rollout starts until the spec changes`,
    };
  }
  if (w.mirror !== undefined && !a.mirror) {
    return {
      reason: 'MirrorUnsupported',
      message: `strategy.canary.mirror needs a router that mirrors requests (gatewayApi or istio); traffic.router ${router} cannot: no rollout starts until the spec changes`,
    };
  }
  return undefined;
}

/** The canary keeps at least one pod, even at weight 0, while cohorts or a mirror are to reach it. */
export function canaryFloor(pl: Planner): number {
  const w = wanted(pl);
  return (w.cohorts || w.mirror !== undefined) && pl.spec.replicas > 0 ? 1 : 0;
}

/** The previous plan sent the revision cohorts or mirrored requests: it has been serving. */
export function routedBefore(pl: Planner, hash: string): boolean {
  return pl.prev.cohort?.revision === hash || pl.prev.mirror?.revision === hash;
}

/** The canary serves the cohorts' requests (so its analysis has traffic to judge at weight 0). */
export function cohortsServe(pl: Planner): boolean {
  return wanted(pl).cohorts;
}

/** Adds the cohort and mirror targets to the plan and its status. */
export function planRouting(pl: Planner, plan: Plan): Plan {
  const w = wanted(pl);
  const c = pl.canary;
  const rev = c ? pl.revs.get(c.hash) : undefined;
  const live =
    c &&
    c.hash !== pl.stable &&
    // Once routed, it stays routed through the unready grace, as a weight does (checkCanary fails
    // it when the grace is over); before, it needs a serving pod.
    (servingCount(rev) > 0 || routedBefore(pl, c.hash)) &&
    pl.phase !== 'Degraded' &&
    !pl.knownBad(c.hash) &&
    plan.weights.some((x) => x.revision === c.hash) &&
    // Cohorts and mirrored copies are user requests too: none before the pre-traffic gates passed.
    trafficAllowed(pl, c.hash) &&
    !routingUnsupported(pl);
  if (!c || !live) return plan;
  if (w.cohorts) {
    plan.cohort = { revision: c.hash, version: c.version };
    plan.status.cohort = { revision: c.hash, version: c.version };
  }
  if (w.mirror !== undefined) {
    plan.mirror = { revision: c.hash, version: c.version, percent: w.mirror };
    plan.status.mirror = { revision: c.hash, version: c.version, percent: w.mirror };
  }
  return plan;
}
