// The PromQL a check runs: the built-in checks written per runtime against the metrics its server
// really exports, and custom queries with their placeholders filled in. Pure.
import type { ResolvedCheck } from './spec.js';

/** Names of the target labels a revision's series carry in Prometheus (operator flags). */
export interface MetricLabels {
  /** The pod's namespace; kubernetes_sd's __meta_kubernetes_namespace, usually relabelled to `namespace`. */
  namespace: string;
  /** The pod label modelship.io/revision; `labelmap` of __meta_kubernetes_pod_label_(.+) makes it `modelship_io_revision`. */
  revision: string;
}

export const DEFAULT_METRIC_LABELS: MetricLabels = {
  namespace: 'namespace',
  revision: 'modelship_io_revision',
};

/** What a query is about: the revision judged and the one it is compared with. */
export interface QueryContext {
  namespace: string;
  deployment: string;
  model: string;
  version: string;
  revision: string;
  /** The stable revision (during bake: the previous one); may be absent on a first deploy. */
  baseline: string | undefined;
  /** The runtime of the revision judged (triton, torchserve): which metric names the built-ins use. */
  runtime: string;
  labels: MetricLabels;
}

/**
 * The queries of one evaluation. The shell runs each as an instant query and hands the numbers
 * back in the same order (undefined: no series); `combineValues` (analysis/verdict.ts) makes the
 * check's value of them and the samples are their minimum.
 */
export interface CheckQueries {
  values: string[];
  samples: string[];
}

/** The metrics a runtime's server exports, as the built-in checks need them. */
interface RuntimeMetrics {
  /** Requests over the window, failed or not. */
  requests(sel: string, w: string): string;
  failures(sel: string, w: string): string;
  /** Total request duration (microseconds) over the window, and the requests it is the sum over. */
  durationUs(sel: string, w: string): string;
  timedRequests(sel: string, w: string): string;
}

const inc = (metric: string, sel: string, w: string): string => `sum(increase(${metric}{${sel}}[${w}]))`;
/** A counter that a server exports only once it has counted something reads as 0, not as no data. */
const inc0 = (metric: string, sel: string, w: string): string => `(${inc(metric, sel, w)} or vector(0))`;

/**
 * Triton (/metrics on port 8002, labelled model and version): nv_inference_request_success and
 * nv_inference_request_failure count requests, nv_inference_request_duration_us sums the duration
 * of the successful ones (queue time included).
 */
const TRITON: RuntimeMetrics = {
  requests: (s, w) =>
    `${inc0('nv_inference_request_success', s, w)} + ${inc0('nv_inference_request_failure', s, w)}`,
  failures: (s, w) => inc0('nv_inference_request_failure', s, w),
  durationUs: (s, w) => inc('nv_inference_request_duration_us', s, w),
  timedRequests: (s, w) => inc('nv_inference_request_success', s, w),
};

/**
 * TorchServe (metrics_mode prometheus, port 8082): ts_inference_requests_total and
 * ts_inference_latency_microseconds per model, and the frontend's Requests2XX/4XX/5XX counters.
 */
const TORCHSERVE: RuntimeMetrics = {
  requests: (s, w) =>
    `${inc0('Requests2XX', s, w)} + ${inc0('Requests4XX', s, w)} + ${inc0('Requests5XX', s, w)}`,
  failures: (s, w) => inc0('Requests5XX', s, w),
  durationUs: (s, w) => inc('ts_inference_latency_microseconds', s, w),
  timedRequests: (s, w) => inc('ts_inference_requests_total', s, w),
};

const RUNTIME_METRICS: Record<string, RuntimeMetrics> = { triton: TRITON, torchserve: TORCHSERVE };

/** The label matchers that select one revision's series. */
export function selectorOf(labels: MetricLabels, namespace: string, revision: string): string {
  return `${labels.namespace}=${promString(namespace)},${labels.revision}=${promString(revision)}`;
}

/** A PromQL double-quoted string literal. */
export function promString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** Fills the placeholders of a custom query. Values go in as they are (inside quotes, escaped). */
export function fillPlaceholders(template: string, ctx: QueryContext, window: string): string {
  const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const vars: Record<string, string> = {
    selector: selectorOf(ctx.labels, ctx.namespace, ctx.revision),
    stableSelector: selectorOf(ctx.labels, ctx.namespace, ctx.baseline ?? ''),
    revision: esc(ctx.revision),
    stableRevision: esc(ctx.baseline ?? ''),
    namespace: esc(ctx.namespace),
    deployment: esc(ctx.deployment),
    model: esc(ctx.model),
    version: esc(ctx.version),
    window,
  };
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => vars[name] ?? whole);
}

/** Placeholders a custom query may use; anything else in {{ }} is left as it is (and PromQL refuses it). */
export const PLACEHOLDERS = [
  'selector',
  'stableSelector',
  'revision',
  'stableRevision',
  'namespace',
  'deployment',
  'model',
  'version',
  'window',
] as const;

/**
 * The queries of a check for one revision, or why it cannot be evaluated (a built-in for a runtime
 * that has none, a comparison without a revision to compare with).
 */
export function planCheckQueries(check: ResolvedCheck, ctx: QueryContext): CheckQueries | { error: string } {
  const w = check.window;
  const sel = selectorOf(ctx.labels, ctx.namespace, ctx.revision);
  const m = RUNTIME_METRICS[ctx.runtime];
  const requests = (s: string): string | undefined => m?.requests(s, w);
  if (check.query !== undefined) {
    const samples =
      check.samplesQuery !== undefined ? fillPlaceholders(check.samplesQuery, ctx, w) : requests(sel);
    if (samples === undefined)
      return { error: `runtime ${ctx.runtime} has no built-in request count: set samplesQuery` };
    return { values: [fillPlaceholders(check.query, ctx, w)], samples: [samples] };
  }
  if (!m) return { error: `runtime ${ctx.runtime} has no built-in checks: write a query` };
  switch (check.builtin) {
    case 'ErrorRate':
      return { values: [m.failures(sel, w), m.requests(sel, w)], samples: [m.requests(sel, w)] };
    case 'MeanLatency':
      return { values: [m.durationUs(sel, w), m.timedRequests(sel, w)], samples: [m.requests(sel, w)] };
    case 'LatencyVsStable': {
      if (!ctx.baseline) return { error: 'no stable revision to compare with' };
      const base = selectorOf(ctx.labels, ctx.namespace, ctx.baseline);
      return {
        values: [
          m.durationUs(sel, w),
          m.timedRequests(sel, w),
          m.durationUs(base, w),
          m.timedRequests(base, w),
        ],
        samples: [m.requests(sel, w), m.requests(base, w)],
      };
    }
    default:
      return { error: `unknown built-in check ${String(check.builtin)}` };
  }
}
