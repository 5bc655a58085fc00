// reconcile(ModelDeployment key): observe the caches, ask the pure core for a plan, apply the
// difference, record what changed. Safe to run at any time, any number of times: every write is
// skipped when the world already matches, so a settled cluster costs no API writes.
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1Deployment, V1Service } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import { API_VERSION, MODEL_DEPLOYMENT_KIND } from '../api/index.js';
import { deepEqual } from '../core/equal.js';
import {
  ANNOTATION_APPLIED,
  ANNOTATION_RUNTIME,
  LABEL_DEPLOYMENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_MODEL,
  LABEL_NAME,
  LABEL_PART_OF,
  LABEL_REVISION,
  MANAGED_BY,
  revisionObjectName,
} from '../core/labels.js';
import type { Plan, Resolution } from '../core/plan.js';
import { planRollout, readRequests } from '../core/plan.js';
import { ownerReference, renderRevision, type RenderedRevision } from '../core/revision.js';
import { resolveSpec } from '../core/spec.js';
import type { KubeClient } from '../k8s/client.js';
import type { EventRecorder } from '../k8s/events.js';
import { ApiError, isNamespaceTerminating } from '../k8s/kube-http.js';
import { splitKey } from '../k8s/informer.js';
import type { ReconcileResult } from '../k8s/workqueue.js';
import type { Logger } from '../log.js';
import { routerFor } from '../routers/index.js';
import type { TrafficRouter } from '../routers/types.js';
import type { RuntimeSettings } from '../runtimes/types.js';
import { BY_MODEL, type Caches } from './caches.js';
import { resolveModelVersion, toObservedRevisions } from './observe.js';

export interface ReconcileDeps {
  caches: Caches;
  client: KubeClient;
  /** Where Events go: written in the background, off the reconcile's critical path. */
  events: Pick<EventRecorder, 'record'>;
  log: Logger;
  settings: RuntimeSettings;
  unreadyGraceMs: number;
  now: () => number;
  /** Called when the ModelDeployment is gone (metrics forget its series). */
  onGone?: (namespace: string, name: string) => void;
  /** Called after a plan was applied (metrics); `startedAt` is when this reconcile began. */
  onPlan?: (md: ModelDeployment, plan: Plan, previous: ModelDeployment['status'], startedAt: number) => void;
}

export async function reconcileModelDeployment(deps: ReconcileDeps, key: string): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  const md = deps.caches.modelDeployments.get(namespace, name);
  // Deleted: the children carry owner references, so the garbage collector removes them.
  if (!md || !namespace || md.metadata?.deletionTimestamp) {
    if (namespace) deps.onGone?.(namespace, name);
    return;
  }

  const startedAt = deps.now();
  const world = observe(deps, md, namespace);
  const planFor = (desired: Resolution) =>
    planRollout({
      md,
      desired,
      revisions: world.revisions,
      appliedWeights: world.appliedWeights,
      exactWeights: world.router?.exactWeights ?? true,
      requests: readRequests(md),
      now: startedAt,
      unreadyGraceMs: deps.unreadyGraceMs,
    });
  let plan = planFor(world.desired);

  try {
    if ((await applyPlan(deps, md, plan, world)) === 'workload-only') {
      // Nothing is recorded yet (see applyPlan): the next reconcile, which the new Deployment's
      // watch event brings, writes the Services and routing and then the status and Events of
      // this same plan. The requeue only guards against that event never coming.
      return { requeueAfterMs: 1000 };
    }
  } catch (err) {
    // The namespace is being deleted: its controller deletes this ModelDeployment too, and no child
    // can be made again in it. Retrying would only repeat the refusal (thousands of times when a
    // namespace with many ModelDeployments goes), so this reconcile ends quietly and is not retried.
    if (isNamespaceTerminating(err)) {
      deps.log.debug('namespace terminating; nothing to reconcile', { key, reason: 'NamespaceTerminating' });
      return;
    }
    // 422: the apiserver refused an object rendered from this spec (pod labels, annotations or
    // env references that the CRD schema lets through but a Deployment cannot carry). Only a spec
    // change can fix that: report it as a condition and hold the world, instead of retrying forever.
    if (!(err instanceof ApiError && err.code === 422)) throw err;
    const message = `the apiserver refused an object rendered from this ModelDeployment (${err.message}); fix spec.pod`;
    plan = planFor({ ok: false, reason: 'InvalidPodSpec', message });
    const before = md.status?.conditions?.find((c) => c.type === 'Degraded');
    if (before?.reason !== 'InvalidPodSpec')
      plan.events.push({ type: 'Warning', reason: 'InvalidPodSpec', message });
  }
  await recordPlan(deps, md, plan);
  deps.onPlan?.(md, plan, md.status, startedAt);
  return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
}

interface World {
  desired: Resolution;
  rendered: RenderedRevision | undefined;
  router: TrafficRouter | undefined;
  revisions: ReturnType<typeof toObservedRevisions>;
  deployments: V1Deployment[];
  routeObjects: KubernetesObject[];
  appliedWeights: Map<string, number> | undefined;
}

function observe(deps: ReconcileDeps, md: ModelDeployment, ns: string): World {
  const name = md.metadata!.name!;
  // The children of this ModelDeployment, by the caches' index on its label.
  const deployments = deps.caches.deployments.byLabel(ns, name);
  const revisions = toObservedRevisions(md, deployments, deps.caches.pods.byLabel(ns, name));
  const routeObjects: KubernetesObject[] = [
    ...deps.caches.services.byLabel(ns, name),
    ...[...deps.caches.routes.values()].flatMap((c) => c.byLabel(ns, name)),
  ];

  let router: TrafficRouter | undefined;
  let desired: Resolution | undefined;
  try {
    router = routerFor(md);
    const missing = router.kinds.find((k) => !deps.caches.routes.has(k.kind));
    if (missing) {
      desired = {
        ok: false,
        reason: 'RouterUnavailable',
        message: `traffic.router ${router.name} needs the ${missing.kind} CRD (${missing.apiVersion}), which is not installed in this cluster (or the operator cannot list it); install it and restart the operator, or choose another router`,
      };
    }
  } catch (err) {
    desired = { ok: false, reason: 'InvalidRouter', message: (err as Error).message };
  }

  const stable = md.status?.stableRevision;
  const servingRuntime = deployments.find((d) => d.metadata?.labels?.[LABEL_REVISION] === stable)?.metadata
    ?.annotations?.[ANNOTATION_RUNTIME];
  let rendered: RenderedRevision | undefined;
  if (!desired) {
    const found = resolveModelVersion(
      md,
      deps.caches.modelVersions.byIndex(BY_MODEL, ns, md.spec.model),
      servingRuntime,
      () => deps.caches.modelVersions.list(ns),
    );
    if ('mv' in found) {
      try {
        rendered = renderRevision({ md, mv: found.mv, settings: deps.settings, replicas: 0 });
        desired = { ok: true, revision: { hash: rendered.hash, version: found.mv.spec.version } };
      } catch (err) {
        const reason = (err as { reason?: string }).reason ?? 'InvalidModelVersion';
        desired = { ok: false, reason, message: (err as Error).message };
      }
    } else {
      desired = found;
    }
  }
  const appliedWeights = router?.readWeights(routeObjects, md);
  return { desired, rendered, router, revisions, deployments, routeObjects, appliedWeights };
}

/**
 * Writes in the order that keeps traffic safe while the writes land: first everything that grows
 * (new revisions, scale-ups), then the routing, then what shrinks or goes away. Writes within one
 * of those stages do not depend on each other and go out together: a reconcile waits for the API
 * about once per stage, not once per object.
 */
async function applyPlan(
  deps: ReconcileDeps,
  md: ModelDeployment,
  plan: Plan,
  world: World,
): Promise<'workload-only' | undefined> {
  const ns = md.metadata!.namespace!;
  const name = md.metadata!.name!;
  const live = new Map(world.deployments.map((d) => [d.metadata?.labels?.[LABEL_REVISION] ?? '', d]));
  // A revision whose Service is missing (a first deploy's, made in the reconcile after its
  // Deployment) counts as growing: its Service is in place before any routing names it.
  const serviceMissing = (hash: string): boolean =>
    !!world.rendered &&
    hash === world.rendered.hash &&
    !deps.caches.services.get(ns, world.rendered.service.metadata!.name!);
  const grows = plan.revisions.filter(
    (r) =>
      (live.get(r.hash)?.spec?.replicas ?? -1) < r.replicas || !live.has(r.hash) || serviceMissing(r.hash),
  );
  const shrinks = plan.revisions.filter((r) => !grows.includes(r));

  const routing = () => [
    world.router && plan.weights.length
      ? applyRouting(deps, md, plan, world.router, world.routeObjects)
      : undefined,
    applyPreview(deps, md, plan, world.routeObjects),
  ];
  if (live.size === 0 && grows.length > 0) {
    // A first deploy writes its workload (ConfigMap and Deployment) alone and records nothing yet.
    // The next reconcile, which the new Deployment's watch event starts, writes the Services and the
    // routing, then the status and Events: status never names traffic on routing that does not
    // exist, and nothing could be served before the pods are Ready anyway. The reason: creating a
    // Service allocates a ClusterIP, which the apiserver does one at a time for the whole cluster
    // (seconds each under load), so a first deploy that waited for its Services held a worker for
    // them. At 1,000 ModelDeployments applied at once, that paced every revision Deployment behind
    // the allocations, and the cluster did more work in all (docs/benchmarks.md, run 5).
    await all(grows.map((r) => applyRevision(deps, md, r, world, live, 'workload')));
    return 'workload-only';
  }
  await all(grows.map((r) => applyRevision(deps, md, r, world, live)));
  await all(routing());
  await all(shrinks.map((r) => applyRevision(deps, md, r, world, live)));
  await all(
    plan.deleteRevisions.map(async (hash) => {
      const child = revisionObjectName(name, hash);
      await all([
        deps.client.delete('apps/v1', 'Deployment', ns, child),
        deps.client.delete('v1', 'Service', ns, child),
        deps.client.delete('v1', 'ConfigMap', ns, child),
      ]);
      deps.log.info('revision deleted', {
        key: `${ns}/${name}`,
        revision: hash,
        reason: 'RevisionHistoryLimit',
      });
    }),
  );
}

/**
 * Waits for every write (unlike Promise.all, also after one has failed, so no write of this stage is
 * still in flight when the next stage or the next reconcile starts), then throws the first error.
 */
async function all(writes: Array<Promise<unknown> | undefined>): Promise<void> {
  const results = await Promise.allSettled(writes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function applyRevision(
  deps: ReconcileDeps,
  md: ModelDeployment,
  r: Plan['revisions'][number],
  world: World,
  live: Map<string, V1Deployment>,
  only?: 'workload',
): Promise<void> {
  const current = live.get(r.hash);
  const ns = md.metadata!.namespace!;
  if (world.rendered && r.hash === world.rendered.hash) {
    // The desired revision is rendered in full; each object is written only if it differs from
    // what modelship last applied (or was changed by someone else: replicas).
    const fresh = world.rendered;
    const deployment: V1Deployment = {
      ...fresh.deployment,
      spec: { ...fresh.deployment.spec!, replicas: r.replicas },
    };
    // The three go out together: a pod that starts before its ConfigMap exists waits for the
    // volume (the kubelet retries the mount), and nothing routes to the revision before it is Ready.
    const cm = deps.caches.configMaps.get(ns, fresh.configMap.metadata!.name!);
    await all([
      cm ? undefined : deps.client.apply(fresh.configMap),
      only === 'workload'
        ? undefined
        : applyIfChanged(
            deps,
            fresh.service,
            deps.caches.services.get(ns, fresh.service.metadata!.name!),
          ).then((written) => written && deps.caches.services.observeWrite(written)),
      applyIfChanged(
        deps,
        deployment,
        current,
        (l) => (l as V1Deployment).spec?.replicas === r.replicas,
      ).then((written) => written && deps.caches.deployments.observeWrite(written)),
    ]);
    return;
  }
  // An earlier revision keeps the pod template it was made with; only its size changes ...
  const resize =
    current && current.spec?.replicas !== r.replicas
      ? deps.client
          .mergePatch<V1Deployment>('apps/v1', 'Deployment', ns, current.metadata!.name!, {
            spec: { replicas: r.replicas },
          })
          .then((written) => deps.caches.deployments.observeWrite(written))
      : undefined;
  // ... and its Service follows spec.traffic.port, which the routers send every revision's traffic to.
  const svc = deps.caches.services.get(ns, revisionObjectName(md.metadata!.name!, r.hash));
  const port = resolveSpec(md).port;
  const ports = svc?.spec?.ports ?? [];
  const repoint =
    svc && ports.some((p) => p.name === 'http' && p.port !== port)
      ? deps.client
          .mergePatch<V1Service>('v1', 'Service', ns, svc.metadata!.name!, {
            spec: { ports: ports.map((p) => (p.name === 'http' ? { ...p, port } : p)) },
          })
          .then((written) => deps.caches.services.observeWrite(written))
      : undefined;
  await all([resize, repoint]);
}

async function applyRouting(
  deps: ReconcileDeps,
  md: ModelDeployment,
  plan: Plan,
  router: TrafficRouter,
  routeObjects: KubernetesObject[],
): Promise<void> {
  const name = md.metadata!.name!;
  const spec = resolveSpec(md);
  const objects = router.render({
    md,
    weights: plan.weights.map((w) => ({ ...w, service: revisionObjectName(name, w.revision) })),
    labels: routingLabels(md),
    ownerReference: ownerReference(md),
    port: spec.port,
    targetPortName: 'http',
  });
  const rendered = new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
  const liveWeights = router.readWeights(routeObjects, md);
  const planned = new Map(plan.weights.map((w) => [w.revision, w.weight]));
  const drifted = !liveWeights || !deepEqual(Object.fromEntries(liveWeights), Object.fromEntries(planned));
  await all(
    objects.map((o) => {
      const current = routeObjects.find((x) => x.kind === o.kind && x.metadata?.name === o.metadata?.name);
      return applyIfChanged(deps, o, current, () => !drifted);
    }),
  );
  // Objects of a router the ModelDeployment no longer uses (traffic.router changed): after the new
  // router's objects are in place.
  await all(
    routeObjects
      .filter((o) => o.kind !== 'Service' && !rendered.has(`${o.kind}/${o.metadata?.name}`))
      .filter((o) => o.metadata?.name === name)
      .map((o) => deps.client.delete(o.apiVersion!, o.kind!, o.metadata!.namespace!, o.metadata!.name!)),
  );
}

async function applyPreview(
  deps: ReconcileDeps,
  md: ModelDeployment,
  plan: Plan,
  routeObjects: KubernetesObject[],
): Promise<void> {
  const name = `${md.metadata!.name}-preview`;
  const ns = md.metadata!.namespace!;
  const current = routeObjects.find((o) => o.kind === 'Service' && o.metadata?.name === name);
  if (!plan.previewRevision) {
    if (current) await deps.client.delete('v1', 'Service', ns, name);
    return;
  }
  const svc: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: routingLabels(md), ownerReferences: [ownerReference(md)] },
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL_DEPLOYMENT]: md.metadata!.name!, [LABEL_REVISION]: plan.previewRevision },
      ports: [{ name: 'http', port: resolveSpec(md).port, targetPort: 'http' as unknown as number }],
    },
  };
  await applyIfChanged(deps, svc, current);
}

function routingLabels(md: ModelDeployment): Record<string, string> {
  return {
    [LABEL_NAME]: md.spec.model,
    [LABEL_INSTANCE]: md.metadata!.name!,
    [LABEL_PART_OF]: 'modelship',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_DEPLOYMENT]: md.metadata!.name!,
    [LABEL_MODEL]: md.spec.model,
  };
}

/**
 * Server-side applies `obj` unless the live object carries the same applied-hash annotation (and
 * `stillGood`, for fields others may change, holds): the steady state writes nothing.
 */
async function applyIfChanged<T extends KubernetesObject>(
  deps: ReconcileDeps,
  obj: T,
  current: KubernetesObject | undefined,
  stillGood: (live: KubernetesObject) => boolean = () => true,
): Promise<T | undefined> {
  const hash = createHash('sha256').update(JSON.stringify(obj)).digest('hex').slice(0, 16);
  if (current && current.metadata?.annotations?.[ANNOTATION_APPLIED] === hash && stillGood(current))
    return undefined;
  const body = {
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [ANNOTATION_APPLIED]: hash } },
  };
  return deps.client.apply(body);
}

/** Status (only when it changed), Events, and one log line per decision. */
async function recordPlan(deps: ReconcileDeps, md: ModelDeployment, plan: Plan): Promise<void> {
  const key = `${md.metadata!.namespace}/${md.metadata!.name}`;
  const before = md.status ?? {};
  if (!deepEqual(before, plan.status)) {
    // The resourceVersion makes the write conditional: a plan made from a ModelDeployment that has
    // changed since (a spec edit, or a status we wrote a moment ago that the cache has not seen yet)
    // fails with 409 and the key is reconciled again from fresh state, instead of overwriting newer
    // status with older decisions.
    const written = await deps.client.apply(
      {
        apiVersion: API_VERSION,
        kind: MODEL_DEPLOYMENT_KIND,
        metadata: {
          name: md.metadata!.name!,
          namespace: md.metadata!.namespace!,
          resourceVersion: md.metadata!.resourceVersion!,
        },
        status: plan.status,
      } as KubernetesObject,
      'status',
    );
    deps.caches.modelDeployments.observeWrite(written as ModelDeployment);
    if (before.phase !== plan.status.phase || before.stableRevision !== plan.status.stableRevision) {
      deps.log.info('rollout state', {
        key,
        from: before.phase ?? 'New',
        to: plan.status.phase,
        stable: plan.status.stableVersion,
        canary: plan.status.canaryVersion,
        revision: plan.status.canaryRevision ?? plan.status.stableRevision,
        traffic: plan.weights.map((w) => `${w.version}=${w.weight}`).join(','),
        reason: plan.status.conditions?.find((c) => c.type === 'Ready')?.reason,
      });
    }
  }
  // Events are recorded after the status they explain is written (a 409 above re-plans without
  // them) and written in the background: an Event is a notice, not state, and must never hold the
  // reconcile back or fail it.
  for (const e of plan.events) {
    deps.log.log(e.type === 'Warning' ? 'warn' : 'info', e.message, { key, reason: e.reason, event: e.type });
    deps.events.record(md, e.type, e.reason, e.message);
  }
}
