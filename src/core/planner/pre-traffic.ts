// The pre-traffic gates' part of the planner: whether traffic may move to a revision (before its
// first user request, before its promotion), from the verdicts the shell's probes reached (loaded
// interface, smoke test, webhook gates; src/gates). A verdict still being reached holds; no verdict
// never lets traffic move. Pure.
import type { Failure, FailureReason } from '../health.js';
import type { GateVerdict, RolloutStatus } from '../plan-types.js';
import type { Planner } from './state.js';

export type GateStage = 'beforeTraffic' | 'beforePromotion';

export type GateDecision =
  | { pass: true }
  | { pass: false; hold: { reason: string; message: string } }
  | { pass: false; failure: Failure };

/** How often a held gate is looked at again, should the shell's wake-up be lost (it enqueues the key). */
export const GATE_RECHECK_MS = 5_000;

const FAILURE_REASONS: ReadonlySet<string> = new Set(['SmokeTestFailed', 'InterfaceMismatch', 'GateFailed']);

const STAGE_TEXT: Record<GateStage, string> = {
  beforeTraffic: 'the pre-traffic checks',
  beforePromotion: 'the pre-promotion gates',
};

/**
 * May traffic move to `hash` at `stage`? Without gates input nothing is gated. With it, only a
 * Passed verdict for this very revision lets traffic move; a Failed one is a Failure of the
 * revision (reverted like a readiness or analysis failure, with the verdict's reason); anything
 * else (Pending, Held, or a verdict for another revision) holds.
 */
export function gateDecision(pl: Planner, hash: string, version: string, stage: GateStage): GateDecision {
  const g = pl.input.gates;
  if (!g) return { pass: true };
  if (g.revision !== hash) {
    pl.promoteWaits = true;
    return {
      pass: false,
      hold: {
        reason: 'GatesPending',
        message: `${STAGE_TEXT[stage]} of version ${version} have not started yet`,
      },
    };
  }
  const v = g[stage];
  if (!v || v.result === 'Passed') return { pass: true };
  if (v.result === 'Failed')
    return {
      pass: false,
      failure: {
        reason: FAILURE_REASONS.has(v.reason) ? (v.reason as FailureReason) : 'GateFailed',
        message: `${STAGE_TEXT[stage]} of version ${version} (revision ${hash}) failed: ${v.message}`,
      },
    };
  pl.wake(pl.input.now + GATE_RECHECK_MS);
  pl.promoteWaits = true;
  return {
    pass: false,
    hold: { reason: v.reason, message: `${STAGE_TEXT[stage]} of version ${version}: ${v.message}` },
  };
}

/** Whether user requests of any kind (weight, cohorts, mirrored copies) may reach `hash` now. No side effects. */
export function trafficAllowed(pl: Planner, hash: string): boolean {
  const g = pl.input.gates;
  if (!g) return true;
  return g.revision === hash && (!g.beforeTraffic || g.beforeTraffic.result === 'Passed');
}

/**
 * status.gates: the verdicts of the revision whose rollout was under way when this plan began or is
 * after it (the plan that reverts it records the verdict that did); else the last ones recorded.
 * Once reverted, what the shell says of the revision ("not begun") must not overwrite the verdict
 * that reverted it.
 */
export function gatesStatus(pl: Planner): RolloutStatus['gates'] {
  const g = pl.input.gates;
  const underWay = (h: string) => pl.canary?.hash === h || pl.preview === h || pl.prev.canaryRevision === h;
  if (!g || !underWay(g.revision)) return pl.prev.gates;
  const record = (v: GateVerdict | undefined) =>
    v
      ? { result: v.result, reason: v.reason, message: v.message, ...(v.time ? { time: v.time } : {}) }
      : undefined;
  const out: NonNullable<RolloutStatus['gates']> = { revision: g.revision };
  const bt = record(g.beforeTraffic);
  const bp = record(g.beforePromotion);
  if (bt) out.beforeTraffic = bt;
  if (bp) out.beforePromotion = bp;
  return out;
}
