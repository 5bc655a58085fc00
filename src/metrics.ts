// Prometheus metrics of the operator (docs/metrics.md lists them). Names follow controller-runtime's
// where they mean the same thing, so existing dashboards and alerts carry over.
import client from 'prom-client';
import type { ModelDeployment } from './api/index.js';
import type { Plan } from './core/plan.js';
import type { WorkQueueObserver } from './k8s/workqueue.js';
import type { NotifyObserver } from './notify/sender.js';

export class Metrics {
  readonly registry = new client.Registry();
  private readonly reconcileTotal;
  private readonly reconcileErrors;
  private readonly reconcileTime;
  private readonly depth;
  private readonly adds;
  private readonly queueLatency;
  private readonly retries;
  private readonly rollouts;
  private readonly rollbacks;
  private readonly timeToSafe;
  private readonly weight;
  private readonly leader;
  private readonly eventsLost;
  private readonly notifications;
  private readonly notificationRetries;
  private readonly notificationSeconds;
  /** Queue wait of the run in progress per key, for time-to-safe. */
  private readonly waited = new Map<string, number>();
  /** Weight series set per ModelDeployment, so series of revisions that went away are removed. */
  private readonly weightSeries = new Map<string, Array<Record<string, string>>>();

  constructor() {
    const r = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new client.Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Reconciles per controller and result (success, error, requeue).',
      labelNames: ['controller', 'result'],
      registers: r,
    });
    this.reconcileErrors = new client.Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Reconciles that failed and were retried with back-off.',
      labelNames: ['controller'],
      registers: r,
    });
    this.reconcileTime = new client.Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Duration of one reconcile.',
      labelNames: ['controller'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    this.depth = new client.Gauge({
      name: 'workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['name'],
      registers: r,
    });
    this.adds = new client.Counter({
      name: 'workqueue_adds_total',
      help: 'Keys added to the work queue.',
      labelNames: ['name'],
      registers: r,
    });
    this.queueLatency = new client.Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'Time a key waits in the queue before a worker takes it.',
      labelNames: ['name'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers: r,
    });
    this.retries = new client.Counter({
      name: 'workqueue_retries_total',
      help: 'Keys re-queued with back-off after an error.',
      labelNames: ['name'],
      registers: r,
    });
    this.rollouts = new client.Counter({
      name: 'modelship_rollouts_total',
      help: 'Rollouts that ended, by result (Promoted, RolledBack, Aborted, Superseded, Failed).',
      labelNames: ['namespace', 'result'],
      registers: r,
    });
    this.rollbacks = new client.Counter({
      name: 'modelship_rollbacks_total',
      help: 'Automatic rollbacks, by reason (CrashLoopBackOff, ImagePullBackOff, TooManyRestarts, ProgressDeadlineExceeded, ReadinessLost).',
      labelNames: ['namespace', 'reason'],
      registers: r,
    });
    this.timeToSafe = new client.Histogram({
      name: 'modelship_time_to_safe_seconds',
      help: 'From the change that showed a failure reaching the operator (the key entering the queue) to the routing write that put all traffic back on a healthy revision.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: r,
    });
    this.weight = new client.Gauge({
      name: 'modelship_traffic_weight',
      help: 'Traffic weight (percent) per model, version and revision, as last applied.',
      labelNames: ['namespace', 'modeldeployment', 'model', 'version', 'revision'],
      registers: r,
    });
    this.eventsLost = new client.Counter({
      name: 'modelship_events_lost_total',
      help: 'Kubernetes Events the operator could not write (failed) or dropped because too many were being written (dropped).',
      labelNames: ['why'],
      registers: r,
    });
    this.notifications = new client.Counter({
      name: 'modelship_notifications_total',
      help: 'Rollout notifications per sink and CloudEvents type, by result: delivered (2xx), failed (a non-retryable answer or every attempt used), dropped (the sink queue was full, or the operator stopped).',
      labelNames: ['sink', 'type', 'result'],
      registers: r,
    });
    this.notificationRetries = new client.Counter({
      name: 'modelship_notification_retries_total',
      help: 'Notification requests repeated after no answer, a timeout, 408, 429 or 5xx.',
      labelNames: ['sink', 'type'],
      registers: r,
    });
    this.notificationSeconds = new client.Histogram({
      name: 'modelship_notification_delivery_seconds',
      help: 'From a notification being queued to its receiver answering 2xx, retries included.',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: r,
    });
    this.leader = new client.Gauge({
      name: 'modelship_leader',
      help: '1 while this replica is the leader (or leader election is off).',
      registers: r,
    });
  }

  queueObserver(name: string): WorkQueueObserver {
    const controller = name;
    return {
      onAdd: () => this.adds.inc({ name }),
      onDepth: (n) => this.depth.set({ name }, n),
      onStart: (key, waitedMs) => {
        this.queueLatency.observe({ name }, waitedMs / 1000);
        this.waited.set(`${name}/${key}`, waitedMs);
      },
      onDone: (key, durationMs, result) => {
        this.waited.delete(`${name}/${key}`);
        this.reconcileTotal.inc({ controller, result });
        if (result === 'error') this.reconcileErrors.inc({ controller });
        this.reconcileTime.observe({ controller }, durationMs / 1000);
      },
      onRetry: () => this.retries.inc({ name }),
    };
  }

  /** Records what a reconcile decided: ended rollouts, rollbacks and their time to safe, weights. */
  recordPlan(
    md: ModelDeployment,
    plan: Plan,
    previous: ModelDeployment['status'],
    reconcileStartedAt: number,
    now: number,
  ): void {
    const ns = md.metadata?.namespace ?? '';
    const name = md.metadata?.name ?? '';
    const before = previous?.history?.length ?? 0;
    const prevLast = previous?.history?.at(-1);
    const history = plan.status.history ?? [];
    // History is capped (newest last): the new entries are those after the previous newest one.
    const start = prevLast
      ? history.findIndex((h) => h.finishedAt === prevLast.finishedAt && h.revision === prevLast.revision) + 1
      : before;
    for (const h of history.slice(Math.max(0, start))) this.rollouts.inc({ namespace: ns, result: h.result });
    const rb = plan.status.lastRollback;
    if (rb && rb.time !== previous?.lastRollback?.time) {
      this.rollbacks.inc({ namespace: ns, reason: rb.reason ?? 'Unknown' });
      const waited = this.waited.get(`modeldeployment/${ns}/${name}`) ?? 0;
      this.timeToSafe.observe((waited + (now - reconcileStartedAt)) / 1000);
    }
    for (const labels of this.weightSeries.get(`${ns}/${name}`) ?? []) this.weight.remove(labels);
    const series = plan.weights.map((w) => ({
      namespace: ns,
      modeldeployment: name,
      model: md.spec.model,
      version: w.version,
      revision: w.revision,
    }));
    plan.weights.forEach((w, i) => this.weight.set(series[i]!, w.weight));
    this.weightSeries.set(`${ns}/${name}`, series);
  }

  /** Drops the weight series of a ModelDeployment that is gone. */
  forget(namespace: string, name: string): void {
    for (const labels of this.weightSeries.get(`${namespace}/${name}`) ?? []) this.weight.remove(labels);
    this.weightSeries.delete(`${namespace}/${name}`);
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  /** An Event was not written. */
  eventLost(why: 'failed' | 'dropped'): void {
    this.eventsLost.inc({ why });
  }

  /** Counts notification deliveries (src/notify/sender.ts). */
  notifyObserver(): NotifyObserver {
    return {
      delivered: (sink, type, seconds) => {
        this.notifications.inc({ sink, type, result: 'delivered' });
        this.notificationSeconds.observe({ sink }, seconds);
      },
      retried: (sink, type) => this.notificationRetries.inc({ sink, type }),
      failed: (sink, type) => this.notifications.inc({ sink, type, result: 'failed' }),
      dropped: (sink, type) => this.notifications.inc({ sink, type, result: 'dropped' }),
    };
  }
}
