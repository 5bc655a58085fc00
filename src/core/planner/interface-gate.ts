// The interface gate: a rollout whose version breaks the interface of the serving version does not
// start (Semantic Versioning decides what may break; see core/interface.ts). Pure.
import { checkInterfaceChange } from '../interface.js';
import type { Plan } from '../plan-types.js';
import { hold } from './finish.js';
import type { Planner } from './state.js';

export const INTERFACE_INCOMPATIBLE = 'InterfaceIncompatible';

/**
 * Checked where a rollout would start: an established stable serves clients, the desired revision is
 * another one, and its rollout has not begun (a rollout under way was checked when it began; the
 * gate never stops one half-way). Going back to a revision this ModelDeployment promoted before is a
 * return to a contract its clients had, and passes. Unknown interfaces (no ModelVersion found for a
 * revision) are not judged.
 *
 * Held means the spec change is reported, not applied: the new revision's Deployment is not
 * created (nothing of it runs), and every serving revision, its size and the traffic stay exactly as
 * they are (finish.ts `hold`). One Warning Event when the hold begins or its message changes.
 */
export function interfaceGate(pl: Planner, hash: string, version: string): Plan | undefined {
  const s = pl.stable;
  const known = pl.input.interfaces;
  if (!s || !known || hash === s || pl.prev.canaryRevision === hash) return undefined;
  if (!known.has(s) || !known.has(hash) || !pl.established(s) || pl.blocked(hash)) return undefined;
  if (pl.history.some((h) => h.revision === hash && h.result === 'Promoted')) return undefined;
  const verdict = checkInterfaceChange(
    { version: pl.revs.get(s)!.version, interface: known.get(s) },
    { version, interface: known.get(hash) },
    pl.spec.allowInterfaceChangeTo,
  );
  if (verdict.ok) return undefined;
  const before = pl.prev.conditions?.find((c) => c.type === 'Degraded');
  const plan = hold(pl, INTERFACE_INCOMPATIBLE, verdict.message);
  if (
    before?.status !== 'True' ||
    before.reason !== INTERFACE_INCOMPATIBLE ||
    !before.message?.startsWith(verdict.message)
  )
    plan.events.push({ type: 'Warning', reason: INTERFACE_INCOMPATIBLE, message: verdict.message });
  return plan;
}
