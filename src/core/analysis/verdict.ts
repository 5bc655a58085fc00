// Metric analysis verdicts: which checks are due, what a measurement says against its check, and
// what the checks together say about a revision (failed, passed, or not yet known). Pure: the shell
// (src/analysis/) runs the queries and hands the numbers in; time is an argument.
import type { ModelDeployment, ModelDeploymentStatusAnalysis } from '../../api/index.js';
import { parseTime } from '../time.js';
import type { ResolvedAnalysis, ResolvedCheck } from './spec.js';
import { comparesWithStable, resolveAnalysis } from './spec.js';

export type AnalysisStatus = ModelDeploymentStatusAnalysis;
export type CheckRecord = NonNullable<AnalysisStatus['checks']>[number];
export type ActiveStage = 'Canary' | 'Bake';

/** Which revision the checks judge now, at which stage, against which revision. */
export interface AnalysisTarget {
  stage: ActiveStage;
  revision: string;
  baseline: string | undefined;
}

/** Why an evaluation has no number: the check then holds the rollout and never reverts it. */
export type MeasurementError = 'PrometheusUnavailable' | 'PrometheusNotConfigured' | 'QueryFailed';

/**
 * One evaluation of a check: the numbers its queries returned (in the order of CheckQueries;
 * undefined: the query returned no series), or why there are none.
 */
export type Measurement =
  | { ok: true; values: Array<number | undefined>; samples: Array<number | undefined> }
  | { ok: false; reason: MeasurementError; message: string };

/** What the shell measured in this reconcile, for the target it read from the status. */
export interface AnalysisInput {
  target: AnalysisTarget;
  results: Record<string, Measurement>;
}

/**
 * What the checks judge now, read from the status the previous reconcile wrote (level-triggered: a
 * restarted operator reads the same): the canary while it carries traffic, or the new stable
 * revision during its bake time. Undefined: nothing to evaluate.
 */
export function analysisTarget(md: ModelDeployment, now: number): AnalysisTarget | undefined {
  if (!resolveAnalysis(md)) return undefined;
  const st = md.status ?? {};
  const a = st.analysis;
  if (st.canaryRevision && st.stableRevision && (st.canaryWeight ?? 0) > 0) {
    // A canary whose analysis failed is judged no more: the failure stands until the rollout ends.
    if (a?.revision === st.canaryRevision && a.stage === 'Failed') return undefined;
    return { stage: 'Canary', revision: st.canaryRevision, baseline: st.stableRevision };
  }
  if (a?.stage === 'Bake' && a.revision && a.revision === st.stableRevision) {
    const until = parseTime(a.bakeUntil);
    if (until !== undefined && now < until)
      return { stage: 'Bake', revision: a.revision, baseline: a.baseline };
  }
  return undefined;
}

/** The checks that run at a stage: comparisons with the stable revision need it to serve too. */
export function checksAt(analysis: ResolvedAnalysis, stage: ActiveStage): ResolvedCheck[] {
  return analysis.checks.filter((c) => stage === 'Canary' || !comparesWithStable(c));
}

/** The records of `status` if they are about this target, else none (a new analysis starts empty). */
export function recordsFor(status: AnalysisStatus | undefined, target: AnalysisTarget): CheckRecord[] {
  return status?.revision === target.revision && status.stage === target.stage ? (status.checks ?? []) : [];
}

/** Checks whose interval has passed since their last evaluation (or that never ran) for this target. */
export function dueChecks(
  analysis: ResolvedAnalysis,
  status: AnalysisStatus | undefined,
  target: AnalysisTarget,
  now: number,
): ResolvedCheck[] {
  const records = recordsFor(status, target);
  return checksAt(analysis, target.stage).filter((c) => {
    const last = parseTime(records.find((r) => r.name === c.name)?.evaluatedAt);
    return last === undefined || now >= last + c.intervalMs;
  });
}

/** When the next check of the target is due (for the requeue). */
export function nextDue(
  analysis: ResolvedAnalysis,
  records: CheckRecord[],
  stage: ActiveStage,
  now: number,
): number | undefined {
  const times = checksAt(analysis, stage).map(
    (c) => (parseTime(records.find((r) => r.name === c.name)?.evaluatedAt) ?? now) + c.intervalMs,
  );
  return times.length ? Math.min(...times) : undefined;
}

/** The check's value from its queries' numbers; undefined when they hold no answer (no requests, 0/0). */
export function combineValues(check: ResolvedCheck, v: Array<number | undefined>): number | undefined {
  const n = (i: number): number | undefined => {
    const x = v[i];
    return x === undefined || !Number.isFinite(x) ? undefined : x;
  };
  const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined || b <= 0 ? undefined : a / b;
  switch (check.builtin) {
    case 'ErrorRate':
      return ratio(n(0), n(1));
    case 'MeanLatency': {
      const us = ratio(n(0), n(1));
      return us === undefined ? undefined : us / 1000;
    }
    case 'LatencyVsStable':
      return ratio(ratio(n(0), n(1)), ratio(n(2), n(3)));
    default:
      return n(0);
  }
}

/** Four significant digits, no exponent for everyday values: for status and messages. */
export function formatValue(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-4) return x.toPrecision(4);
  return String(Number(x.toPrecision(4)));
}

/** The passing side of the threshold, e.g. "<= 0.05". */
export function thresholdText(c: ResolvedCheck): string {
  return `${c.failWhen === 'Above' ? '<=' : '>='} ${formatValue(c.threshold)}`;
}

function describe(c: ResolvedCheck, value: number, v: Array<number | undefined>): string {
  const t = formatValue(c.threshold);
  const op = c.failWhen === 'Above' ? (value > c.threshold ? '>' : '<=') : value < c.threshold ? '<' : '>=';
  switch (c.builtin) {
    case 'ErrorRate':
      return `error rate ${formatValue(value)} ${op} ${t} (${formatValue(v[0] ?? 0)} of ${formatValue(v[1] ?? 0)} requests failed over ${c.window})`;
    case 'MeanLatency':
      return `mean latency ${formatValue(value)}ms ${op} ${t}ms over ${c.window}`;
    case 'LatencyVsStable': {
      const mine = (v[0] ?? 0) / (v[1] ?? 1) / 1000;
      const theirs = (v[2] ?? 0) / (v[3] ?? 1) / 1000;
      return `mean latency ${formatValue(mine)}ms vs stable ${formatValue(theirs)}ms: ratio ${formatValue(value)} ${op} ${t} over ${c.window}`;
    }
    default:
      return `value ${formatValue(value)} ${op} ${t}`;
  }
}

/**
 * One evaluation judged: Pass or Fail against the threshold once there are enough samples;
 * Inconclusive with too few (or no data); Error when there was no answer. Failures add up over the
 * analysis (they are kept in the status, so a restarted operator keeps counting).
 */
export function judgeCheck(
  c: ResolvedCheck,
  m: Measurement,
  prev: CheckRecord | undefined,
  nowIso: string,
): CheckRecord {
  const base: CheckRecord = {
    name: c.name,
    threshold: thresholdText(c),
    failures: prev?.failures ?? 0,
    evaluatedAt: nowIso,
  };
  if (!m.ok) return { ...base, verdict: 'Error', reason: m.reason, message: m.message };
  const samples = m.samples.length
    ? Math.min(...m.samples.map((s) => (s === undefined || !Number.isFinite(s) ? 0 : Math.max(0, s))))
    : 0;
  const counted = Math.round(samples);
  const value = combineValues(c, m.values);
  if (value === undefined)
    return {
      ...base,
      verdict: 'Inconclusive',
      reason: 'NoData',
      samples: counted,
      message: `no data over ${c.window} (${counted} samples)`,
    };
  const text = describe(c, value, m.values);
  if (counted < c.minSamples)
    return {
      ...base,
      verdict: 'Inconclusive',
      reason: 'TooFewSamples',
      value: formatValue(value),
      samples: counted,
      message: `${counted} samples, fewer than minSamples ${c.minSamples}: ${text}`,
    };
  const fails = c.failWhen === 'Above' ? value > c.threshold : value < c.threshold;
  return {
    ...base,
    verdict: fails ? 'Fail' : 'Pass',
    value: formatValue(value),
    samples: counted,
    failures: base.failures! + (fails ? 1 : 0),
    message: `${text}, ${counted} samples`,
  };
}

/** The records after this reconcile's measurements: judged ones replace their previous record. */
export function mergeMeasurements(
  checks: ResolvedCheck[],
  records: CheckRecord[],
  results: Record<string, Measurement>,
  nowIso: string,
): CheckRecord[] {
  const out: CheckRecord[] = [];
  for (const c of checks) {
    const prev = records.find((r) => r.name === c.name);
    const m = results[c.name];
    const r = m ? judgeCheck(c, m, prev, nowIso) : prev;
    if (r) out.push(r);
  }
  return out;
}

/** Checks that failed as often as their failureLimit: the revision fails. */
export function failedChecks(checks: ResolvedCheck[], records: CheckRecord[]): string[] {
  const out: string[] = [];
  for (const c of checks) {
    const r = records.find((x) => x.name === c.name);
    if (r && (r.failures ?? 0) >= c.failureLimit)
      out.push(`check ${c.name} failed ${r.failures}/${c.failureLimit}: ${r.message ?? ''}`);
  }
  return out;
}

/** Why the analysis does not let the rollout advance yet. */
export interface AnalysisHold {
  reason:
    | 'PrometheusUnavailable'
    | 'PrometheusNotConfigured'
    | 'AnalysisQueryFailed'
    | 'AnalysisInconclusive'
    | 'AnalysisPending';
  message: string;
}

/**
 * Whether the rollout may leave a step that started at `since`: every check must have passed in an
 * evaluation after the step began. Never on no data: an inconclusive check, an unreachable
 * Prometheus or a failed query hold, naming why.
 */
export function analysisGate(
  checks: ResolvedCheck[],
  records: CheckRecord[],
  since: number,
): AnalysisHold | undefined {
  const errors: string[] = [];
  const unreachable: string[] = [];
  const notConfigured: string[] = [];
  const inconclusive: string[] = [];
  const pending: string[] = [];
  for (const c of checks) {
    const r = records.find((x) => x.name === c.name);
    const at = parseTime(r?.evaluatedAt);
    if (!r || at === undefined) {
      pending.push(`${c.name}: not evaluated yet`);
    } else if (r.verdict === 'Error') {
      const line = `${c.name}: ${r.message ?? ''}`;
      if (r.reason === 'PrometheusUnavailable') unreachable.push(line);
      else if (r.reason === 'PrometheusNotConfigured') notConfigured.push(line);
      else errors.push(line);
    } else if (r.verdict === 'Inconclusive') {
      inconclusive.push(`${c.name}: ${r.message ?? ''}`);
    } else if (r.verdict !== 'Pass' || at <= since) {
      pending.push(`${c.name}: not evaluated since the step began`);
    }
  }
  const say = (reason: AnalysisHold['reason'], lead: string, lines: string[]): AnalysisHold => ({
    reason,
    message: `${lead}: ${lines.join('; ')}`,
  });
  if (notConfigured.length)
    return say(
      'PrometheusNotConfigured',
      'analysis holds the rollout, no Prometheus is configured',
      notConfigured,
    );
  if (unreachable.length)
    return say(
      'PrometheusUnavailable',
      'analysis holds the rollout, Prometheus cannot be reached',
      unreachable,
    );
  if (errors.length) return say('AnalysisQueryFailed', 'analysis holds the rollout, a query failed', errors);
  if (inconclusive.length)
    return say('AnalysisInconclusive', 'analysis holds the rollout until it has enough data', inconclusive);
  if (pending.length)
    return say('AnalysisPending', 'analysis holds the rollout until every check passes', pending);
  return undefined;
}

/** One line for kubectl get -o wide: every check's last value and verdict. */
export function summarize(checks: ResolvedCheck[], records: CheckRecord[]): string {
  const parts = checks.map((c) => {
    const r = records.find((x) => x.name === c.name);
    if (!r) return `${c.name}=? (pending)`;
    const v = r.value ?? '?';
    return `${c.name}=${v} ${r.threshold ?? thresholdText(c)} ${r.verdict ?? 'Pending'}`;
  });
  const s = parts.join(', ');
  return s.length > 1024 ? `${s.slice(0, 1021)}...` : s;
}
