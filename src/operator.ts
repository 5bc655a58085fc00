// Wires the operator: informer caches feed two keyed work queues (ModelDeployments, ModelVersions);
// every watch only enqueues the owner's key, and the reconcilers read state from the caches.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { API_KINDS, type ModelDeployment, type ModelVersion } from './api/index.js';
import { ANNOTATION_MODEL_VERSION_NAME, FIELD_MANAGER, LABEL_DEPLOYMENT } from './core/labels.js';
import { BY_MODEL, Caches, type KindCache } from './controllers/caches.js';
import type { ReconcileDeps } from './controllers/deps.js';
import { reconcileModelDeployment } from './controllers/modeldeployment.js';
import { reconcileModelVersion } from './controllers/modelversion.js';
import { KubeClient } from './k8s/client.js';
import type { Fence } from './k8s/fence.js';
import { EventRecorder } from './k8s/events.js';
import { keyOf } from './k8s/informer.js';
import { ApiError, KubeHttp } from './k8s/kube-http.js';
import { apiPath } from './k8s/resources.js';
import { WorkQueue, type Lane, type WorkQueueObserver } from './k8s/workqueue.js';
import type { Logger } from './log.js';
import { GateRunner } from './gates/runner.js';
import { allRoutedKinds, extraRoutedKinds, kindsNeeded, routerFor } from './routers/index.js';
import type { RoutedKind } from './routers/types.js';
import type { RuntimeSettings } from './runtimes/types.js';

export interface OperatorOptions {
  kc: KubeConfig;
  log: Logger;
  namespaces?: string[];
  concurrency?: number;
  resyncMs?: number;
  unreadyGraceMs?: number;
  /**
   * How often the router CRDs are looked up again after the start (default 30 s; 0: never), so a
   * Gateway API or Istio CRD installed (or removed) later is noticed without a restart.
   */
  discoveryIntervalMs?: number;
  settings?: RuntimeSettings;
  /** Metric analysis: the Prometheus to read, and its label names for a revision's series. */
  prometheus?: ReconcileDeps['prometheus'];
  metricLabels?: ReconcileDeps['metricLabels'];
  now?: () => number;
  queueObserver?: (queue: string) => WorkQueueObserver;
  onPlan?: ReconcileDeps['onPlan'];
  onGone?: ReconcileDeps['onGone'];
  /** The pre-traffic checks' HTTP client (tests); default: the global fetch. */
  gateFetch?: typeof fetch;
  /** Whether the pre-traffic checks call the new revision's pods (loaded interface, smoke test); default true. */
  podChecks?: boolean;
  /** An Event could not be written (`failed`) or was dropped because too many were in flight. */
  onEventLost?: (why: 'failed' | 'dropped') => void;
  /** Leader election's fence: every write of the reconcilers goes through it (src/k8s/fence.ts). */
  fence?: Fence;
}

/** How long the start waits for the cache of a kind only some settings need (extraKinds) to sync. */
const EXTRA_KIND_SYNC_MS = 10_000;

export class Operator {
  readonly mdQueue: WorkQueue;
  readonly mvQueue: WorkQueue;
  /** The pre-traffic checks in flight and their verdicts (src/gates); a finished one enqueues its key. */
  private readonly gateRunner: GateRunner;
  private caches: Caches | undefined;
  private readonly client: KubeClient;
  /** Ends the periodic router discovery. */
  private readonly discovery = new AbortController();
  readonly events: EventRecorder;

  constructor(private readonly opts: OperatorOptions) {
    this.client = new KubeClient(opts.kc, {
      fieldManager: FIELD_MANAGER,
      // The kinds the reconciles write besides Kubernetes' own: the API's and every router's.
      kinds: [...API_KINDS, ...allRoutedKinds()],
      ...(opts.fence ? { fence: opts.fence } : {}),
    });
    this.events = new EventRecorder(this.client, {
      onLost: (info) => {
        opts.onEventLost?.(info.why);
        opts.log.warn(
          info.why === 'dropped' ? 'Event dropped: too many being written' : 'could not record an Event',
          { key: info.key, reason: info.reason, ...(info.error ? { error: info.error } : {}) },
        );
      },
    });
    const onError = (queue: string) => (key: string, err: unknown) => {
      // 409: the object changed under this reconcile (a conditional status write); the key is
      // simply reconciled again from fresh state, which is routine, not a warning.
      const conflict = err instanceof ApiError && err.code === 409;
      opts.log.log(
        conflict ? 'debug' : 'warn',
        conflict ? 'conflict; reconciling again' : 'reconcile failed; retrying with back-off',
        {
          queue,
          key,
          error: (err as Error).message,
        },
      );
    };
    this.mdQueue = new WorkQueue({
      name: 'modeldeployment',
      onError: onError('modeldeployment'),
      ...(opts.queueObserver ? { observer: opts.queueObserver('modeldeployment') } : {}),
    });
    this.mvQueue = new WorkQueue({
      name: 'modelversion',
      onError: onError('modelversion'),
      ...(opts.queueObserver ? { observer: opts.queueObserver('modelversion') } : {}),
    });
    this.gateRunner = new GateRunner({ enqueue: (key) => this.mdQueue.add(key), now: opts.now ?? Date.now });
  }

  /** Caches, then workers: what a process without leader election does. */
  async start(signal?: AbortSignal): Promise<void> {
    await this.startCaches(signal);
    this.startWorkers();
  }

  /**
   * Discovers the router CRDs, starts the caches and waits for them to sync. Standby replicas do
   * this too, so they are ready (and warm) when they take over.
   */
  async startCaches(signal?: AbortSignal): Promise<void> {
    const { log } = this.opts;
    const http = new KubeHttp(this.opts.kc);
    const served = await discoverKinds(http, allRoutedKinds(), log);
    // A router's own kinds are waited for at start, as every other cache. A kind only some settings
    // need (TraefikService) is not: a cluster may serve it without the operator being allowed to list
    // it (Traefik installs its CRDs; an older ClusterRole has no rule for them), and that must not hold
    // every ModelDeployment back. It is added as a kind found later is, waited for a little.
    const extra = new Set(extraRoutedKinds().map((k) => k.kind));
    const routedKinds = allRoutedKinds().filter((k) => served.get(k.kind) === 'served' && !extra.has(k.kind));
    const extraServed = allRoutedKinds().filter((k) => served.get(k.kind) === 'served' && extra.has(k.kind));
    const caches = new Caches(this.opts.kc, {
      ...(this.opts.namespaces ? { namespaces: this.opts.namespaces } : {}),
      resyncMs: this.opts.resyncMs ?? 5 * 60_000,
      routedKinds,
      // Watch errors and relists go to the operator's own log, in its format.
      observer: {
        onError: (err, info) =>
          log.warn('watch error; retrying', {
            path: info.path,
            phase: info.phase,
            retryInMs: info.retryInMs,
            error: err.message,
          }),
        onList: (info) => {
          if (info.reason !== 'initial')
            log.info('relisted', { path: info.path, reason: info.reason, items: info.items });
        },
      },
    });
    this.caches = caches;
    this.wire(caches);
    caches.start();
    await caches.waitForSync(signal);
    const pending = extraServed.map((k) =>
      caches
        .addRouteKind(k, (cache) => this.wireChild(cache))
        .then((added) => {
          if (added) this.requeueRoutedBy(k.kind);
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(pending),
      new Promise<void>((res) => {
        timer = setTimeout(res, EXTRA_KIND_SYNC_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    for (const k of extraServed.filter((k) => !caches.routes.has(k.kind)))
      log.warn(
        'router kind served but not synced; ModelDeployments that need it will say so (can the operator list it?)',
        {
          kind: k.kind,
          apiVersion: k.apiVersion,
        },
      );
    log.info('caches synced', {
      namespaces: this.opts.namespaces?.join(',') || 'all',
      routers: [...caches.routes.keys()].join(','),
    });
    this.watchRouterKinds(http, caches);
  }

  /**
   * Looks the router kinds up again every discoveryIntervalMs: a CRD installed after the start gets
   * an informer (and the ModelDeployments that need it are reconciled once its cache has synced); a
   * CRD deleted has its informer stopped (its ModelDeployments then report RouterUnavailable).
   * Discovery (GET /apis/<group>/<version>) needs no RBAC rule, unlike a watch of
   * CustomResourceDefinitions, which a namespaced install may not have.
   */
  private watchRouterKinds(http: KubeHttp, caches: Caches): void {
    const interval = this.opts.discoveryIntervalMs ?? 30_000;
    if (interval <= 0) return;
    const { signal } = this.discovery;
    const tick = async (): Promise<void> => {
      // At debug level: a kind that stays absent would otherwise log every interval.
      const served = await discoverKinds(http, allRoutedKinds(), this.opts.log, signal, 'debug');
      for (const k of allRoutedKinds()) {
        if (signal.aborted) return;
        const state = served.get(k.kind);
        const watched = caches.routes.has(k.kind) || caches.isRouteKindPending(k.kind);
        if (state === 'served' && !watched) {
          this.opts.log.info('router kind now served; watching it', {
            kind: k.kind,
            apiVersion: k.apiVersion,
          });
          void caches
            .addRouteKind(k, (cache) => this.wireChild(cache))
            .then((added) => {
              if (!added) return;
              this.opts.log.info('router kind available; reconciling the ModelDeployments that need it', {
                kind: k.kind,
              });
              this.requeueRoutedBy(k.kind);
            });
        } else if (state === 'absent' && watched) {
          // Only a definite answer (404, or a group version without the resource) stops the
          // watch: a discovery call that failed says nothing about the CRD.
          await caches.removeRouteKind(k.kind);
          this.opts.log.warn('router kind no longer served; ModelDeployments that need it will say so', {
            kind: k.kind,
            apiVersion: k.apiVersion,
          });
          this.requeueRoutedBy(k.kind);
        }
      }
    };
    const schedule = (): void => {
      if (signal.aborted) return;
      const timer = setTimeout(() => {
        tick()
          .catch((err: unknown) =>
            this.opts.log.warn('router discovery failed; trying again', { error: (err as Error).message }),
          )
          .finally(schedule);
      }, interval);
      timer.unref();
      signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    };
    schedule();
  }

  /** Queues every ModelDeployment whose router writes `kind`. */
  private requeueRoutedBy(kind: string): void {
    for (const md of this.caches?.modelDeployments.list() ?? []) {
      let needs = false;
      try {
        needs = kindsNeeded(routerFor(md), md).some((k) => k.kind.kind === kind);
      } catch {
        // An unknown router: its reconcile reports InvalidRouter, whatever the kinds.
      }
      if (needs) this.mdQueue.add(keyOf(md));
    }
  }

  /** Starts reconciling (on the leader only, with leader election). */
  startWorkers(): void {
    const caches = this.caches;
    if (!caches) throw new Error('startWorkers before startCaches');
    const deps: ReconcileDeps = {
      caches,
      client: this.client,
      events: this.events,
      log: this.opts.log,
      settings: this.opts.settings ?? {},
      unreadyGraceMs: this.opts.unreadyGraceMs ?? 10_000,
      now: this.opts.now ?? Date.now,
      ...(this.opts.prometheus ? { prometheus: this.opts.prometheus } : {}),
      ...(this.opts.metricLabels ? { metricLabels: this.opts.metricLabels } : {}),
      ...(this.opts.onPlan ? { onPlan: this.opts.onPlan } : {}),
      ...(this.opts.onGone ? { onGone: this.opts.onGone } : {}),
      gates: {
        runner: this.gateRunner,
        fetch: this.opts.gateFetch ?? fetch,
        podChecks: this.opts.podChecks ?? true,
        now: this.opts.now ?? Date.now,
      },
    };
    const concurrency = this.opts.concurrency ?? 4;
    this.mdQueue.run((key) => reconcileModelDeployment(deps, key), { concurrency });
    this.mvQueue.run((key) => reconcileModelVersion(deps, key), {
      concurrency: Math.max(1, Math.floor(concurrency / 2)),
    });
  }

  hasSynced(): boolean {
    return this.caches?.hasSynced() ?? false;
  }

  /** Stops taking keys, lets the ones in flight finish, then stops the watches. */
  async stop(): Promise<void> {
    this.discovery.abort();
    await Promise.all([this.mdQueue.shutdown(), this.mvQueue.shutdown()]);
    this.gateRunner.stop();
    await this.events.drain();
    await this.caches?.stop();
  }

  private wire(c: Caches): void {
    // Lanes (src/k8s/workqueue.ts): work under way (an edit, a child's change, a requeue, a
    // ModelVersion's spec or deletion) is `high` and served first; a ModelDeployment seen for the
    // first time (its add event, the initial list), a ModelVersion of its model appearing and a
    // ModelVersion's status change are `low`. The last because the ModelVersion controller writes a
    // version's status when a ModelDeployment first names it: as `high`, that moved every
    // ModelDeployment of a burst out of `low` before its first reconcile, and the lanes were one
    // FIFO again (docs/benchmarks.md, "Status lag"). The periodic resync, a re-read of objects no
    // event has changed, is `background`: in `low` it put every cached ModelDeployment ahead of the
    // first deploys that came after it (docs/benchmarks.md, "Resync in the background").
    const md = (o: KubernetesObject, lane: Lane = 'high') => this.mdQueue.add(keyOf(o), lane);
    const mv = (o: KubernetesObject, lane: Lane = 'high') => this.mvQueue.add(keyOf(o), lane);
    // A ModelDeployment change may change who uses which ModelVersion (old and new spec).
    const mvsOfModel = (ns: string | undefined, model: string | undefined) => {
      if (!ns || !model) return;
      for (const v of c.modelVersions.byIndex(BY_MODEL, ns, model)) mv(v);
    };
    const onMd = (o: ModelDeployment, lane: Lane = 'high') => {
      md(o, lane);
      mvsOfModel(o.metadata?.namespace, o.spec?.model);
    };
    c.modelDeployments.on('add', (o) => onMd(o, 'low'));
    c.modelDeployments.on('update', (old, cur) => {
      onMd(cur);
      if (old.spec?.model !== cur.spec?.model) mvsOfModel(old.metadata?.namespace, old.spec?.model);
    });
    c.modelDeployments.on('delete', (o) => onMd(o));
    c.modelDeployments.on('resync', (o) => md(o, 'background'));

    const onMv = (o: ModelVersion, lane: Lane = 'high') => {
      mv(o);
      const ns = o.metadata?.namespace;
      if (ns && o.spec?.model)
        for (const d of c.modelDeployments.byIndex(BY_MODEL, ns, o.spec.model)) md(d, lane);
    };
    c.modelVersions.on('add', (o) => onMv(o, 'low'));
    c.modelVersions.on('update', (old, cur) => onMv(cur, statusOnly(old, cur) ? 'low' : 'high'));
    c.modelVersions.on('delete', (o) => onMv(o));
    c.modelVersions.on('resync', (o) => mv(o, 'background'));

    const children = [
      c.deployments,
      c.services,
      c.configMaps,
      c.pods,
      c.endpointSlices,
      ...c.routes.values(),
    ];
    for (const cache of children) this.wireChild(cache as unknown as KindCache<KubernetesObject>);
  }

  /**
   * Children and pods only enqueue their ModelDeployment's key (and, for Deployments, the
   * ModelVersion they were built from, whose usedBy may change with their size).
   */
  private wireChild(cache: KindCache<KubernetesObject>): void {
    const owner = (o: KubernetesObject) => {
      const name = o.metadata?.labels?.[LABEL_DEPLOYMENT];
      if (name && o.metadata?.namespace) this.mdQueue.add(`${o.metadata.namespace}/${name}`);
      const mvName = o.metadata?.annotations?.[ANNOTATION_MODEL_VERSION_NAME];
      if (mvName && o.kind === 'Deployment' && o.metadata?.namespace)
        this.mvQueue.add(`${o.metadata.namespace}/${mvName}`);
    };
    cache.on('add', owner);
    cache.on('update', (_old, cur) => owner(cur ?? _old));
    cache.on('delete', owner);
  }
}

/** Only the status changed: the same generation (spec) and the same deletion state. */
function statusOnly(old: KubernetesObject, cur: KubernetesObject): boolean {
  return (
    old.metadata?.generation === cur.metadata?.generation &&
    !!old.metadata?.deletionTimestamp === !!cur.metadata?.deletionTimestamp
  );
}

/** What discovery says of a router kind: served, not served, or nothing (the call failed). */
type KindState = 'served' | 'absent' | 'unknown';

/**
 * Router CRDs (Gateway API, Istio) are optional: only the kinds the apiserver serves get informers;
 * a ModelDeployment asking for a missing one gets a RouterUnavailable condition instead of a crash.
 * A 404 for the group version, or a list without the resource, is `absent`; any other failure
 * (the apiserver restarting, an aggregated API down) is `unknown`, and changes nothing.
 */
async function discoverKinds(
  http: KubeHttp,
  kinds: RoutedKind[],
  log: Logger,
  signal?: AbortSignal,
  level: 'info' | 'debug' = 'info',
): Promise<Map<string, KindState>> {
  const found = new Map<string, KindState>();
  for (const k of kinds) {
    try {
      const list = await http.request<{ resources?: Array<{ name: string }> }>('GET', apiPath(k.apiVersion), {
        ...(signal ? { signal } : {}),
      });
      found.set(k.kind, list?.resources?.some((r) => r.name === k.plural) ? 'served' : 'absent');
    } catch (err) {
      const absent = err instanceof ApiError && err.code === 404;
      found.set(k.kind, absent ? 'absent' : 'unknown');
      log.log(level, 'router kind not served; ModelDeployments that need it will say so', {
        kind: k.kind,
        apiVersion: k.apiVersion,
        reason: (err as Error).message.slice(0, 200),
      });
    }
  }
  return found;
}
