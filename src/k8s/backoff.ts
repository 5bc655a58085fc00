// Exponential back-off, as client-go's ItemExponentialFailureRateLimiter computes it: the n-th
// consecutive failure (counting from 0) waits base * 2^n, capped at max. Pure: the caller keeps the
// failure count, and randomness is an argument.

export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** Upper bound of any delay, jitter included. */
  maxMs: number;
  /**
   * Spread, as a fraction of the delay, added at random (0.5: up to +50%). Jitter keeps many
   * clients that failed together (an apiserver restart) from retrying in lock-step. 0 = exact.
   */
  jitter?: number;
  /** A number in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
}

/** The delay before retry number `failures` (0 = the first retry). */
export function computeBackoffMs(failures: number, opts: BackoffOptions): number {
  const { baseMs, maxMs, jitter = 0, random = Math.random } = opts;
  // 2^n overflows to Infinity for large n, and Infinity is capped below, so the count needs no bound.
  const exact = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures));
  if (jitter <= 0) return exact;
  return Math.min(maxMs, exact + exact * jitter * random());
}
