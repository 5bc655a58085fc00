// promote / abort / retry, requested by annotation tokens on the ModelDeployment. Pure.
import type { ModelDeployment } from '../../api/index.js';
import type { PlanInput } from '../plan-types.js';
import type { Planner } from './state.js';

/** promote/abort/retry are requested by annotation tokens; a token is acted on once (status.acknowledged). */
export function handleRequests(pl: Planner): void {
  if (pl.takeRequest('retry')) {
    pl.ack.retryAt = pl.nowIso;
    // A retried first deploy gets a fresh progress deadline.
    if (pl.stable && !pl.established(pl.stable)) pl.rolloutStartedAt = pl.input.now;
    pl.event('Normal', 'RetryRequested', 'retry requested: the desired version will be rolled out again');
  }
  if (pl.takeRequest('abort')) {
    const c = pl.prev.canaryRevision;
    if (c && pl.revs.has(c) && c !== pl.stable) {
      pl.pushHistory({
        revision: c,
        version: pl.revs.get(c)!.version,
        result: 'Aborted',
        reason: 'AbortRequested',
        message: 'rollout aborted on request',
      });
      pl.event(
        'Warning',
        'Aborted',
        `rollout of ${pl.revs.get(c)!.version} aborted on request; traffic back on the stable version`,
      );
      pl.replicas.set(c, 0);
    }
  }
}

/** The ModelDeployment's own control requests, read from its annotations. */
export function readRequests(md: ModelDeployment): PlanInput['requests'] {
  const a = md.metadata?.annotations ?? {};
  const out: PlanInput['requests'] = {};
  for (const k of ['promote', 'abort', 'retry'] as const) {
    const v = a[`modelship.io/${k}`];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}
