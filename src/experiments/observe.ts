// An experiment's I/O (strategy.experiment, planner/experiment.ts): each arm's ModelVersion found in
// the caches and rendered into the revision it would run as, and, while the experiment runs, each
// version's requests, errors and mean latency read from Prometheus with the built-in checks'
// queries (core/analysis/queries.ts). What to measure and when comes from the pure core
// (experimentTarget); a failed measurement is data for the core, never an error of the reconcile.
import type { V1Deployment } from '@kubernetes/client-node';
import type { PrometheusClient } from '../analysis/prometheus.js';
import { PrometheusError } from '../analysis/prometheus.js';
import type { ModelDeployment } from '../api/index.js';
import type { ResolvedCheck } from '../core/analysis/spec.js';
import { planCheckQueries, type MetricLabels, type QueryContext } from '../core/analysis/queries.js';
import { ANNOTATION_RUNTIME, LABEL_REVISION } from '../core/labels.js';
import { resolveModelVersion } from '../core/model-version.js';
import type { ArmMetrics, ExperimentInput, ExperimentMeasurement, Resolution } from '../core/plan.js';
import { experimentTarget, type ExperimentTarget } from '../core/planner/experiment-verdict.js';
import { renderRevision, type RenderedRevision } from '../core/revision.js';
import { BY_MODEL } from '../controllers/caches.js';
import type { ReconcileDeps } from '../controllers/deps.js';
import { observeProcessing } from '../controllers/processing.js';

export interface ObservedExperiment {
  /** What the planner is given (PlanInput.experiment). */
  input: ExperimentInput;
  /** The arms' revisions, rendered in full so that the desired-state step can create them. */
  rendered: RenderedRevision[];
}

/** Undefined unless strategy.type is Experiment. */
export async function observeExperiment(
  deps: ReconcileDeps,
  md: ModelDeployment,
  deployments: readonly V1Deployment[],
  now: number,
): Promise<ObservedExperiment | undefined> {
  const st = md.spec.strategy;
  if (st?.type !== 'Experiment' || !st.experiment) return undefined;
  const ns = md.metadata!.namespace!;
  const stable = md.status?.stableRevision;
  const runtimeOf = (revision: string): string | undefined =>
    deployments.find((d) => d.metadata?.labels?.[LABEL_REVISION] === revision)?.metadata?.annotations?.[
      ANNOTATION_RUNTIME
    ];
  const servingRuntime = stable ? runtimeOf(stable) : undefined;
  const rendered: RenderedRevision[] = [];
  const arms = await Promise.all(
    (st.experiment.arms ?? []).map(async (a): Promise<ExperimentInput['arms'][number]> => {
      const resolution = await resolveArm(deps, md, a.version, servingRuntime, rendered);
      return { version: a.version, resolution };
    }),
  );
  const input: ExperimentInput = { arms };
  const target = experimentTarget(md, now);
  if (target) {
    const runtimes = new Map(
      rendered.map((r) => [r.hash, r.deployment.metadata?.annotations?.[ANNOTATION_RUNTIME]]),
    );
    input.measurement = await measureExperiment(
      deps.prometheus,
      deps.metricLabels,
      md,
      target,
      now,
      (r) => runtimeOf(r) ?? runtimes.get(r) ?? servingRuntime ?? 'triton',
    );
    deps.log.debug('experiment measured', {
      key: `${ns}/${md.metadata!.name!}`,
      result: input.measurement.ok
        ? Object.entries(input.measurement.arms)
            .map(([r, m]) => `${r}=${m.requests}/${m.errors}/${m.meanLatencyMs ?? '-'}ms`)
            .join(', ')
        : input.measurement.reason,
    });
  }
  return { input, rendered };
}

/** An arm's ModelVersion, as the spec's own version is found (same model, same rules). */
async function resolveArm(
  deps: ReconcileDeps,
  md: ModelDeployment,
  version: string,
  servingRuntime: string | undefined,
  rendered: RenderedRevision[],
): Promise<Resolution> {
  const ns = md.metadata!.namespace!;
  const arm: ModelDeployment = { ...md, spec: { ...md.spec, version } };
  const found = resolveModelVersion(
    arm,
    deps.caches.modelVersions.byIndex(BY_MODEL, ns, md.spec.model),
    servingRuntime,
    () => deps.caches.modelVersions.list(ns),
  );
  if (!('mv' in found)) return found;
  const processing = await observeProcessing(deps, md, found.mv);
  if (!processing.ok) return { ok: false, reason: processing.reason, message: processing.message };
  try {
    const r = renderRevision({
      md,
      mv: found.mv,
      settings: deps.settings,
      replicas: 0,
      processing: processing.content,
    });
    rendered.push(r);
    return { ok: true, revision: { hash: r.hash, version: found.mv.spec.version } };
  } catch (err) {
    return {
      ok: false,
      reason: (err as { reason?: string }).reason ?? 'InvalidModelVersion',
      message: (err as Error).message,
    };
  }
}

/** The built-in checks whose queries give the numbers: failures/requests and duration/timed requests. */
const check = (builtin: 'ErrorRate' | 'MeanLatency', window: string): ResolvedCheck => ({
  name: builtin,
  builtin,
  threshold: 0,
  failWhen: 'Above',
  minSamples: 0,
  window,
  intervalMs: 0,
  failureLimit: 1,
});

/**
 * Each version's numbers since the experiment's start, in one go: a version whose queries fail makes
 * the whole measurement an error (the comparison must be of the same moment).
 */
export async function measureExperiment(
  prometheus: PrometheusClient | undefined,
  labels: MetricLabels | undefined,
  md: ModelDeployment,
  target: ExperimentTarget,
  now: number,
  runtimeOf: (revision: string) => string,
): Promise<ExperimentMeasurement> {
  if (!prometheus)
    return {
      ok: false,
      reason: 'PrometheusNotConfigured',
      message: 'the operator has no Prometheus to read (flag --prometheus-url): no comparison and no winner',
    };
  // The range covers the experiment since its start, in whole seconds (at least one).
  const window = `${Math.max(1, Math.ceil((now - target.since) / 1000))}s`;
  try {
    const arms: Record<string, ArmMetrics> = {};
    await Promise.all(
      target.arms.map(async (a) => {
        const ctx: QueryContext = {
          namespace: md.metadata!.namespace!,
          deployment: md.metadata!.name!,
          model: md.spec.model,
          version: a.version,
          revision: a.revision,
          baseline: undefined,
          runtime: runtimeOf(a.revision),
          labels: labels ?? { namespace: 'namespace', revision: 'modelship_io_revision' },
        };
        const errors = planCheckQueries(check('ErrorRate', window), ctx);
        const latency = planCheckQueries(check('MeanLatency', window), ctx);
        if ('error' in errors) throw new PrometheusError('QueryFailed', errors.error);
        if ('error' in latency) throw new PrometheusError('QueryFailed', latency.error);
        const [failures, requests, durationUs, timed] = await Promise.all(
          [...errors.values, ...latency.values].map((q) => prometheus.query(q, now)),
        );
        arms[a.revision] = {
          requests: requests ?? 0,
          errors: failures ?? 0,
          meanLatencyMs:
            durationUs !== undefined && timed !== undefined && timed > 0
              ? durationUs / timed / 1000
              : undefined,
        };
      }),
    );
    return { ok: true, arms };
  } catch (err) {
    if (err instanceof PrometheusError) return { ok: false, reason: err.reason, message: err.message };
    return { ok: false, reason: 'PrometheusUnavailable', message: (err as Error).message };
  }
}
