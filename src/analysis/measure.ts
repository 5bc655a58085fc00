// Runs the analysis queries that are due for a ModelDeployment (I/O): which revision and checks
// come from the pure core (core/analysis), the numbers from Prometheus. Every query has a timeout;
// an unreachable Prometheus or a refused query becomes a measurement error, which holds a rollout
// and never reverts it.
import type { ModelDeployment } from '../api/index.js';
import type { AnalysisInput, AnalysisTarget, Measurement } from '../core/analysis/verdict.js';
import { analysisTarget, dueChecks } from '../core/analysis/verdict.js';
import { resolveAnalysis } from '../core/analysis/spec.js';
import { planCheckQueries, type MetricLabels, type QueryContext } from '../core/analysis/queries.js';
import { PrometheusError, type PrometheusClient } from './prometheus.js';

export interface MeasureDeps {
  prometheus: PrometheusClient | undefined;
  labels: MetricLabels;
}

/**
 * The measurements of the checks due now, for the target the status names; undefined when no
 * analysis runs. `runtimeOf` and `versionOf` read a revision's runtime and version from its
 * Deployment.
 */
export async function measureAnalysis(
  deps: MeasureDeps,
  md: ModelDeployment,
  now: number,
  runtimeOf: (revision: string) => string | undefined,
  versionOf: (revision: string) => string | undefined,
): Promise<AnalysisInput | undefined> {
  const spec = resolveAnalysis(md);
  const target = analysisTarget(md, now);
  if (!spec || !target) return undefined;
  const due = dueChecks(spec, md.status?.analysis, target, now);
  const ctx: QueryContext = {
    namespace: md.metadata!.namespace!,
    deployment: md.metadata!.name!,
    model: md.spec.model,
    version: versionOf(target.revision) ?? '',
    revision: target.revision,
    baseline: target.baseline,
    runtime: runtimeOf(target.revision) ?? 'triton',
    labels: deps.labels,
  };
  const results: Record<string, Measurement> = {};
  await Promise.all(
    due.map(async (c) => {
      results[c.name] = await measureCheck(deps.prometheus, c, ctx, now, target);
    }),
  );
  return { target, results };
}

async function measureCheck(
  prometheus: PrometheusClient | undefined,
  check: Parameters<typeof planCheckQueries>[0],
  ctx: QueryContext,
  now: number,
  target: AnalysisTarget,
): Promise<Measurement> {
  const q = planCheckQueries(check, ctx);
  if ('error' in q) return { ok: false, reason: 'QueryFailed', message: q.error };
  if (!prometheus)
    return {
      ok: false,
      reason: 'PrometheusNotConfigured',
      message: `the operator has no Prometheus to read (flag --prometheus-url) for the ${target.stage.toLowerCase()} analysis`,
    };
  try {
    const [values, samples] = await Promise.all([
      Promise.all(q.values.map((x) => prometheus.query(x, now))),
      Promise.all(q.samples.map((x) => prometheus.query(x, now))),
    ]);
    return { ok: true, values, samples };
  } catch (err) {
    if (err instanceof PrometheusError) return { ok: false, reason: err.reason, message: err.message };
    return { ok: false, reason: 'PrometheusUnavailable', message: (err as Error).message };
  }
}
