import type { ObservedRevision, PodObservation } from './observed.js';
import { livePods } from './observed.js';

/** Why a revision is judged failed. CamelCase: these become condition and Event reasons. */
export type FailureReason =
  | 'CrashLoopBackOff'
  | 'ImagePullBackOff'
  | 'TooManyRestarts'
  | 'ProgressDeadlineExceeded'
  | 'ReadinessLost'
  /** A metric analysis check failed (core/analysis). */
  | 'AnalysisFailed'
  /** A pre-traffic gate failed (core/planner/pre-traffic.ts): a sample answered wrong, ... */
  | 'SmokeTestFailed'
  /** ... the interface the server loaded is not the declared one, ... */
  | 'InterfaceMismatch'
  /** ... or a webhook gate said no failureLimit times in a row. */
  | 'GateFailed';

export interface Failure {
  reason: FailureReason;
  message: string;
}

/** Container waiting reasons that mean the pod will not start without a change. */
const PULL_FAILURES = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);
const START_FAILURES = new Set([
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/**
 * A pod whose Ready condition last changed this long after the kubelet started it had been Ready
 * before (the kubelet sets Ready=False when it first syncs a pod, at its startTime).
 */
const READY_ONCE_MS = 5000;

export interface HealthCriteria {
  /** Ready pods the revision needs at this point of the rollout. */
  required: number;
  /** When the revision was asked for `required` ready pods (ms): the progress deadline counts from here. */
  since: number;
  progressDeadlineMs: number;
  /** Restart count above which a pod fails the revision; undefined: restarts alone never fail it. */
  maxRestarts: number | undefined;
  /**
   * The revision had been Ready at this point (it carries weight, or it is the stable one). Pods that
   * lose readiness then fail it after the unready grace; pods that never became Ready (new pods after
   * a scale-up or a reschedule) after the progress deadline, counted from their own start.
   */
  wasReady: boolean;
  /**
   * Crash and pull failures fail the revision as soon as one pod shows them (a new revision); when
   * false, only once no pod of it is Ready (a serving revision keeps serving through one bad pod).
   */
  strict: boolean;
  unreadyGraceMs: number;
  now: number;
}

/**
 * Judges one revision from its pods. Crash and pull failures count as soon as a pod shows them:
 * waiting for the progress deadline would leave traffic on a broken version for minutes. Returns
 * undefined while the revision is healthy or still within its deadlines.
 */
export function assessRevision(r: ObservedRevision, c: HealthCriteria): Failure | undefined {
  const pods = livePods(r);
  const ready = pods.filter((p) => p.ready).length;
  const named = (p: PodObservation, what: string) =>
    `pod ${p.name} of version ${r.version} (revision ${r.hash}) ${what}`;

  if (c.strict || ready === 0) {
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
  }
  if (c.maxRestarts !== undefined) {
    const p = pods.find((x) => x.restarts > c.maxRestarts!);
    if (p)
      return {
        reason: 'TooManyRestarts',
        message: named(p, `restarted ${p.restarts} times (maxRestarts ${c.maxRestarts})`),
      };
  }
  if (ready >= c.required) return undefined;

  if (!c.wasReady) {
    if (c.now - c.since < c.progressDeadlineMs) return undefined;
    return {
      reason: 'ProgressDeadlineExceeded',
      message: `version ${r.version} (revision ${r.hash}) has ${ready}/${c.required} ready pods after ${secs(c.now - c.since)}s (progressDeadlineSeconds ${secs(c.progressDeadlineMs)})`,
    };
  }
  // Short of ready pods after having been Ready: failed once every unready pod is overdue by its
  // own clock, so a pod still within its time can yet bring the revision back.
  const unready = pods.filter((p) => !p.ready);
  if (unready.length === 0 || unready.some((p) => c.now < overdueAt(p, c))) return undefined;
  const lost = unready.filter(lostReadiness);
  if (lost.length) {
    const since = Math.min(...lost.map((p) => p.readyTransitionAt!));
    return {
      reason: 'ReadinessLost',
      message: `version ${r.version} (revision ${r.hash}) has ${ready}/${c.required} ready pods; ${lost.length} lost readiness ${secs(c.now - since)}s ago (grace ${secs(c.unreadyGraceMs)}s)`,
    };
  }
  return {
    reason: 'ProgressDeadlineExceeded',
    message: `version ${r.version} (revision ${r.hash}) has ${ready}/${c.required} ready pods; ${unready.length} new pods did not become Ready within progressDeadlineSeconds ${secs(c.progressDeadlineMs)}`,
  };
}

/** When, at the latest, the verdict of assessRevision can change by time alone (for requeueAfter). */
export function nextHealthDeadline(r: ObservedRevision, c: HealthCriteria): number | undefined {
  const pods = livePods(r);
  if (pods.filter((p) => p.ready).length >= c.required) return undefined;
  if (!c.wasReady) return c.since + c.progressDeadlineMs;
  const times = pods.filter((p) => !p.ready).map((p) => overdueAt(p, c));
  return times.length ? Math.max(...times) : undefined;
}

function lostReadiness(p: PodObservation): boolean {
  return (
    p.readyTransitionAt !== undefined &&
    p.startedAt !== undefined &&
    p.readyTransitionAt - p.startedAt > READY_ONCE_MS
  );
}

function overdueAt(p: PodObservation, c: HealthCriteria): number {
  if (lostReadiness(p)) return p.readyTransitionAt! + c.unreadyGraceMs;
  return (p.startedAt ?? p.readyTransitionAt ?? c.now) + c.progressDeadlineMs;
}

function secs(ms: number): number {
  return Math.round(ms / 1000);
}

function detail(p: PodObservation): string {
  return p.waitingMessage ? `: ${p.waitingMessage}` : '';
}
