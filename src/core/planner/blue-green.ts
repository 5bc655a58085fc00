// The BlueGreen strategy: the new revision comes up at full size behind the preview, with no
// traffic; once Ready (and after autoPromotionSeconds, or on a promote request) all traffic switches
// at once. Pure.
import { readiness, servingCount } from '../observed.js';
import { canaryFailed, promote } from './outcomes.js';
import { gateDecision } from './pre-traffic.js';
import type { Planner } from './state.js';
import { advance, pausedPhase, startOrResume } from './steps.js';

export function blueGreen(pl: Planner, hash: string, version: string): void {
  const s = pl.stable!;
  const stableRev = pl.revs.get(s)!;
  const c = startOrResume(pl, hash, version);
  const rev = pl.revs.get(hash);
  pl.replicas.set(s, pl.spec.replicas);
  pl.replicas.set(hash, pl.spec.replicas);
  pl.preview = hash;
  // Before the preview was Ready: the progress deadline; after: losing readiness fails it.
  const failure = rev && pl.checkRollout(rev, pl.spec.replicas, c.stepStartedAt, c.step >= 1);
  if (failure) return canaryFailed(pl, c, failure, s, stableRev.version);
  if (pl.spec.paused) {
    pl.canary = c;
    pl.replicas.set(hash, rev?.replicas ?? 0);
    pl.route([
      [s, stableRev.version, 100],
      [hash, version, 0],
    ]);
    pausedPhase(pl);
    return;
  }
  // The preview counts as up once its pods are in its Service's endpoints (testers reach it there).
  if (c.step === 0 && servingCount(rev) >= pl.spec.replicas) advance(pl, c);
  pl.canary = c;
  pl.route([
    [s, stableRev.version, 100],
    [hash, version, 0],
  ]);
  if (c.step === 0) {
    pl.progressing('PreviewStarting', `preview of ${version}: ${readiness(rev, pl.spec.replicas, version)}`);
    return;
  }
  // The switch moves all traffic at once: both gate stages come before it (pre-traffic.ts). A
  // promote request waits, unacknowledged, until they pass.
  for (const stage of ['beforeTraffic', 'beforePromotion'] as const) {
    const g = gateDecision(pl, hash, version, stage);
    if (g.pass) continue;
    if ('failure' in g) return canaryFailed(pl, c, g.failure, s, stableRev.version);
    pl.progressing(g.hold.reason, g.hold.message);
    return;
  }
  const bg = pl.spec.blueGreen;
  if (pl.takeRequest('promote')) return promote(pl, hash, version, s, stableRev.version);
  if (bg.autoPromotionEnabled) {
    const at = c.stepStartedAt + bg.autoPromotionMs;
    if (pl.input.now >= at) return promote(pl, hash, version, s, stableRev.version);
    pl.wake(at);
    pl.progressing(
      'PreviewReady',
      `preview of ${version} is Ready; switching traffic in ${Math.ceil((at - pl.input.now) / 1000)}s`,
    );
    return;
  }
  pl.phase = 'Paused';
  pl.progressing(
    'WaitingForPromotion',
    `preview of ${version} is Ready; waiting for promotion (annotation modelship.io/promote)`,
    'Unknown',
  );
}
