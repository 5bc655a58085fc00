// The rule behind /healthz: a live process is not enough, it must not be stuck. Pure: the state of
// the work queues and of the leader election, and the time, in; a verdict with reasons out. A
// liveness probe that fails restarts the container, so the rule reports only states that cannot
// heal themselves, with bounds well beyond what normal work takes:
// - work waits (or runs) and no worker has taken or finished a key for `stallAfterMs`: every
//   request has a timeout (--request-timeout), so a reconcile that makes no progress for that long
//   is waiting on something that will not come (a promise never settled, a lost callback);
// - one reconcile has run for `stallAfterMs`: the same, for one worker, while others still move;
// - the leader is past its renew deadline and still counts itself leader: the fence's timer did
//   not fire (it normally stops the process at that instant).
// A standby (no workers) and an idle queue are healthy, however long they wait.
import type { FenceState } from './fence.js';
import type { QueueProgress } from './workqueue.js';

export interface HealthInput {
  /** On the same clock as the queues' and the fence's times. */
  now: number;
  queues: Array<QueueProgress & { name: string }>;
  stallAfterMs: number;
  leader?: { state: FenceState; deadline: number };
}

export interface Health {
  healthy: boolean;
  /** One line per problem, for the probe's body and the log. */
  problems: string[];
}

export function computeHealth(input: HealthInput): Health {
  const { now, stallAfterMs } = input;
  const problems: string[] = [];
  const s = (ms: number): string => `${Math.round(ms / 1000)} s`;
  for (const q of input.queues) {
    if (!q.active) continue;
    const pending = q.waiting + q.processing;
    const still = now - q.lastProgressAt;
    if (pending > 0 && still > stallAfterMs) {
      problems.push(
        `queue ${q.name}: ${q.waiting} waiting and ${q.processing} in flight, and no reconcile ` +
          `started or finished for ${s(still)} (limit ${s(stallAfterMs)})`,
      );
    } else if (q.oldestStartedAt !== undefined && now - q.oldestStartedAt > stallAfterMs) {
      problems.push(
        `queue ${q.name}: a reconcile has run for ${s(now - q.oldestStartedAt)} (limit ${s(stallAfterMs)})`,
      );
    }
  }
  const leader = input.leader;
  if (leader?.state === 'open' && now >= leader.deadline) {
    problems.push(
      `leader election: past the renew deadline by ${s(now - leader.deadline)} and still leading`,
    );
  }
  return { healthy: problems.length === 0, problems };
}
