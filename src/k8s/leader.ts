// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics and defaults
// (15 s lease, 10 s renew deadline, 2 s retry):
// - a candidate takes the Lease only when it is free or its holder has not renewed it for a whole
//   lease duration, as measured on the candidate's own clock from when it last saw the record change
//   (never by comparing timestamps written by another machine, whose clock may be skewed);
// - the leader renews every retry period; if it cannot renew within the renew deadline it has lost
//   the lease and must stop working at once (the caller exits, as controller-runtime does);
// - on a graceful stop the leader releases the Lease (holder cleared, 1 s duration) so a standby
//   takes over within one retry period instead of a whole lease duration.
// Updates are optimistic (resourceVersion), so two candidates can never both win the same round.
import { realClock, sleep, type Clock } from './clock.js';
import { ApiError, type KubeHttp } from './kube-http.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
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
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly clock: Clock;
  private observed: { record: string; at: number } | undefined;
  private lease: Lease | undefined;
  private leading = false;

  constructor(
    private readonly http: KubeHttp,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    this.clock = opts.clock ?? realClock;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this candidate leads (resolves), or the signal aborts (rejects with an AbortError).
   */
  async acquire(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw new DOMException('aborted', 'AbortError');
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        return;
      }
      await sleep(this.clock, this.retryMs, signal).catch(() => undefined);
    }
  }

  /**
   * Renews while leading; resolves when the lease is lost (not renewed within the renew deadline)
   * or the signal aborts (then the lease is released).
   */
  async holdUntilLost(signal: AbortSignal): Promise<'lost' | 'released'> {
    let lastRenew = this.clock.now();
    while (!signal.aborted) {
      await sleep(this.clock, this.retryMs, signal).catch(() => undefined);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.clock.now();
      } else if (this.clock.now() - lastRenew >= this.renewDeadlineMs || !this.holdsRecord()) {
        this.leading = false;
        return 'lost';
      }
    }
    await this.release();
    return 'released';
  }

  /** Gives the lease up so a standby takes over at once. */
  async release(): Promise<void> {
    if (!this.leading || !this.lease) return;
    this.leading = false;
    const lease: Lease = {
      ...this.lease,
      spec: {
        ...this.lease.spec,
        holderIdentity: null,
        leaseDurationSeconds: 1,
        renewTime: microTime(this.clock.now()),
      },
    };
    try {
      await this.http.request('PUT', this.path(this.opts.name), { body: lease });
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  private holdsRecord(): boolean {
    return this.lease?.spec.holderIdentity === this.opts.identity;
  }

  private path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases${name ? `/${name}` : ''}`;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const nowIso = microTime(now);
    const me = this.opts.identity;
    let current: Lease | undefined;
    try {
      current = await this.http.request<Lease>('GET', this.path(this.opts.name));
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) {
        this.opts.onError?.(err as Error);
        return false;
      }
    }
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
      return this.write('POST', this.path(), lease);
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
    return this.write('PUT', this.path(this.opts.name), { ...current, spec });
  }

  private async write(method: 'POST' | 'PUT', path: string, lease: Lease): Promise<boolean> {
    try {
      this.lease = await this.http.request<Lease>(method, path, { body: lease });
      this.observed = { record: JSON.stringify(this.lease.spec), at: this.clock.now() };
      return true;
    } catch (err) {
      // 409: another candidate wrote first this round; anything else is worth a log line.
      if (!(err instanceof ApiError && err.code === 409)) this.opts.onError?.(err as Error);
      return false;
    }
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (the apiserver rejects three). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
