// An experiment's comparison: the value of the metric it is decided on for each version, the winner,
// and when the shell measures (level-triggered: read from the status the last reconcile wrote). Pure.
import type { ModelDeployment, ModelDeploymentStatusExperiment } from '../../api/index.js';
import type { ArmMetrics } from '../plan-types.js';
import { resolveSpec, type ResolvedExperiment } from '../spec.js';
import { parseTime } from '../time.js';

export type ExperimentStatus = ModelDeploymentStatusExperiment;
export type ArmStatus = NonNullable<ExperimentStatus['arms']>[number];
export type Role = ArmStatus['role'];

/** How often the shell reads the versions' numbers from Prometheus while an experiment runs. */
export const EXPERIMENT_MEASURE_INTERVAL_MS = 10_000;

/** A version's numbers as the status keeps them (strings for the fractions), back as numbers. */
export function metricsOf(a: ArmStatus): ArmMetrics | undefined {
  if (a.requests === undefined) return undefined;
  const ms = a.meanLatencyMs === undefined ? undefined : Number(a.meanLatencyMs);
  return {
    requests: a.requests,
    errors: a.errors ?? 0,
    meanLatencyMs: ms !== undefined && Number.isFinite(ms) ? ms : undefined,
  };
}

/** The value of `metric` for these numbers; undefined when there is nothing to compute it from. */
export function metricValue(
  m: ArmMetrics | undefined,
  metric: ResolvedExperiment['metric'],
): number | undefined {
  if (!m || m.requests <= 0) return undefined;
  return metric === 'ErrorRate' ? m.errors / m.requests : m.meanLatencyMs;
}

export interface Contender {
  role: Role;
  revision: string;
  version: string;
  failed: boolean;
  metrics: ArmMetrics | undefined;
}

export type Verdict =
  { winner: Contender; value: number; message: string } | { winner: undefined; message: string };

/**
 * The winner: the lowest value of the metric among the versions that did not fail and served at
 * least minSamples requests; there must be two such versions to compare. A tie goes to the earlier
 * contender (the stable revision is first), so a challenger has to be strictly better to win.
 */
export function decideWinner(contenders: readonly Contender[], x: ResolvedExperiment): Verdict {
  const judged = contenders
    .filter((c) => !c.failed && (c.metrics?.requests ?? 0) >= x.minSamples)
    .map((c) => ({ c, v: metricValue(c.metrics, x.metric) }))
    .filter((j): j is { c: Contender; v: number } => j.v !== undefined);
  if (judged.length < 2) {
    return {
      winner: undefined,
      message: `no winner: ${judged.length === 0 ? 'no version' : `only ${judged[0]!.c.version}`} served at least ${x.minSamples} requests with a measurable ${x.metric}`,
    };
  }
  let best = judged[0]!;
  for (const j of judged.slice(1)) if (j.v < best.v) best = j;
  const others = judged
    .filter((j) => j !== best)
    .map((j) => `${j.c.version} ${formatMetric(j.v, x.metric)}`)
    .join(', ');
  return {
    winner: best.c,
    value: best.v,
    message: `${best.c.version} (${best.c.role.toLowerCase()}) wins on ${x.metric}: ${formatMetric(best.v, x.metric)} against ${others}`,
  };
}

export function formatMetric(v: number, metric: ResolvedExperiment['metric']): string {
  return metric === 'ErrorRate' ? v.toFixed(4) : `${v.toFixed(2)}ms`;
}

/** What the shell measures now for the experiment the status describes, or undefined: nothing due. */
export interface ExperimentTarget {
  /** The versions to measure: every one in the experiment (failed ones too, for the record). */
  arms: Array<{ revision: string; version: string }>;
  /** Since when: the start of the experiment (the PromQL range ends at now). */
  since: number;
}

/**
 * Measurements are due while the experiment runs, every EXPERIMENT_MEASURE_INTERVAL_MS, and once
 * more when it is over (the reconcile that concludes it decides on numbers taken at its end).
 */
export function experimentTarget(md: ModelDeployment, now: number): ExperimentTarget | undefined {
  if (resolveSpec(md).strategy !== 'Experiment') return undefined;
  const x = md.status?.experiment;
  if (x?.phase !== 'Running') return undefined;
  const since = parseTime(x.startedAt);
  if (since === undefined || !x.arms?.length) return undefined;
  const last = parseTime(x.measuredAt);
  const ends = parseTime(x.endsAt);
  const due =
    last === undefined ||
    now >= last + EXPERIMENT_MEASURE_INTERVAL_MS ||
    (ends !== undefined && now >= ends && last < ends);
  if (!due) return undefined;
  return { arms: x.arms.map((a) => ({ revision: a.revision, version: a.version })), since };
}
