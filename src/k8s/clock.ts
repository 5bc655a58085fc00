// Time as an argument. The work queue's delays and back-off, the informer's retries and resync, and
// the leader election's deadlines all read time through this interface, so unit tests drive them
// with a fake clock instead of waiting on a machine whose speed varies.
//
// The real clock is monotonic (performance.now, CLOCK_MONOTONIC underneath, as are Node's timers):
// every reader measures an interval, and an interval read from the wall clock is wrong whenever the
// wall clock is stepped (NTP, a VM restored, an operator fixing the date). A leader that measured its
// renew deadline on the wall clock could, after a step back, go on writing long after a standby took
// over. Only timestamps written for people (a Lease's renewTime) come from Date.now.

export interface Clock {
  /** Milliseconds on a monotonic clock: meaningful only as a difference of two readings. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Resolves after `ms` on `clock`, or rejects with the signal's reason as soon as `signal` aborts,
 * clearing the timer (so a stopped informer leaves no timer behind to keep the process alive).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
