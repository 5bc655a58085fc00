// What delivery decides, without the network: which answers are worth a retry, how long to wait
// before each, and the bounded queue of a sink. Pure (randomness is an argument).
import { computeBackoffMs } from '../k8s/backoff.js';
import type { SinkConfig } from './config.js';

/** The outcome of one request: an HTTP status, or no answer (refused, reset, timed out). */
export type Attempt = { status: number } | { error: string };

/**
 * Whether to try again: no answer, 408, 429 and 5xx may pass; any other status is the receiver's
 * final word (a 4xx will not change by repeating the same signed body).
 */
export function retryable(a: Attempt): boolean {
  if ('error' in a) return true;
  return a.status === 408 || a.status === 429 || a.status >= 500;
}

export function delivered(a: Attempt): boolean {
  return 'status' in a && a.status >= 200 && a.status < 300;
}

/** The wait before retry number `retry` (0: the first retry), with up to 20% jitter. */
export function retryDelayMs(
  sink: Pick<SinkConfig, 'backoffMs' | 'maxBackoffMs'>,
  retry: number,
  random: () => number = Math.random,
): number {
  return computeBackoffMs(retry, { baseMs: sink.backoffMs, maxMs: sink.maxBackoffMs, jitter: 0.2, random });
}

/** A FIFO of at most `capacity` items; pushing onto a full one drops the oldest and returns it. */
export class BoundedQueue<T> {
  private readonly items: T[] = [];

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error('a queue holds at least one item');
  }

  push(item: T): T | undefined {
    this.items.push(item);
    return this.items.length > this.capacity ? this.items.shift() : undefined;
  }

  shift(): T | undefined {
    return this.items.shift();
  }

  get length(): number {
    return this.items.length;
  }

  /** Empties the queue, returning what it held. */
  clear(): T[] {
    return this.items.splice(0);
  }
}
