// The fence around a leader's writes: writes are allowed only until a deadline that each Lease
// renewal moves forward, on a monotonic clock. The leader election holds it; the reconcilers' client
// (KubeClient) sends every request through it.
//
// Why a fence and not only "exit when the renew loop notices": a leader learns that it lost the Lease
// only when a renew request comes back, and a leader that is slow, partitioned or frozen (a long
// pause, a throttled container, SIGSTOP) may learn it long after a standby took over, and keep
// writing meanwhile. client-go bounds each renew round by the renew deadline (10 s, against a
// 15 s lease) and controller-runtime exits as soon as that round fails. Here the same bound is kept
// in three places, so it holds whatever the process was doing when the deadline passed:
// - a timer on the monotonic clock closes the fence at the deadline: the in-flight requests are
//   aborted (their signal) and the process is told (onClose) to stop reconciling and exit;
// - every request checks the deadline synchronously just before its bytes go out (check), because a
//   process that wakes up after the deadline runs the I/O callbacks that were waiting (a response
//   that lets a reconcile send its next write) before the timers that are due;
// - a closed fence never opens again: leadership lost is lost for good, as in client-go, whose
//   elector returns after OnStoppedLeading and is not reused.
import { realClock, type Clock } from './clock.js';

/** A request refused or cut because this process may no longer write (it does not lead). */
export class FencedError extends Error {
  constructor(
    message: string,
    /** The request refused, when the error comes from a check; unset for the fence's own reason. */
    readonly request?: string,
  ) {
    super(message);
    this.name = 'FencedError';
  }
}

export function isFenced(err: unknown): boolean {
  return err instanceof FencedError;
}

export type FenceState = 'closed-never-opened' | 'open' | 'closed';

export class Fence {
  private readonly aborter = new AbortController();
  private renewedAt = -Infinity;
  private validForMs = 0;
  private until = -Infinity;
  private timer: unknown;
  private closedReason: string | undefined;
  private readonly listeners = new Set<(reason: string) => void>();

  constructor(private readonly clock: Clock = realClock) {}

  /** Aborts, with a FencedError, when the fence closes. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /**
   * Allows writes until `validForMs` after `from` (clock ms): `from` is when the renewal that
   * succeeded was started, not when it was answered, so the deadline never depends on how long the
   * answer took. A later deadline replaces an earlier one; a closed fence stays closed.
   */
  extend(from: number, validForMs: number): void {
    if (this.closedReason !== undefined) return;
    const until = from + validForMs;
    if (until <= this.until) return;
    if (this.until === -Infinity && this.clock.now() >= until) return; // never open one already expired
    this.renewedAt = from;
    this.validForMs = validForMs;
    this.until = until;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, until - this.clock.now()));
  }

  /** Throws a FencedError naming `what` unless writes are allowed at this instant. */
  check(what: string): void {
    this.expireIfDue();
    if (this.state() !== 'open') {
      throw new FencedError(`${what}: not sent: ${this.closedReason ?? 'this process does not lead'}`, what);
    }
  }

  /** Whether writes are allowed now (a deadline that has passed closes the fence). */
  isOpen(): boolean {
    this.expireIfDue();
    return this.state() === 'open';
  }

  state(): FenceState {
    if (this.closedReason !== undefined) return 'closed';
    return this.until === -Infinity ? 'closed-never-opened' : 'open';
  }

  /** The deadline (clock ms): -Infinity before the first renewal. */
  deadline(): number {
    return this.until;
  }

  /** Why the fence closed, once it has. */
  reason(): string | undefined {
    return this.closedReason;
  }

  /** Closes the fence for good: in-flight requests abort, listeners hear `reason`. */
  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.clock.clearTimeout(this.timer);
    this.aborter.abort(new FencedError(reason));
    for (const fn of this.listeners) {
      try {
        fn(reason);
      } catch {
        // a listener's failure must not keep the others from hearing it
      }
    }
  }

  /** Calls `fn` once, when the fence closes (at once if it has). */
  onClose(fn: (reason: string) => void): void {
    if (this.closedReason !== undefined) fn(this.closedReason);
    else this.listeners.add(fn);
  }

  private onTimer(): void {
    if (this.closedReason !== undefined) return;
    const left = this.until - this.clock.now();
    // A timer that fired early (a coarse timer, a fake clock): wait for the rest.
    if (left > 0) this.timer = this.clock.setTimeout(() => this.onTimer(), left);
    else this.expireIfDue();
  }

  private expireIfDue(): void {
    if (this.closedReason !== undefined || this.until === -Infinity) return;
    const now = this.clock.now();
    if (now < this.until) return;
    this.close(
      `the Lease was not renewed within the renew deadline (${fmt(this.validForMs)}): the last renewal ` +
        `that succeeded started ${fmt(now - this.renewedAt)} ago`,
    );
  }
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
