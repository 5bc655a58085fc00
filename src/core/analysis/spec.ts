// The analysis part of a ModelDeployment spec with every default filled in. Pure.
import type { ModelDeployment, ModelDeploymentSpecStrategyAnalysisCheck } from '../../api/index.js';
import { parseDuration } from '../duration.js';

export type Builtin = NonNullable<ModelDeploymentSpecStrategyAnalysisCheck['builtin']>;

export interface ResolvedCheck {
  name: string;
  builtin?: Builtin;
  query?: string;
  samplesQuery?: string;
  threshold: number;
  failWhen: 'Above' | 'Below';
  minSamples: number;
  /** As written (PromQL takes the same duration syntax). */
  window: string;
  intervalMs: number;
  failureLimit: number;
}

export interface ResolvedAnalysis {
  checks: ResolvedCheck[];
  bakeMs: number;
}

export const DEFAULT_ANALYSIS_INTERVAL = '10s';
export const DEFAULT_WINDOW = '30s';

/** Built-in checks that compare with the stable revision: they need it to serve, so not during bake. */
export function comparesWithStable(c: ResolvedCheck): boolean {
  return c.builtin === 'LatencyVsStable';
}

export function resolveAnalysis(md: ModelDeployment): ResolvedAnalysis | undefined {
  const a = md.spec.strategy?.analysis;
  if (!a || !a.checks?.length) return undefined;
  const every = parseDuration(a.interval ?? DEFAULT_ANALYSIS_INTERVAL) ?? 10_000;
  return {
    bakeMs: a.bakeTime ? (parseDuration(a.bakeTime) ?? 0) : 0,
    checks: a.checks.map((c) => {
      const r: ResolvedCheck = {
        name: c.name,
        threshold: c.threshold,
        failWhen: c.failWhen ?? 'Above',
        minSamples: c.minSamples ?? 20,
        window: c.window ?? DEFAULT_WINDOW,
        // At least 100 ms between evaluations of a check, whatever the spec says.
        intervalMs: Math.max(
          100,
          (c.interval !== undefined ? parseDuration(c.interval) : undefined) ?? every,
        ),
        failureLimit: Math.max(1, c.failureLimit ?? 1),
      };
      if (c.builtin !== undefined) r.builtin = c.builtin;
      if (c.query !== undefined) r.query = c.query;
      if (c.samplesQuery !== undefined) r.samplesQuery = c.samplesQuery;
      return r;
    }),
  };
}
