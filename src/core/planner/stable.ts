// The stable revision: its health, fail-over to an earlier revision, a first deploy, the steady
// state, and replacing it without a canary when there is nothing healthy to protect. Pure.
import type { Failure } from '../health.js';
import { assessRevision, nextHealthDeadline } from '../health.js';
import { readyCount } from '../observed.js';
import { endCanary, pushFailure, setLastRollback } from './outcomes.js';
import type { Planner } from './state.js';

/**
 * An established stable revision that crash-loops, cannot pull its image, or has no Ready pod for
 * longer than the grace is failed over to the newest earlier revision that was healthy.
 * Restart counts alone do not fail a long-running stable revision: over weeks they add up.
 */
export function checkStable(pl: Planner): Failure | undefined {
  const s = pl.stable;
  if (!s || !pl.established(s)) return undefined;
  const rev = pl.revs.get(s)!;
  const required = pl.spec.replicas > 0 ? 1 : 0;
  const crit = pl.criteria({
    required,
    since: pl.input.now,
    maxRestarts: undefined,
    wasReady: true,
    strict: false,
  });
  const failure = assessRevision(rev, crit);
  if (!failure) {
    pl.wake(nextHealthDeadline(rev, crit));
    return undefined;
  }
  const target = fallbackFor(pl, s);
  const fresh = pushFailure(pl, s, rev.version, 'Failed', failure);
  if (!target) {
    const msg = `${failure.message}; no earlier healthy revision to fail over to`;
    if (fresh) pl.event('Warning', failure.reason, msg);
    pl.degraded(failure.reason, msg);
    return failure;
  }
  const to = pl.revs.get(target)!;
  setLastRollback(pl, s, rev.version, target, to.version, failure);
  pl.stable = target;
  pl.warm = pl.warm.filter((w) => w.revision !== target);
  return undefined;
}

/** The newest earlier revision that was once promoted and is not known bad. */
export function fallbackFor(pl: Planner, failed: string): string | undefined {
  const promoted: string[] = [];
  for (let i = pl.history.length - 1; i >= 0; i--) {
    const h = pl.history[i]!;
    if (h.result === 'Promoted' && h.revision !== failed && !promoted.includes(h.revision))
      promoted.push(h.revision);
  }
  return promoted.find((h) => pl.revs.has(h) && !pl.knownBad(h));
}

/**
 * A status lost whole: the revision found serving the traffic with Ready pods (Planner.established)
 * is recorded as promoted, reason Recovered, so that it stays established once the status names it
 * again and the next version still gets a canary.
 */
export function recoverStable(pl: Planner): void {
  const s = pl.stable;
  if (!s || s !== pl.routedStable || pl.latestEntry(s) || !pl.established(s)) return;
  const rev = pl.revs.get(s)!;
  pl.pushHistory({
    revision: s,
    version: rev.version,
    result: 'Promoted',
    reason: 'Recovered',
    message: `version ${rev.version} found serving the traffic with ${readyCount(rev)} Ready pods; its status had been lost`,
  });
}

export function firstDeploy(pl: Planner, hash: string, version: string): void {
  pl.stable = hash;
  pl.rolloutStartedAt = pl.input.now;
  pl.event(
    'Normal',
    'Deploying',
    `deploying version ${version} (revision ${hash}) with ${pl.spec.replicas} replicas`,
  );
  steady(pl);
}

/** The desired revision is the stable one: full size, all traffic; finish a first deploy. */
export function steady(pl: Planner): void {
  const s = pl.stable!;
  const rev = pl.revs.get(s);
  const version = rev?.version ?? pl.desiredVersion();
  endCanary(pl, `spec.version is back to ${version}`);
  pl.replicas.set(s, pl.spec.replicas);
  pl.route([[s, version, 100]]);
  const ready = readyCount(rev);
  if (!pl.established(s)) {
    const since = pl.rolloutStartedAt ?? pl.input.now;
    pl.rolloutStartedAt = since;
    const failure = rev && pl.checkRollout(rev, pl.spec.replicas, since, false);
    if (failure) {
      const msg = `${failure.message}; no earlier revision to revert to`;
      if (pushFailure(pl, s, version, 'Failed', failure)) pl.event('Warning', failure.reason, msg);
      pl.degraded(failure.reason, msg);
      pl.phase = 'Failed';
      return;
    }
    if (ready >= pl.spec.replicas && rev) {
      const fresh = pl.pushHistory({
        revision: s,
        version,
        result: 'Promoted',
        reason: 'Ready',
        message: `version ${version} is Ready`,
      });
      if (fresh)
        pl.event(
          'Normal',
          'Ready',
          `version ${version} (revision ${s}) is Ready with ${ready}/${pl.spec.replicas} replicas`,
        );
      pl.rolloutStartedAt = undefined;
    } else {
      pl.progressing('Deploying', `version ${version}: ${ready}/${pl.spec.replicas} replicas ready`);
      return;
    }
  }
  if (pl.phase === 'Degraded' || pl.phase === 'Failed') return;
  if (ready < pl.spec.replicas) {
    pl.progressing('Scaling', `version ${version}: ${ready}/${pl.spec.replicas} replicas ready`);
    return;
  }
  pl.phase = 'Healthy';
  pl.reasons.ready = [
    'RolloutComplete',
    `version ${version} serves all traffic with ${ready}/${pl.spec.replicas} replicas ready`,
  ];
  pl.reasons.progressing = [false, 'RolloutComplete', `version ${version} is rolled out`];
}

export function replace(pl: Planner, hash: string, version: string, why: string): void {
  const old = pl.stable!;
  endCanary(pl, `replaced by ${version}`);
  if (pl.revs.has(old) && !pl.knownBad(old)) {
    pl.pushHistory({
      revision: old,
      version: pl.revs.get(old)!.version,
      result: 'Superseded',
      reason: why,
      message: `replaced by ${version}`,
    });
  }
  pl.replicas.set(old, 0);
  pl.warm = pl.warm.filter((w) => w.revision !== old);
  pl.stable = hash;
  pl.rolloutStartedAt = pl.input.now;
  pl.phase = 'Progressing';
  delete pl.reasons.degraded;
  pl.event(
    'Normal',
    'Deploying',
    `deploying version ${version} (revision ${hash}) directly: ${why === 'StableUnhealthy' ? 'the serving version is unhealthy' : 'the serving version never became Ready'}`,
  );
  steady(pl);
}
