// A keyed work queue with client-go's workqueue semantics (the queue controller-runtime builds on),
// for Node's single thread: the unit of work is a key (`namespace/name`), never an event payload.
//
// - A key waits in the queue at most once (`dirty`), so a burst of watch events for one object costs
//   one reconcile, not one per event.
// - A key is never processed by two workers at once (`processing`): a key added while it runs is
//   marked dirty and queued again when the run ends, so the next run sees every change that arrived
//   during this one, and two reconciles of one object never race on its children.
// - Different keys run in parallel up to a bound; failures back off per key, so one broken object
//   neither blocks the others nor hot-loops against the apiserver.
// - Three lanes share the workers, `high` served before `low` and `low` before `background`; the
//   caller says which (src/operator.ts: work under way, such as an edit, a child's change or a
//   requeue, is high; an object seen for the first time and changes that need no prompt answer are
//   low; the periodic resync of objects nothing has changed is background). After a burst of 1,000
//   new ModelDeployments, the reconcile that a new Deployment's event brings (the status) used to
//   wait in one FIFO behind every first deploy still queued, so each one was reported Ready minutes
//   after its Deployment was Available. Now work under way finishes before more is taken on. With
//   10,000 ModelDeployments a resync queued 10,000 keys every 5 minutes, more than the workers
//   finished, in the lane first deploys wait in; in `background` it waits until the others are
//   empty. No lane is starved: when none of its keys has been taken for `lowEveryMs`, the next
//   free worker takes one whatever waits in the more urgent lanes.
import { computeBackoffMs, type BackoffOptions } from './backoff.js';
import { realClock, type Clock } from './clock.js';

/** What a handler may ask for: run this key again after a pause (a deadline, a poll). */
export type ReconcileResult = { requeueAfterMs?: number } | void;
export type ReconcileHandler = (key: string) => Promise<ReconcileResult>;
export type RunResult = 'success' | 'error' | 'requeue';
/**
 * Where a key waits (see the header): `high` is served first; `low` when `high` is empty or no low
 * key has been taken for `lowEveryMs`; `background` when both are empty or no background key has
 * been taken for `lowEveryMs`. A key waits in one lane at a time: an add in a more urgent lane
 * than the one a key waits in moves it to the back of that lane; any other add never moves a key.
 */
export type Lane = 'high' | 'low' | 'background';

/** The lanes, most urgent first. */
const LANES: readonly Lane[] = ['high', 'low', 'background'];

/** Hooks for metrics (Prometheus's workqueue_* series) and logs; every method is optional. */
export interface WorkQueueObserver {
  /** A key entered the queue (de-duplicated adds are not counted). */
  onAdd?(key: string): void;
  /** The number of keys waiting changed. */
  onDepth?(depth: number): void;
  /** A worker took the key, `waitedMs` after it was added. */
  onStart?(key: string, waitedMs: number): void;
  onDone?(key: string, durationMs: number, result: RunResult): void;
  /** The key was scheduled for a retry with back-off. */
  onRetry?(key: string): void;
}

export interface WorkQueueOptions {
  /** Names the queue in the default error log. */
  name?: string;
  clock?: Clock;
  /** Per-key back-off; defaults: 100 ms base, 5 min cap, no jitter. */
  backoff?: Partial<BackoffOptions>;
  /** Receives every error a handler throws, with its key. Default: one JSON line on stderr. */
  onError?: (key: string, err: unknown) => void;
  observer?: WorkQueueObserver;
  /**
   * How often a key of a less urgent lane is taken while the more urgent ones keep every worker
   * busy (each of `low` and `background`); default 1000 ms.
   */
  lowEveryMs?: number;
}

/**
 * What /healthz needs to tell a stuck queue from a busy or an idle one (src/k8s/health.ts). Times
 * are on the queue's clock.
 */
export interface QueueProgress {
  /** Workers take keys: run() was called and shutdown() was not. */
  active: boolean;
  /** Keys waiting for a worker. */
  waiting: number;
  /** Keys being processed. */
  processing: number;
  /** When a worker last took or finished a key, the workers started, or the queue went from idle to busy. */
  lastProgressAt: number;
  /** When the longest-running key in flight was taken; undefined when none is. */
  oldestStartedAt: number | undefined;
}

export interface RunOptions {
  /** How many different keys may be processed at once; default 4. */
  concurrency?: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 5 * 60_000, jitter: 0 };

interface Delayed {
  at: number;
  handle: unknown;
}

/** The more urgent of two lanes. */
const urgent = (a: Lane, b: Lane): Lane => (LANES.indexOf(a) <= LANES.indexOf(b) ? a : b);

export class WorkQueue {
  private readonly clock: Clock;
  private readonly backoff: BackoffOptions;
  private readonly name: string;
  private readonly onError: (key: string, err: unknown) => void;
  private readonly observer: WorkQueueObserver;

  private readonly lowEveryMs: number;
  /** One FIFO per lane; an entry is current only while `waitingAt` holds its ticket. */
  private readonly lanes: Record<Lane, Fifo<{ key: string; ticket: number }>> = {
    high: new Fifo(),
    low: new Fifo(),
    background: new Fifo(),
  };
  /** Keys waiting in a lane: which lane, and the ticket of their current entry there. */
  private readonly waitingAt = new Map<string, { lane: Lane; ticket: number }>();
  private readonly waitingIn: Record<Lane, number> = { high: 0, low: 0, background: 0 };
  private nextTicket = 0;
  /** When a worker last took a key from each lane (or the queue started); `high` is not read. */
  private readonly lastTakenAt: Record<Lane, number>;
  /**
   * Keys that need a run, with the lane they wait in: waiting, or added again while they are
   * processed (the most urgent lane of those adds).
   */
  private readonly dirty = new Map<string, Lane>();
  /** Keys being processed, with when each was taken. */
  private readonly processing = new Map<string, number>();
  /** When each dirty key was added, for the observer's wait time. */
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failures = new Map<string, number>();

  private handler: ReconcileHandler | undefined;
  private concurrency = 0;
  private pumpScheduled = false;
  private shuttingDown = false;
  private drained: (() => void) | undefined;
  private drainedPromise: Promise<void> | undefined;
  private lastProgressAt: number;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.name = opts.name ?? 'workqueue';
    this.observer = opts.observer ?? {};
    this.onError = opts.onError ?? ((key, err) => this.logError(key, err));
    this.lowEveryMs = opts.lowEveryMs ?? 1000;
    if (!(this.lowEveryMs >= 0)) throw new RangeError(`${this.name}: lowEveryMs must be >= 0`);
    this.lastProgressAt = this.clock.now();
    this.lastTakenAt = {
      high: this.lastProgressAt,
      low: this.lastProgressAt,
      background: this.lastProgressAt,
    };
  }

  /**
   * Queues `key` in `lane` unless it is already waiting; a key being processed runs once more
   * afterwards. An add in a more urgent lane than the one the key waits in moves it to the back of
   * that lane (its wait is still counted from its first add).
   */
  add(key: string, lane: Lane = 'high'): void {
    if (this.shuttingDown) return;
    const pending = this.dirty.get(key);
    if (pending !== undefined) {
      if (urgent(pending, lane) === pending) return;
      this.dirty.set(key, lane);
      if (this.waitingAt.has(key)) {
        this.enqueue(key, lane);
        this.schedulePump();
      }
      return;
    }
    const now = this.clock.now();
    // An idle queue that gets work starts its stall clock now, not at its last run hours ago.
    if (this.waitingAt.size === 0 && this.processing.size === 0) this.lastProgressAt = now;
    this.dirty.set(key, lane);
    this.addedAt.set(key, now);
    this.notify('onAdd', key);
    // Never two runs of one key at once: the end of the current run re-queues it (see finish).
    if (this.processing.has(key)) return;
    this.enqueue(key, lane);
    this.schedulePump();
  }

  /** Puts `key` at the back of `lane`; an entry it had in another lane is left behind, stale. */
  private enqueue(key: string, lane: Lane): void {
    const was = this.waitingAt.get(key);
    if (was) this.waitingIn[was.lane]--;
    const ticket = ++this.nextTicket;
    this.waitingAt.set(key, { lane, ticket });
    this.waitingIn[lane]++;
    this.lanes[lane].push({ key, ticket });
    if (!was) this.notify('onDepth', this.waitingAt.size);
  }

  /** The next key waiting in `lane`, skipping entries left behind by a move to another lane. */
  private takeFrom(lane: Lane): string | undefined {
    for (;;) {
      const e = this.lanes[lane].shift();
      if (e === undefined) return undefined;
      if (this.waitingAt.get(e.key)?.ticket !== e.ticket) continue;
      this.waitingAt.delete(e.key);
      this.waitingIn[lane]--;
      return e.key;
    }
  }

  /**
   * The key the next free worker takes: from the least urgent lane that is due, one whose more
   * urgent lanes are empty or none of whose keys has been taken for `lowEveryMs` (see the header).
   */
  private take(): string | undefined {
    const now = this.clock.now();
    let due: Lane | undefined;
    let ahead = 0; // keys waiting in the lanes more urgent than this one
    for (const lane of LANES) {
      if (this.waitingIn[lane] > 0 && (ahead === 0 || now - this.lastTakenAt[lane] >= this.lowEveryMs))
        due = lane;
      ahead += this.waitingIn[lane];
    }
    if (due === undefined) return undefined;
    this.lastTakenAt[due] = now;
    return this.takeFrom(due);
  }

  /**
   * Adds `key` after `delayMs`. Of several pending delays for one key the earliest wins: a later
   * deadline never postpones an earlier one, and the key is added once.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (!(delayMs > 0)) return this.add(key, 'high');
    const at = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.clock.clearTimeout(pending.handle);
    const entry: Delayed = { at, handle: undefined };
    entry.handle = this.clock.setTimeout(() => {
      if (this.delayed.get(key) !== entry) return;
      this.delayed.delete(key);
      this.add(key, 'high');
    }, delayMs);
    this.delayed.set(key, entry);
  }

  /** Adds `key` after its back-off: base * 2^retries, capped; every call counts one more retry. */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    this.notify('onRetry', key);
    this.addAfter(key, computeBackoffMs(failures, this.backoff));
  }

  /** Resets the back-off of `key` (done for you after a handler succeeds). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many times `key` has been retried with back-off since it last succeeded. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The number of keys waiting (not those being processed), in all lanes or in one. */
  len(lane?: Lane): number {
    return lane ? this.waitingIn[lane] : this.waitingAt.size;
  }

  /** Whether work moves: the progress signal behind /healthz. */
  progress(): QueueProgress {
    let oldest: number | undefined;
    for (const at of this.processing.values()) if (oldest === undefined || at < oldest) oldest = at;
    return {
      active: this.handler !== undefined && !this.shuttingDown,
      waiting: this.waitingAt.size,
      processing: this.processing.size,
      lastProgressAt: this.lastProgressAt,
      oldestStartedAt: oldest,
    };
  }

  /**
   * Starts processing keys, in FIFO order within a lane, up to `concurrency` different keys at once
   * (see the header for which lane is served first). A handler that throws has its key retried
   * with back-off; one that returns `requeueAfterMs` has its key added again after that pause.
   * Either way the key's back-off is reset only by success.
   */
  run(handler: ReconcileHandler, { concurrency = 4 }: RunOptions = {}): void {
    if (this.handler) throw new Error(`${this.name}: run() was already called`);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`${this.name}: concurrency must be a positive integer, got ${concurrency}`);
    }
    this.handler = handler;
    this.concurrency = concurrency;
    // Keys queued while nobody ran them (a standby's) are not a stall: the clock starts now.
    this.lastProgressAt = this.clock.now();
    for (const lane of LANES) this.lastTakenAt[lane] = this.lastProgressAt;
    this.schedulePump();
  }

  /**
   * Stops taking keys: waiting keys are dropped, delayed adds are cancelled and later adds are
   * ignored. Resolves once the handlers already running have finished, so the process can exit
   * without cutting a reconcile in the middle of its writes.
   */
  shutdown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
      this.delayed.clear();
      for (const lane of LANES) {
        this.lanes[lane].clear();
        this.waitingIn[lane] = 0;
      }
      this.waitingAt.clear();
      this.dirty.clear();
      this.addedAt.clear();
      this.notify('onDepth', 0);
      this.drainedPromise = new Promise((resolve) => (this.drained = resolve));
      if (this.processing.size === 0) this.drained?.();
    }
    return this.drainedPromise ?? Promise.resolve();
  }

  // Workers start on a later turn of the event loop, not inside add() and not on a microtask: a
  // caller (an informer's event handler) never finds a reconcile running inside its own call, and
  // handlers that finish without I/O (a settled object, a key that requeues itself at once) cannot
  // chain microtasks forever and starve the sockets that carry watch events.
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    const handler = this.handler;
    if (!handler) return;
    while (!this.shuttingDown && this.processing.size < this.concurrency) {
      const key = this.take();
      if (key === undefined) break;
      this.notify('onDepth', this.waitingAt.size);
      void this.process(key, handler);
    }
  }

  private async process(key: string, handler: ReconcileHandler): Promise<void> {
    this.dirty.delete(key);
    const start = this.clock.now();
    this.processing.set(key, start);
    this.lastProgressAt = start;
    this.notify('onStart', key, start - (this.addedAt.get(key) ?? start));
    this.addedAt.delete(key);
    let result: RunResult;
    let followUp: () => void;
    try {
      const out = await handler(key);
      this.forget(key);
      const after = out ? out.requeueAfterMs : undefined;
      result = after === undefined ? 'success' : 'requeue';
      followUp = () => after !== undefined && this.addAfter(key, after);
    } catch (err) {
      result = 'error';
      try {
        this.onError(key, err);
      } catch {
        // A broken error reporter must not stop the retry below.
      }
      followUp = () => this.addRateLimited(key);
    }
    this.finish(key, start, result);
    followUp();
  }

  private finish(key: string, start: number, result: RunResult): void {
    this.processing.delete(key);
    this.lastProgressAt = this.clock.now();
    // Added while it ran: it goes to the back of its lane now, once, however many adds there were.
    const lane = this.dirty.get(key);
    if (lane !== undefined) this.enqueue(key, lane);
    this.notify('onDone', key, this.clock.now() - start, result);
    if (this.shuttingDown && this.processing.size === 0) this.drained?.();
    this.schedulePump();
  }

  // Observers are metrics and logs: one that throws must not corrupt the queue's bookkeeping.
  private notify<M extends keyof WorkQueueObserver>(
    method: M,
    ...args: Parameters<NonNullable<WorkQueueObserver[M]>>
  ): void {
    try {
      (this.observer[method] as ((...a: typeof args) => void) | undefined)?.apply(this.observer, args);
    } catch {
      // ignored on purpose, see above
    }
  }

  private logError(key: string, err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    console.error(
      JSON.stringify({
        level: 'error',
        msg: 'reconcile failed; retrying with back-off',
        queue: this.name,
        key,
        retries: this.retries(key),
        error,
      }),
    );
  }
}

/** A FIFO with O(1) shift: an array and a read index, compacted as the head advances. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
