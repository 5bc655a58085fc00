// How a rollout ends: promoted, reverted (rolled back), or superseded by a newer spec; and the
// history and lastRollback records each of those leaves. Pure.
import type { Failure } from '../health.js';
import { readyCount } from '../observed.js';
import type { CanaryState, Planner } from './state.js';

/** The desired revision failed (or was aborted) under this generation: stay on the stable one. */
export function rolledBack(pl: Planner, hash: string, version: string): void {
  endCanary(pl, `superseded by ${version}`);
  const s = pl.stable!;
  const sVersion = pl.revs.get(s)!.version;
  const failing = pl.revs.get(hash);
  pl.replicas.set(s, pl.spec.replicas);
  if (readyCount(pl.revs.get(s)) === 0 && failing && readyCount(failing) > 0 && pl.spec.replicas > 0) {
    // A failed-over stable whose fallback has no Ready pod yet: the failing revision keeps the
    // traffic it still serves, at its size, until the fallback can take it.
    pl.replicas.set(hash, failing.replicas);
    pl.route([
      [hash, version, 100],
      [s, sVersion, 0],
    ]);
  } else {
    pl.replicas.set(hash, 0);
    pl.route([[s, sVersion, 100]]);
  }
  const entry = pl.latestEntry(hash);
  const why = entry?.result === 'Aborted' ? 'Aborted' : 'RolledBack';
  if (pl.phase !== 'Failed') pl.phase = 'RolledBack';
  const msg = `version ${version} ${why === 'Aborted' ? 'was aborted' : `failed (${entry?.reason ?? 'unknown'})`}; traffic stays on ${sVersion}. Change spec.version, or request a retry (annotation modelship.io/retry)`;
  pl.reasons.ready = [why, msg];
  pl.reasons.progressing = [false, why, msg];
  if (!pl.reasons.degraded) {
    // Said as the revert said it (setLastRollback), so the reconciles after a revert do not
    // rewrite the condition with a shorter message.
    const lr = pl.lastRollback;
    pl.reasons.degraded =
      why === 'RolledBack' && lr?.from?.revision === hash && lr.reason && lr.reason === entry?.reason
        ? [lr.reason, `reverted from ${lr.from.version} to ${lr.to?.version}: ${lr.message}`]
        : [entry?.reason ?? why, entry?.message ?? msg];
  }
}

/**
 * Ends the previous rollout's canary when it is no longer the target (the spec changed
 * mid-rollout): it is scaled to 0 and kept for inspection, with one history entry.
 */
export function endCanary(pl: Planner, message: string): void {
  const p = pl.prev.canaryRevision;
  if (!p || p === pl.stable || !pl.revs.has(p)) return;
  if (pl.input.desired.ok && p === pl.input.desired.revision.hash) return;
  pl.replicas.set(p, 0);
  const version = pl.revs.get(p)!.version;
  if (pl.pushHistory({ revision: p, version, result: 'Superseded', reason: 'Superseded', message })) {
    pl.event('Normal', 'Superseded', `rollout of version ${version} (revision ${p}) superseded: ${message}`);
  }
}

export function canaryFailed(
  pl: Planner,
  c: CanaryState,
  failure: Failure,
  stable: string,
  stableVersion: string,
): void {
  if (!pl.spec.autoRollback) {
    // Hold: the rollout stops where it is; a person decides (abort, retry, or a spec change).
    pl.canary = c;
    pl.replicas.set(c.hash, pl.replicas.get(c.hash) ?? pl.replicasForWeight(c.weight));
    pl.splitTraffic(stable, stableVersion, c.hash, c.version, c.weight);
    const prevDegraded = pl.prev.conditions?.find((x) => x.type === 'Degraded');
    if (prevDegraded?.status !== 'True' || prevDegraded.reason !== failure.reason) {
      pl.event('Warning', failure.reason, `${failure.message}; autoRollback is off, the rollout is halted`);
    }
    pl.degraded(failure.reason, `${failure.message}; autoRollback is off: abort or retry the rollout`);
    return;
  }
  pl.replicas.set(c.hash, 0);
  pushFailure(pl, c.hash, c.version, 'RolledBack', failure);
  setLastRollback(pl, c.hash, c.version, stable, stableVersion, failure);
  rolledBack(pl, c.hash, c.version);
}

export function promote(pl: Planner, hash: string, version: string, old: string, oldVersion: string): void {
  pl.replicas.set(hash, pl.spec.replicas);
  pl.stable = hash;
  // The canary's analysis goes into the history entry; a bake time starts a new one, during which
  // the previous revision stays warm (at least that long) so that going back to it is instant.
  const a = pl.analysis;
  const analysed = a.active('Canary', hash) ? a.summary() : '';
  const bakeMs = a.spec?.bakeMs ?? 0;
  if (bakeMs > 0) a.begin('Bake', hash, old, new Date(pl.input.now + bakeMs).toISOString());
  else if (a.active('Canary', hash)) a.status!.stage = 'Succeeded';
  const keepMs = Math.max(pl.spec.scaleDownDelayMs, bakeMs);
  if (keepMs > 0) {
    const at = pl.input.now + keepMs;
    pl.warm = [
      ...pl.warm.filter((w) => w.revision !== old),
      { revision: old, version: oldVersion, scaleDownAt: new Date(at).toISOString() },
    ];
  } else {
    pl.replicas.set(old, 0);
  }
  const fresh = pl.pushHistory({
    revision: hash,
    version,
    result: 'Promoted',
    reason: 'Promoted',
    message: `version ${version} replaced ${oldVersion}${analysed ? `; analysis passed: ${analysed}` : ''}`,
  });
  if (fresh)
    pl.event(
      'Normal',
      'Promoted',
      `version ${version} (revision ${hash}) promoted: it serves all traffic; ${oldVersion} kept warm for ${keepMs / 1000}s${bakeMs > 0 ? ` (bake time ${bakeMs / 1000}s: the analysis goes on)` : ''}`,
    );
  pl.rolloutStartedAt = undefined;
  pl.canary = undefined;
  pl.preview = undefined;
  pl.route([[hash, version, 100]]);
  const ready = readyCount(pl.revs.get(hash));
  pl.phase = 'Healthy';
  pl.reasons.ready = [
    'RolloutComplete',
    `version ${version} serves all traffic with ${ready}/${pl.spec.replicas} replicas ready`,
  ];
  pl.reasons.progressing = [false, 'RolloutComplete', `version ${version} is rolled out`];
}

/** Appends the failure to the history; true when the entry is new in this attempt (see pushHistory). */
export function pushFailure(
  pl: Planner,
  hash: string,
  version: string,
  result: 'RolledBack' | 'Failed',
  f: Failure,
): boolean {
  return pl.pushHistory({ revision: hash, version, result, reason: f.reason, message: f.message });
}

/** Puts the revert in status.lastRollback, with its Warning Event and the Degraded condition. */
export function setLastRollback(
  pl: Planner,
  from: string,
  fromVersion: string,
  to: string,
  toVersion: string,
  f: Failure,
): void {
  pl.lastRollback = {
    from: { revision: from, version: fromVersion },
    to: { revision: to, version: toVersion },
    reason: f.reason,
    message: f.message,
    time: pl.nowIso,
  };
  pl.event('Warning', 'RolledBack', `traffic reverted from ${fromVersion} to ${toVersion}: ${f.message}`);
  pl.degraded(f.reason, `reverted from ${fromVersion} to ${toVersion}: ${f.message}`);
}

/**
 * The analysis failed during the bake time after a promotion: the traffic goes back to the previous
 * revision (still warm), the failed one is recorded RolledBack and, with the desired revision now
 * blocked, scaled to 0 by rolledBack() in the same reconcile. Without autoRollback, or with the
 * previous revision gone or known bad, it holds (Degraded) instead.
 */
export function endBakeFailed(
  pl: Planner,
  hash: string,
  version: string,
  previous: string | undefined,
  f: Failure,
): void {
  const target = previous && pl.revs.has(previous) && !pl.knownBad(previous) ? previous : undefined;
  if (!pl.spec.autoRollback || !target) {
    const msg = target
      ? `${f.message}; autoRollback is off: the rollout is halted`
      : `${f.message}; the previous revision is gone: nothing to go back to`;
    const prevDegraded = pl.prev.conditions?.find((x) => x.type === 'Degraded');
    if (prevDegraded?.status !== 'True' || prevDegraded.reason !== f.reason)
      pl.event('Warning', f.reason, msg);
    pl.degraded(f.reason, msg);
    return;
  }
  const to = pl.revs.get(target)!;
  pushFailure(pl, hash, version, 'RolledBack', f);
  setLastRollback(pl, hash, version, target, to.version, f);
  pl.stable = target;
  pl.warm = pl.warm.filter((w) => w.revision !== target);
}
