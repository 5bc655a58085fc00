// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics and defaults
// (15 s lease, 10 s renew deadline, 2 s retry):
// - a candidate takes the Lease only when it is free or its holder has not renewed it for a whole
//   lease duration, as measured on the candidate's own monotonic clock from when it last saw the
//   record change (never by comparing timestamps written by another machine, whose clock may be
//   skewed, nor by its own wall clock, which may be stepped);
// - the leader renews every retry period; if it cannot renew within the renew deadline it has lost
//   the lease and must stop working at once (the caller exits, as controller-runtime does);
// - on a graceful stop the leader releases the Lease (holder cleared, 1 s duration) so a standby
//   takes over within one retry period instead of a whole lease duration.
// Updates are optimistic (resourceVersion), so two candidates can never both win the same round.
//
// The renew deadline is enforced by a Fence (fence.ts), not by the renew loop: the loop learns of
// a failure only when a request comes back, and a request may hang, or the process may be frozen.
// The fence's deadline is the start of the last renewal that succeeded plus the renew deadline.
// Why that bound is safe: the renewal's write reached etcd after it started, a standby saw that
// record after it reached etcd, and the standby waits a whole lease duration from then; so the
// leader's last allowed write is sent at least leaseDuration - renewDeadline (5 s) before any
// standby may take over. client-go times each renew round from its start (RetryPeriod after the
// last success) and relies on the 15 s lease covering 2 + 10 s; timing from the last successful
// renewal's start gives the same behaviour with the margin stated outright.
import { realClock, sleep, type Clock } from './clock.js';
import { LEASE, resourcePath } from './resources.js';
import { Fence, isFenced } from './fence.js';
import { ApiError, requestDefaults, type KubeHttp } from './kube-http.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Monotonic: observed times, the renew deadline, the retry timer. */
  clock?: Clock;
  /** Wall clock for the Lease's acquireTime and renewTime, which people and kubectl read. */
  wallClock?: () => number;
  onError?: (err: Error) => void;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

export class LeaderElector {
  /**
   * Open while this candidate leads and has renewed within the renew deadline. The reconcilers'
   * client sends every request through it; its closing means: stop at once.
   */
  readonly fence: Fence;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly clock: Clock;
  private readonly wallClock: () => number;
  private observed: { record: string; at: number } | undefined;
  private lease: Lease | undefined;
  private released = false;

  constructor(
    private readonly http: KubeHttp,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    // client-go's NewLeaderElector refuses the same: a renew deadline as long as the lease leaves a
    // standby free to take over while the leader still believes it leads.
    if (!(this.leaseMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryMs && this.retryMs > 0)) {
      throw new RangeError(
        `leader election: need lease duration > renew deadline > retry period > 0, got ` +
          `${this.leaseMs} ms, ${this.renewDeadlineMs} ms, ${this.retryMs} ms`,
      );
    }
    this.clock = opts.clock ?? realClock;
    this.wallClock = opts.wallClock ?? Date.now;
    this.fence = new Fence(this.clock);
  }

  isLeader(): boolean {
    return this.fence.isOpen();
  }

  /** When this leader must stop unless it renews (clock ms), for /healthz; -Infinity if not leading. */
  renewDeadline(): number {
    return this.fence.deadline();
  }

  /**
   * Calls `fn` once if leadership is lost (renew deadline missed, or another holder in the record),
   * at the instant the fence closes; not on a release.
   */
  onLost(fn: (reason: string) => void): void {
    this.fence.onClose((reason) => {
      if (!this.released) fn(reason);
    });
  }

  /**
   * Campaigns until this candidate leads (resolves), or the signal aborts (rejects with an AbortError).
   */
  async acquire(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw new DOMException('aborted', 'AbortError');
      const started = this.clock.now();
      if (await this.tryAcquireOrRenew(signal)) {
        this.fence.extend(started, this.renewDeadlineMs);
        // A write answered after the whole renew deadline leaves nothing to lead with: the next
        // round renews (the record is ours) and opens the fence then.
        if (this.fence.isOpen()) return;
      }
      await sleep(this.clock, this.retryMs, signal).catch(() => undefined);
    }
  }

  /**
   * Renews while leading; resolves 'lost' as soon as the fence closes (the renew deadline passed, or
   * the record names another holder), or 'released' once `release` aborts and the Lease is given up.
   */
  async holdUntilLost(release: AbortSignal): Promise<'lost' | 'released'> {
    const stop = AbortSignal.any([release, this.fence.signal]);
    while (!stop.aborted) {
      await sleep(this.clock, this.retryMs, stop).catch(() => undefined);
      if (stop.aborted) break;
      const started = this.clock.now();
      if (await this.tryAcquireOrRenew(this.fence.signal, this.fence)) {
        this.fence.extend(started, this.renewDeadlineMs);
      } else if (this.lease && !this.holdsRecord()) {
        this.fence.close(`the Lease is held by ${this.lease.spec.holderIdentity ?? 'nobody'} now`);
      }
      // Any other failure (a timeout, a 409, the apiserver unreachable) is retried next period:
      // the fence's own timer ends leadership at the renew deadline.
    }
    if (!this.fence.isOpen()) return 'lost';
    await this.release();
    return 'released';
  }

  /** Gives the lease up so a standby takes over at once. */
  async release(): Promise<void> {
    if (!this.fence.isOpen() || !this.lease || !this.holdsRecord()) return;
    const lease: Lease = {
      ...this.lease,
      spec: {
        ...this.lease.spec,
        holderIdentity: null,
        leaseDurationSeconds: 1,
        renewTime: microTime(this.wallClock()),
      },
    };
    try {
      // Fenced too: a release sent after the renew deadline could clear a record a standby now holds
      // (it would fail on the resourceVersion, but it would still be a write after the takeover).
      await this.http.request('PUT', this.path(this.opts.name), {
        body: lease,
        fence: this.fence,
        timeoutMs: this.requestTimeoutMs(),
      });
    } catch (err) {
      this.opts.onError?.(err as Error);
    } finally {
      this.released = true;
      this.fence.close('the Lease was released');
    }
  }

  private holdsRecord(): boolean {
    return this.lease?.spec.holderIdentity === this.opts.identity;
  }

  private path(name?: string): string {
    return resourcePath(LEASE, this.opts.namespace, name);
  }

  /** A Lease request that takes longer than the renew deadline is of no use to anyone. */
  private requestTimeoutMs(): number {
    return Math.min(requestDefaults.timeoutMs, this.renewDeadlineMs);
  }

  /** One round; a leader passes its fence, so its writes go out only within its renew deadline. */
  private async tryAcquireOrRenew(signal: AbortSignal, fence?: Fence): Promise<boolean> {
    const me = this.opts.identity;
    const call = { signal, timeoutMs: this.requestTimeoutMs(), ...(fence ? { fence } : {}) };
    let current: Lease | undefined;
    try {
      current = await this.http.request<Lease>('GET', this.path(this.opts.name), call);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) {
        // A fenced request is the end of leadership, which the fence reports itself.
        if (!isFenced(err)) this.opts.onError?.(err as Error);
        return false;
      }
    }
    // Read after the answer: a standby times the holder from when it saw the record, never earlier.
    const now = this.clock.now();
    const nowIso = microTime(this.wallClock());
    if (!current) {
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: {
          holderIdentity: me,
          leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
          acquireTime: nowIso,
          renewTime: nowIso,
          leaseTransitions: 0,
        },
      };
      return this.write('POST', this.path(), lease, call);
    }
    const record = JSON.stringify(current.spec);
    if (this.observed?.record !== record) this.observed = { record, at: now };
    this.lease = current;
    const holder = current.spec.holderIdentity;
    const durationMs = (current.spec.leaseDurationSeconds ?? Math.ceil(this.leaseMs / 1000)) * 1000;
    if (holder && holder !== me && now < this.observed.at + durationMs) return false;
    const spec: LeaseSpec = {
      ...current.spec,
      holderIdentity: me,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      renewTime: nowIso,
    };
    if (holder !== me) {
      spec.acquireTime = nowIso;
      spec.leaseTransitions = (current.spec.leaseTransitions ?? 0) + 1;
    }
    return this.write('PUT', this.path(this.opts.name), { ...current, spec }, call);
  }

  private async write(
    method: 'POST' | 'PUT',
    path: string,
    lease: Lease,
    call: { signal: AbortSignal; timeoutMs: number; fence?: Fence },
  ): Promise<boolean> {
    try {
      this.lease = await this.http.request<Lease>(method, path, { body: lease, ...call });
      this.observed = { record: JSON.stringify(this.lease.spec), at: this.clock.now() };
      return true;
    } catch (err) {
      // 409: another candidate wrote first this round; anything else is worth a log line.
      if (!(err instanceof ApiError && err.code === 409) && !isFenced(err)) this.opts.onError?.(err as Error);
      return false;
    }
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (the apiserver rejects three). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
