// Runs the pre-traffic checks of a revision in the background and keeps their verdicts, keyed by
// ModelDeployment, revision, attempt and check (I/O). The reconcile never waits for a probe: it asks
// for a verdict, gets Pending while the probe runs, and the probe's end enqueues the
// ModelDeployment's key, whose next reconcile finds the verdict here. A check that holds (a webhook
// that said no) is run again after its interval, again by enqueueing the key.
import type { GateVerdict } from '../core/plan-types.js';

export interface RunnerDeps {
  /** Queues a reconcile of the ModelDeployment key. */
  enqueue: (mdKey: string) => void;
  now: () => number;
}

interface Job {
  verdict: GateVerdict | undefined;
  running: boolean;
  /** Runs so far (a held check counts its refusals in a row). */
  runs: number;
  /** A held check runs again from this time. */
  againAt: number;
  timer?: ReturnType<typeof setTimeout> | undefined;
}

/** One check: given how many runs came before, its verdict (Held: run again after `againMs`). */
export type Check = (runsBefore: number) => Promise<GateVerdict & { againMs?: number }>;

export class GateRunner {
  private readonly jobs = new Map<string, Map<string, Job & { againMs?: number }>>();

  constructor(private readonly deps: RunnerDeps) {}

  /**
   * The verdict of the check `id` of this ModelDeployment; started (or run again, when held and its
   * interval is up) if it is not running. Pending while it runs.
   */
  observe(mdKey: string, id: string, check: Check, pendingMessage: string): GateVerdict {
    let perMd = this.jobs.get(mdKey);
    if (!perMd) this.jobs.set(mdKey, (perMd = new Map()));
    let job = perMd.get(id);
    if (!job) perMd.set(id, (job = { verdict: undefined, running: false, runs: 0, againAt: 0 }));
    const again = job.verdict?.result === 'Held' && this.deps.now() >= job.againAt;
    if (!job.running && (!job.verdict || again)) this.start(mdKey, id, job, check);
    if (job.running && !job.verdict)
      return { result: 'Pending', reason: 'GatesPending', message: pendingMessage };
    return job.verdict!;
  }

  private start(mdKey: string, id: string, job: Job, check: Check): void {
    job.running = true;
    const runsBefore = job.runs;
    void check(runsBefore)
      .catch((err: unknown): GateVerdict => ({
        result: 'Failed',
        reason: 'GateFailed',
        message: `the check could not run: ${(err as Error).message}`,
        time: new Date(this.deps.now()).toISOString(),
      }))
      .then((v) => {
        job.running = false;
        job.runs = runsBefore + 1;
        const { againMs, ...verdict } = v as GateVerdict & { againMs?: number };
        job.verdict = verdict;
        // Forgotten meanwhile (the ModelDeployment went, or moved on): no wake-up for it.
        if (this.jobs.get(mdKey)?.get(id) !== job) return;
        if (verdict.result === 'Held' && againMs !== undefined) {
          job.againAt = this.deps.now() + againMs;
          job.timer = setTimeout(() => this.deps.enqueue(mdKey), againMs);
          job.timer.unref?.();
        }
        this.deps.enqueue(mdKey);
      });
  }

  /** Drops the checks of this ModelDeployment whose ids `keep` refuses (all, without it). */
  forget(mdKey: string, keep?: (id: string) => boolean): void {
    const perMd = this.jobs.get(mdKey);
    if (!perMd) return;
    for (const [id, job] of perMd) {
      if (keep?.(id)) continue;
      if (job.timer) clearTimeout(job.timer);
      perMd.delete(id);
    }
    if (perMd.size === 0) this.jobs.delete(mdKey);
  }

  /** Checks kept (for tests and the operator's shutdown). */
  get size(): number {
    let n = 0;
    for (const m of this.jobs.values()) n += m.size;
    return n;
  }

  stop(): void {
    for (const k of [...this.jobs.keys()]) this.forget(k);
  }
}
