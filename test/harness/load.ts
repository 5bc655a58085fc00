// Traffic for metric analysis tests and benchmarks: KServe v2 requests sent back to back to every
// Ready pod of a ModelDeployment (its revisions' pod addresses on the data plane), with request
// parameters per revision (a test model's latency_ms), and a tally of answers per revision.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';

export interface Tally {
  ok: number;
  failed: number;
}

/** One KServe v2 request with request parameters; resolves with the HTTP status (0: no answer). */
export function send(ip: string, model: string, params: Record<string, number>): Promise<number> {
  const body = JSON.stringify({
    parameters: params,
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }],
  });
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: ip,
        port: 8000,
        path: `/v2/models/${model}/infer`,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/**
 * Requests back to back (one at a time) to every Ready pod of the ModelDeployment, found by listing
 * its pods every second; `params` per revision (e.g. a latency) apply from the next request on.
 */
export class Load {
  readonly tally = new Map<string, Tally>();
  readonly params = new Map<string, Record<string, number>>();
  private readonly workers = new Map<string, Promise<void>>();
  private live = new Map<string, string>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  /** `pods`: the ModelDeployment's pods now (label modelship.io/deployment); `model`: the model served. */
  constructor(
    private readonly pods: () => Promise<V1Pod[]>,
    private readonly model: string,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const pods = await this.pods();
          const live = new Map<string, string>();
          for (const p of pods)
            if (ready(p) && p.status?.podIP && !p.metadata?.deletionTimestamp)
              live.set(p.status.podIP, p.metadata!.labels!['modelship.io/revision']!);
          this.live = live;
          for (const [ip, rev] of live) if (!this.workers.has(ip)) this.workers.set(ip, this.work(ip, rev));
        } catch {
          // the next round lists again
        }
        await sleep(1000);
      }
    })();
  }

  private async work(ip: string, revision: string): Promise<void> {
    const t = this.tally.get(revision) ?? { ok: 0, failed: 0 };
    this.tally.set(revision, t);
    while (!this.stopped && this.live.get(ip) === revision) {
      const code = await send(ip, this.model, this.params.get(revision) ?? {});
      if (code === 200) t.ok++;
      else t.failed++;
      if (code === 0) await sleep(200);
    }
    this.workers.delete(ip);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.workers.values());
  }
}

const ready = (p: V1Pod): boolean =>
  !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
