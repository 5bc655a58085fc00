// What the two reconciles (ModelDeployment, ModelVersion) are given: the caches they read, the
// client they write with, where Events, logs and metrics go, and the settings they render with.
import type { PrometheusClient } from '../analysis/prometheus.js';
import type { ModelDeployment } from '../api/index.js';
import type { MetricLabels } from '../core/analysis/queries.js';
import type { Plan } from '../core/plan.js';
import type { GateDeps } from '../gates/observe.js';
import type { KubeClient } from '../k8s/client.js';
import type { EventRecorder } from '../k8s/events.js';
import type { Logger } from '../log.js';
import type { RuntimeSettings } from '../runtimes/types.js';
import type { Caches } from './caches.js';

export interface ReconcileDeps {
  caches: Caches;
  client: KubeClient;
  /** Where Events go: written in the background, off the reconcile's critical path. */
  events: Pick<EventRecorder, 'record'>;
  log: Logger;
  settings: RuntimeSettings;
  unreadyGraceMs: number;
  now: () => number;
  /** Metric analysis: the Prometheus to query (none: checks hold with PrometheusNotConfigured). */
  prometheus?: PrometheusClient | undefined;
  /** Target label names of a revision's series in that Prometheus; default DEFAULT_METRIC_LABELS. */
  metricLabels?: MetricLabels;
  /** The pre-traffic checks (loaded interface, smoke test, webhook gates); none: no gates. */
  gates?: GateDeps | undefined;
  /** Called when the ModelDeployment is gone (metrics forget its series). */
  onGone?: (namespace: string, name: string) => void;
  /** Called after a plan was applied (metrics); `startedAt` is when this reconcile began. */
  onPlan?: (md: ModelDeployment, plan: Plan, previous: ModelDeployment['status'], startedAt: number) => void;
}
