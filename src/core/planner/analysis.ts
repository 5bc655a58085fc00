// The planner's part of metric analysis: the status.analysis it carries from one reconcile to the
// next, the measurements of this reconcile merged in, and what they mean for the rollout (a
// failure that reverts, a hold that keeps a step from advancing, a bake after the promotion). Pure.
import type { ConditionInput } from '../conditions.js';
import type { Failure } from '../health.js';
import type { ResolvedAnalysis } from '../analysis/spec.js';
import { resolveAnalysis } from '../analysis/spec.js';
import type { ActiveStage, AnalysisHold, AnalysisStatus, CheckRecord } from '../analysis/verdict.js';
import {
  analysisGate,
  checksAt,
  failedChecks,
  mergeMeasurements,
  nextDue,
  summarize,
} from '../analysis/verdict.js';
import { parseTime } from '../time.js';
import { endBakeFailed } from './outcomes.js';
import type { Planner } from './state.js';

export class AnalysisBook {
  readonly spec: ResolvedAnalysis | undefined;
  /** The new status.analysis (undefined: none). */
  status: AnalysisStatus | undefined;

  constructor(pl: Planner) {
    this.spec = resolveAnalysis(pl.input.md);
    const prev = pl.prev.analysis;
    this.status = prev ? { ...prev, checks: [...(prev.checks ?? [])] } : undefined;
    const input = pl.input.analysis;
    if (!this.spec || !input || !this.status) return;
    // Measurements count only for the analysis they were taken for (the status they were read from).
    const t = input.target;
    if (this.status.revision !== t.revision || this.status.stage !== t.stage) return;
    this.status.checks = mergeMeasurements(
      checksAt(this.spec, t.stage),
      this.status.checks ?? [],
      input.results,
      pl.nowIso,
    );
  }

  get records(): CheckRecord[] {
    return this.status?.checks ?? [];
  }

  /** A fresh analysis of `revision` against `baseline` (its records start empty). */
  begin(stage: ActiveStage, revision: string, baseline: string | undefined, bakeUntil?: string): void {
    if (!this.spec) return;
    this.status = { revision, stage, checks: [] };
    if (baseline) this.status.baseline = baseline;
    if (bakeUntil) this.status.bakeUntil = bakeUntil;
  }

  /** The canary's analysis: started with the rollout, kept while it runs. */
  ensureCanary(revision: string, baseline: string, fresh: boolean): void {
    if (!this.spec) return;
    const s = this.status;
    if (fresh || s?.revision !== revision || (s.stage !== 'Canary' && s.stage !== 'Failed'))
      this.begin('Canary', revision, baseline);
  }

  active(stage: ActiveStage, revision: string): boolean {
    return !!this.spec && this.status?.stage === stage && this.status.revision === revision;
  }

  /** The checks that failed as often as their failureLimit, as one Failure (reason AnalysisFailed). */
  failure(stage: ActiveStage, revision: string, version: string): Failure | undefined {
    if (!this.spec || !this.status || this.status.revision !== revision) return undefined;
    if (this.status.stage !== stage && this.status.stage !== 'Failed') return undefined;
    const failed = failedChecks(checksAt(this.spec, stage), this.records);
    if (!failed.length) return undefined;
    this.status.stage = 'Failed';
    return {
      reason: 'AnalysisFailed',
      message: `analysis of version ${version} (revision ${revision}) failed: ${failed.join('; ')}`,
    };
  }

  /** Whether a canary step that began at `since` may end (see analysisGate). */
  gate(revision: string, since: number): AnalysisHold | undefined {
    if (!this.active('Canary', revision)) return undefined;
    return analysisGate(checksAt(this.spec!, 'Canary'), this.records, since);
  }

  /** When the next evaluation is due, for the requeue. */
  wake(pl: Planner, stage: ActiveStage, revision: string): void {
    if (this.active(stage, revision)) pl.wake(nextDue(this.spec!, this.records, stage, pl.input.now));
  }

  /** The one-line summary of the checks, for messages and the history. */
  summary(): string {
    if (!this.spec || !this.status) return '';
    const stage = this.status.stage === 'Bake' ? 'Bake' : 'Canary';
    return summarize(checksAt(this.spec, stage), this.records);
  }

  /** The status to write: stopped if the rollout it judged ended otherwise; with its summary. */
  finish(pl: Planner): AnalysisStatus | undefined {
    const s = this.status;
    if (!s) return s;
    // The checks were taken out of the spec: the analysis under way ends, its last record stays.
    if (!this.spec) {
      if (s.stage === 'Canary' || s.stage === 'Bake') s.stage = 'Stopped';
      return s;
    }
    if (s.stage === 'Canary' && pl.canary?.hash !== s.revision) s.stage = 'Stopped';
    if (s.stage === 'Bake' && pl.stable !== s.revision) s.stage = 'Stopped';
    const summary = this.summary();
    if (summary) s.summary = summary;
    else delete s.summary;
    return s;
  }
}

/**
 * The bake time after a promotion: the checks keep judging the new stable revision while the
 * previous one stays warm. A failure sends the traffic back to the previous revision (the same
 * revert as a canary's); the end of the bake time ends the analysis as Succeeded.
 */
export function checkBake(pl: Planner): void {
  const a = pl.analysis;
  const s = a.status;
  if (!a.spec || !s || !s.revision || s.revision !== pl.stable) return;
  // Failed: a bake failure that could not be reverted (autoRollback off) stays visible.
  if (s.stage !== 'Bake' && s.stage !== 'Failed') return;
  const rev = pl.revs.get(s.revision)!;
  const failure = a.failure('Bake', s.revision, rev.version);
  if (failure) {
    endBakeFailed(pl, s.revision, rev.version, s.baseline, failure);
    return;
  }
  if (s.stage !== 'Bake') return;
  const until = parseTime(s.bakeUntil) ?? pl.input.now;
  if (pl.input.now >= until) {
    s.stage = 'Succeeded';
    return;
  }
  pl.wake(until);
  a.wake(pl, 'Bake', s.revision);
}

/**
 * The AnalysisPassing condition, present while the spec has analysis checks and an analysis has
 * run: True when every check passes (or the analysis succeeded), False when one fails or
 * Prometheus cannot answer (the reason says which), Unknown while there is not enough data yet.
 */
export function analysisCondition(pl: Planner): ConditionInput | undefined {
  const a = pl.analysis;
  const s = a.status;
  if (!a.spec || !s) return undefined;
  const summary = a.summary() || 'no checks evaluated';
  switch (s.stage) {
    case 'Succeeded':
      return { type: 'AnalysisPassing', status: 'True', reason: 'AnalysisSucceeded', message: summary };
    case 'Failed':
      return { type: 'AnalysisPassing', status: 'False', reason: 'AnalysisFailed', message: summary };
    case 'Stopped':
      return {
        type: 'AnalysisPassing',
        status: 'Unknown',
        reason: 'AnalysisStopped',
        message: `the rollout ended otherwise; last: ${summary}`,
      };
    default: {
      const stage = s.stage === 'Bake' ? 'Bake' : 'Canary';
      const checks = checksAt(a.spec, stage);
      const failing = a.records.filter((r) => r.verdict === 'Fail');
      if (failing.length)
        return {
          type: 'AnalysisPassing',
          status: 'False',
          reason: 'AnalysisCheckFailing',
          message: failing.map((r) => `${r.name}: ${r.message ?? ''}`).join('; '),
        };
      const hold = analysisGate(checks, a.records, -Infinity);
      if (!hold)
        return { type: 'AnalysisPassing', status: 'True', reason: 'ChecksPassing', message: summary };
      const unknown = hold.reason === 'AnalysisInconclusive' || hold.reason === 'AnalysisPending';
      return {
        type: 'AnalysisPassing',
        status: unknown ? 'Unknown' : 'False',
        reason: hold.reason,
        message: hold.message,
      };
    }
  }
}

/** Holds that need someone (Prometheus down, no Prometheus, a refused query): one Warning Event when one starts. */
const WARN_ON = new Set(['PrometheusUnavailable', 'PrometheusNotConfigured', 'AnalysisQueryFailed']);

export function warnAnalysisHold(pl: Planner, cond: ConditionInput | undefined): void {
  if (!cond || !WARN_ON.has(cond.reason)) return;
  const before = pl.prev.conditions?.find((c) => c.type === 'AnalysisPassing');
  if (before?.reason !== cond.reason) pl.event('Warning', cond.reason, cond.message);
}
