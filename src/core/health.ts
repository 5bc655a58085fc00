import type { ObservedRevision, PodObservation } from './observed.js';
import { livePods } from './observed.js';

/** Why a revision is judged failed. CamelCase: these become condition and Event reasons. */
export type FailureReason =
  'CrashLoopBackOff' | 'ImagePullBackOff' | 'TooManyRestarts' | 'ProgressDeadlineExceeded' | 'ReadinessLost';

export interface Failure {
  reason: FailureReason;
  message: string;
  /** When the failure became visible (ms), as far as the world tells. */
  since?: number;
}

/** Container waiting reasons that mean the pod will not start without a change. */
const PULL_FAILURES = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);
const START_FAILURES = new Set([
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export interface HealthCriteria {
  /** Ready pods the revision needs at this point of the rollout. */
  required: number;
  /** When the revision was asked for `required` ready pods (ms): the progress deadline counts from here. */
  since: number;
  progressDeadlineMs: number;
  /** Restart count above which a pod fails the revision; undefined: restarts alone never fail it. */
  maxRestarts: number | undefined;
  /** The revision had been Ready at this point (it carries weight); losing readiness fails it after the grace. */
  wasReady: boolean;
  unreadyGraceMs: number;
  now: number;
}

/**
 * Judges one revision from its pods. Crash and pull failures count as soon as a pod shows them:
 * waiting for the progress deadline would leave traffic on a broken version for minutes. Returns
 * undefined while the revision is healthy or still within its deadline.
 */
export function assessRevision(r: ObservedRevision, c: HealthCriteria): Failure | undefined {
  const pods = livePods(r);
  const named = (p: PodObservation, what: string) =>
    `pod ${p.name} of version ${r.version} (revision ${r.hash}) ${what}`;

  for (const p of pods) {
    if (p.waitingReason && START_FAILURES.has(p.waitingReason)) {
      return {
        reason: 'CrashLoopBackOff',
        message: named(p, `is in ${p.waitingReason} after ${p.restarts} restarts${detail(p)}`),
      };
    }
    if (p.waitingReason && PULL_FAILURES.has(p.waitingReason)) {
      return {
        reason: 'ImagePullBackOff',
        message: named(p, `cannot pull its image (${p.waitingReason})${detail(p)}`),
      };
    }
  }
  if (c.maxRestarts !== undefined) {
    const p = pods.find((x) => x.restarts > c.maxRestarts!);
    if (p) {
      return {
        reason: 'TooManyRestarts',
        message: named(p, `restarted ${p.restarts} times (maxRestarts ${c.maxRestarts})`),
      };
    }
  }
  const ready = pods.filter((p) => p.ready).length;
  if (ready >= c.required) return undefined;

  if (c.wasReady) {
    // Readiness lost: count from the earliest moment a currently-unready pod turned unready.
    const lostAt = Math.min(...pods.filter((p) => !p.ready).map((p) => p.readyTransitionAt ?? c.now));
    const since = Number.isFinite(lostAt) ? lostAt : c.now;
    if (c.now - since >= c.unreadyGraceMs) {
      return {
        reason: 'ReadinessLost',
        message: `version ${r.version} (revision ${r.hash}) has ${ready}/${c.required} ready pods, not Ready for ${Math.round((c.now - since) / 1000)}s (grace ${Math.round(c.unreadyGraceMs / 1000)}s)`,
        since: since + c.unreadyGraceMs,
      };
    }
    return undefined;
  }
  if (c.now - c.since >= c.progressDeadlineMs) {
    return {
      reason: 'ProgressDeadlineExceeded',
      message: `version ${r.version} (revision ${r.hash}) has ${ready}/${c.required} ready pods after ${Math.round((c.now - c.since) / 1000)}s (progressDeadlineSeconds ${Math.round(c.progressDeadlineMs / 1000)})`,
      since: c.since + c.progressDeadlineMs,
    };
  }
  return undefined;
}

/** When, at the latest, the verdict of assessRevision can change by time alone (for requeueAfter). */
export function nextHealthDeadline(r: ObservedRevision, c: HealthCriteria): number | undefined {
  const pods = livePods(r);
  if (pods.filter((p) => p.ready).length >= c.required) return undefined;
  if (c.wasReady) {
    const lostAt = Math.min(...pods.filter((p) => !p.ready).map((p) => p.readyTransitionAt ?? c.now));
    return (Number.isFinite(lostAt) ? lostAt : c.now) + c.unreadyGraceMs;
  }
  return c.since + c.progressDeadlineMs;
}

function detail(p: PodObservation): string {
  return p.waitingMessage ? `: ${p.waitingMessage}` : '';
}
