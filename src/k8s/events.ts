// Events leave the reconcile's critical path: a reconcile hands its Events to the recorder and goes
// on; the recorder writes them in the background, a bounded number at a time, and the operator
// waits for those in flight when it stops. An Event is a notice for people (kubectl describe), not
// state: a failed or dropped one is logged and counted, never retried into a storm, and never fails
// or slows a rollout. client-go's EventBroadcaster makes the same trade.
import type { KubernetesObject } from '@kubernetes/client-node';

export type EventType = 'Normal' | 'Warning';

export interface EventSink {
  event(about: KubernetesObject, type: EventType, reason: string, message: string): Promise<void>;
}

export interface EventRecorderOptions {
  /** Events being written at once; beyond that, new ones are dropped (and counted). Default 64. */
  maxInFlight?: number;
  /** Told of every Event that could not be written or was dropped. */
  onLost?: (info: { reason: string; key: string; why: 'failed' | 'dropped'; error?: string }) => void;
}

export class EventRecorder {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private lostCount = 0;

  constructor(
    private readonly sink: EventSink,
    private readonly opts: EventRecorderOptions = {},
  ) {
    this.maxInFlight = opts.maxInFlight ?? 64;
  }

  /** Starts writing the Event and returns at once. */
  record(about: KubernetesObject, type: EventType, reason: string, message: string): void {
    const key = `${about.metadata?.namespace ?? ''}/${about.metadata?.name ?? ''}`;
    if (this.inFlight.size >= this.maxInFlight) {
      this.lostCount++;
      this.opts.onLost?.({ reason, key, why: 'dropped' });
      return;
    }
    const p: Promise<void> = this.sink
      .event(about, type, reason, message)
      .catch((err: unknown) => {
        this.lostCount++;
        this.opts.onLost?.({ reason, key, why: 'failed', error: (err as Error).message });
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Events being written now. */
  pending(): number {
    return this.inFlight.size;
  }

  /** Events that failed or were dropped since the start. */
  lost(): number {
    return this.lostCount;
  }

  /** Resolves when every Event recorded so far has been written or has failed. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }
}
