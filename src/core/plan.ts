import type { Plan, PlanInput } from './plan-types.js';
import { checkBake } from './planner/analysis.js';
import { blueGreen } from './planner/blue-green.js';
import { canaryRollout } from './planner/canary.js';
import { experiment, experimentUnresolved, supersedeExperiment } from './planner/experiment.js';
import { finish, hold } from './planner/finish.js';
import { rolledBack } from './planner/outcomes.js';
import { interfaceGate } from './planner/interface-gate.js';
import { handleRequests } from './planner/requests.js';
import { checkStable, firstDeploy, recoverStable, replace, steady } from './planner/stable.js';
import { Planner } from './planner/state.js';
import { parseTime } from './time.js';
import { pausedBeforeStart } from './planner/steps.js';
import { planRouting, routingUnsupported } from './planner/routing.js';
export type * from './plan-types.js';
export { readRequests } from './planner/requests.js';

/**
 * The rollout state machine: from the spec, the previous status and the observed revisions, it
 * decides which revisions exist at which size, how traffic is split, and what the status says.
 * Pure: the same input gives the same plan, so a reconcile can run any time, any number of times.
 * Its parts live in planner/: the working state (state.ts), the stable revision (stable.ts), one
 * file per strategy (canary.ts, blue-green.ts, experiment.ts) and what they share (steps.ts), how a rollout ends
 * (outcomes.ts), control requests (requests.ts) and the plan put together (finish.ts).
 *
 * Safety rules it keeps (property-tested in plan.property.test.ts):
 * - weights always sum to 100;
 * - traffic never moves to a revision known to have failed;
 * - the stable revision keeps its full size until a successor is Ready and promoted;
 * - a failing new revision is reverted the moment its pods show the failure;
 * - a version that breaks the serving version's interface without a new major version (or the
 *   opt-in) is not started: nothing of it runs and no traffic moves (planner/interface-gate.ts).
 */
export function planRollout(input: PlanInput): Plan {
  const pl = new Planner(input);
  // First, whatever else this reconcile decides (a hold, a gated version): a stable revision found
  // from the routing after a status lost whole is recorded, so that it stays established.
  recoverStable(pl);
  // Cohorts or a mirror the router cannot carry out: nothing moves (planner/routing.ts).
  const unsupported = routingUnsupported(pl);
  if (unsupported) return hold(pl, unsupported.reason, unsupported.message);
  return planRouting(pl, decide(pl));
}

/** Which branch of the state machine this reconcile is in. */
function decide(pl: Planner): Plan {
  const desired = pl.input.desired;
  if (!desired.ok) return hold(pl, desired.reason, desired.message);
  const d = desired.revision;
  const p = pl.prev;
  pl.desiredSince = p.desiredRevision === d.hash ? (parseTime(p.desiredSince) ?? pl.input.now) : pl.input.now;
  // A version that breaks the serving version's interface does not start: nothing else is decided.
  const gated = interfaceGate(pl, d.hash, d.version);
  if (gated) return gated;
  handleRequests(pl);
  supersedeExperiment(pl);

  // A new stable revision still in its bake time whose analysis fails goes back to the previous one.
  checkBake(pl);
  const stableFailure = checkStable(pl);
  if (!pl.stable) {
    firstDeploy(pl, d.hash, d.version);
  } else if (d.hash === pl.stable) {
    steady(pl);
  } else if (pl.spec.strategy === 'Experiment' && !stableFailure && pl.established(pl.stable)) {
    // Before the blocked check: a challenger that fails gets weight 0 and the experiment goes on.
    const invalid = experimentUnresolved(pl);
    if (invalid) return hold(pl, invalid.reason, invalid.message);
    experiment(pl, d.hash, d.version);
  } else if (pl.blocked(d.hash)) {
    rolledBack(pl, d.hash, d.version);
  } else if (pl.spec.paused && pl.prev.canaryRevision !== d.hash) {
    pausedBeforeStart(pl, d.version);
  } else if (stableFailure || !pl.established(pl.stable)) {
    // Nothing healthy to protect: the new version replaces the old one without a canary.
    replace(pl, d.hash, d.version, stableFailure ? 'StableUnhealthy' : 'StableNotEstablished');
  } else if (pl.spec.strategy === 'BlueGreen') {
    blueGreen(pl, d.hash, d.version);
  } else {
    canaryRollout(pl, d.hash, d.version);
  }
  return finish(pl);
}
