// Sends notifications to the configured sinks, off the reconcile's path: notify() only puts the
// CloudEvent on each sink's bounded queue and returns. One worker per sink sends them in order, one at
// a time, each request with a timeout and retried with back-off; a full queue drops its oldest
// notification. A slow, failing or hanging receiver therefore costs the operator one socket and a
// queue's worth of memory, and never delays a revert or a reconcile.
import type { CloudEvent, NotificationType } from './cloudevents.js';
import type { SinkConfig } from './config.js';
import { sinkWants } from './config.js';
import { type Attempt, BoundedQueue, delivered, retryable, retryDelayMs } from './delivery.js';
import { SIGNATURE_HEADER, signBody } from './sign.js';

export const CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

export interface NotifyObserver {
  delivered?(sink: string, type: NotificationType, seconds: number): void;
  retried?(sink: string, type: NotificationType, attempt: Attempt): void;
  failed?(sink: string, type: NotificationType, attempt: Attempt, attempts: number): void;
  dropped?(sink: string, type: NotificationType, why: 'queue-full' | 'shutdown'): void;
}

export interface Sink extends SinkConfig {
  /** The HMAC key read from keyFile; none: unsigned. */
  key?: Buffer;
}

interface Item {
  ce: CloudEvent;
  body: string;
  enqueuedAt: number;
}

class SinkWorker {
  private readonly queue: BoundedQueue<Item>;
  private running = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    readonly sink: Sink,
    private readonly observer: NotifyObserver,
    private readonly stopping: AbortSignal,
  ) {
    this.queue = new BoundedQueue(sink.queueSize);
  }

  push(ce: CloudEvent): void {
    const item: Item = { ce, body: JSON.stringify(ce), enqueuedAt: performance.now() };
    const old = this.queue.push(item);
    if (old) this.observer.dropped?.(this.sink.name, old.ce.type, 'queue-full');
    if (!this.running) {
      this.running = true;
      this.idle = this.run();
    }
  }

  /** Resolves when the queue is empty and nothing is being sent. */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  /** What is left when the operator stops: counted as dropped. */
  abandon(): void {
    for (const it of this.queue.clear()) this.observer.dropped?.(this.sink.name, it.ce.type, 'shutdown');
  }

  private async run(): Promise<void> {
    // `running` goes false in the same tick the queue is found empty, so a push that comes after
    // always starts a new run and none is left waiting without a worker.
    for (;;) {
      const it = this.stopping.aborted ? undefined : this.queue.shift();
      if (!it) {
        this.running = false;
        this.abandon();
        return;
      }
      await this.deliver(it);
    }
  }

  private async deliver(it: Item): Promise<void> {
    const { sink } = this;
    for (let n = 1; ; n++) {
      const a = await this.post(it.body);
      if (delivered(a)) {
        this.observer.delivered?.(sink.name, it.ce.type, (performance.now() - it.enqueuedAt) / 1000);
        return;
      }
      if (this.stopping.aborted) {
        this.observer.dropped?.(sink.name, it.ce.type, 'shutdown');
        return;
      }
      if (!retryable(a) || n >= sink.maxAttempts) {
        this.observer.failed?.(sink.name, it.ce.type, a, n);
        return;
      }
      this.observer.retried?.(sink.name, it.ce.type, a);
      await sleep(retryDelayMs(sink, n - 1), this.stopping);
    }
  }

  private async post(body: string): Promise<Attempt> {
    const headers: Record<string, string> = { 'content-type': CONTENT_TYPE };
    if (this.sink.key) headers[SIGNATURE_HEADER] = signBody(this.sink.key, body);
    try {
      const res = await fetch(this.sink.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.sink.timeoutMs), this.stopping]),
      });
      // The body is not read: a receiver's answer carries nothing modelship uses.
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status };
    } catch (err) {
      const e = err as Error;
      return { error: e.name === 'TimeoutError' ? `no answer within ${this.sink.timeoutMs}ms` : e.message };
    }
  }
}

export class Notifier {
  private readonly workers: SinkWorker[];
  private readonly stopping = new AbortController();

  constructor(sinks: Sink[], observer: NotifyObserver = {}) {
    this.workers = sinks.map((s) => new SinkWorker(s, observer, this.stopping.signal));
  }

  /** Queues the notifications for every sink that wants them; returns at once. */
  notify(events: CloudEvent[]): void {
    if (this.stopping.signal.aborted) return;
    for (const ce of events)
      for (const w of this.workers) if (sinkWants(w.sink, ce.type, ce.data.namespace)) w.push(ce);
  }

  /** Resolves when every sink's queue is empty (tests, and a graceful stop). */
  async drain(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.whenIdle()));
  }

  /**
   * Gives the queued notifications up to `graceMs` to go out, then stops: requests in flight are
   * aborted and what is left is counted as dropped.
   */
  async stop(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drain(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.stopping.abort();
    await this.drain();
    for (const w of this.workers) w.abandon();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
