// reconcile(ModelDeployment key): observe the caches, ask the pure core for a plan and the desired
// state step for the writes, execute them, record what changed. Safe to run at any time, any number
// of times: every write is skipped when the world already matches, so a settled cluster costs no API
// writes; and no write ever lands on an object this ModelDeployment did not create.
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { measureAnalysis } from '../analysis/measure.js';
import type { ModelDeployment, ModelVersion, ModelVersionSpecInterface } from '../api/index.js';
import { API_VERSION, MODEL_DEPLOYMENT_KIND } from '../api/index.js';
import { DEFAULT_METRIC_LABELS } from '../core/analysis/queries.js';
import type { AnalysisInput } from '../core/analysis/verdict.js';
import { deepEqual } from '../core/equal.js';
import {
  ANNOTATION_MODEL_VERSION_NAME,
  ANNOTATION_RUNTIME,
  ANNOTATION_VERSION,
  LABEL_REVISION,
  mdKey,
} from '../core/labels.js';
import {
  controlledBy,
  describeController,
  nameConflictMessage,
  type NameConflict,
} from '../core/ownership.js';
import type { Plan, Resolution } from '../core/plan.js';
import { planRollout, readRequests } from '../core/plan.js';
import { resolveModelVersion } from '../core/model-version.js';
import { toObservedRevisions } from '../core/observed.js';
import { renderRevision, type RenderedRevision } from '../core/revision.js';
import { claimedNames } from '../desired/claims.js';
import { desire } from '../desired/desire.js';
import type { Desired } from '../desired/types.js';
import { observeExperiment } from '../experiments/observe.js';
import { observeGates } from '../gates/observe.js';
import { isNotFound } from '../k8s/client.js';
import { formatPath } from '../k8s/managed-fields.js';
import { isNamespaceTerminating } from '../k8s/kube-http.js';
import { splitKey } from '../k8s/informer.js';
import type { ReconcileResult } from '../k8s/workqueue.js';
import { kindsNeeded, routerFor } from '../routers/index.js';
import type { TrafficRouter } from '../routers/types.js';
import { specDrift } from './cache-shape.js';
import { BY_DEPLOYMENT, BY_MODEL } from './caches.js';
import type { ReconcileDeps } from './deps.js';
import { execute, NameConflictError, WriteError } from './execute.js';
import { observeProcessing, processingCopies } from './processing.js';

/**
 * How often a ModelDeployment held by a name conflict looks again. The object in the way is often
 * not modelship's (no label), so no watch event says when it goes.
 */
export const NAME_CONFLICT_RECHECK_MS = 10_000;

export async function reconcileModelDeployment(deps: ReconcileDeps, key: string): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  const md = deps.caches.modelDeployments.get(namespace, name);
  // Deleted: the children carry owner references, so the garbage collector removes them.
  if (!md || !namespace || md.metadata?.deletionTimestamp) {
    if (namespace) deps.onGone?.(namespace, name);
    deps.gates?.runner.forget(key);
    return;
  }

  const startedAt = deps.now();
  const world = await observeWorld(deps, md, namespace);
  let recheckMs: number | undefined;
  if (world.desired.ok) {
    const conflicts = await observeClaims(deps, md, namespace, world);
    if (conflicts.length) {
      world.desired = {
        ok: false,
        reason: 'NameConflict',
        message: nameConflictMessage(namespace, conflicts),
      };
      recheckMs = NAME_CONFLICT_RECHECK_MS;
    }
  }
  const analysis = await observeAnalysis(deps, md, world, startedAt);
  // An experiment's arms (found, rendered) and the comparison's numbers (src/experiments).
  const experiment = await observeExperiment(deps, md, world.deployments, startedAt);
  // The pre-traffic checks run in the background (src/gates): this reads their verdicts so far.
  const gates =
    deps.gates && world.desired.ok && world.mv
      ? observeGates(deps.gates, {
          md,
          revision: world.desired.revision.hash,
          mv: world.mv,
          slices: deps.caches.endpointSlices.byIndex(BY_DEPLOYMENT, namespace, name),
        })
      : undefined;
  const planFor = (desired: Resolution) =>
    planRollout({
      md,
      desired,
      revisions: world.revisions,
      appliedWeights: world.appliedWeights,
      exactWeights: world.router?.exactWeights ?? true,
      routing: world.router && { cohorts: world.router.matches, mirror: world.router.mirrors },
      requests: readRequests(md),
      now: startedAt,
      unreadyGraceMs: deps.unreadyGraceMs,
      analysis,
      interfaces: world.interfaces,
      gates,
      experiment: experiment?.input,
    });
  let plan = planFor(world.desired);
  if (!world.desired.ok && world.desired.reason === 'NameConflict') warnOnce(md, plan, world.desired);

  try {
    const desired = desireFor(deps, md, plan, world, experiment?.rendered ?? []);
    if (desired.conflicts.length) {
      // Known from the caches before any write: nothing is written, the world is held.
      throw new NameConflictError(desired.conflicts[0]!, desired.conflicts);
    }
    await execute(deps, md, desired);
    recordDrift(deps, md, desired);
  } catch (err) {
    // The namespace is being deleted: its controller deletes this ModelDeployment too, and no child
    // can be made again in it. Retrying would only repeat the refusal (thousands of times when a
    // namespace with many ModelDeployments goes), so this reconcile ends quietly and is not retried.
    if (isNamespaceTerminating(err)) {
      deps.log.debug('namespace terminating; nothing to reconcile', { key, reason: 'NamespaceTerminating' });
      return;
    }
    const held = holdFor(err, md, namespace);
    if (!held) throw err;
    plan = planFor({ ok: false, reason: held.reason, message: held.message });
    recheckMs = held.recheckMs;
    warnOnce(md, plan, held);
  }
  // Deleted while this reconcile ran: nothing was recorded, and nothing is announced (metrics,
  // notifications) for a plan of a ModelDeployment that no longer exists.
  if (!(await recordPlan(deps, md, plan))) return;
  deps.onPlan?.(md, plan, md.status, startedAt);
  const requeue = Math.min(plan.requeueAfterMs ?? Infinity, recheckMs ?? Infinity);
  return requeue !== Infinity ? { requeueAfterMs: requeue } : undefined;
}

/**
 * Metric analysis: the checks due now for the revision the status says is under analysis, measured
 * in Prometheus (each query with a timeout). A failed measurement is data for the core (it holds),
 * never an error of the reconcile.
 */
async function observeAnalysis(
  deps: ReconcileDeps,
  md: ModelDeployment,
  world: World,
  now: number,
): Promise<AnalysisInput | undefined> {
  const annotation = (revision: string, key: string): string | undefined =>
    world.deployments.find((d) => d.metadata?.labels?.[LABEL_REVISION] === revision)?.metadata?.annotations?.[
      key
    ];
  const input = await measureAnalysis(
    { prometheus: deps.prometheus, labels: deps.metricLabels ?? DEFAULT_METRIC_LABELS },
    md,
    now,
    (r) => annotation(r, ANNOTATION_RUNTIME),
    (r) => annotation(r, ANNOTATION_VERSION),
  );
  if (input && Object.keys(input.results).length) {
    deps.log.debug('analysis measured', {
      key: mdKey(md),
      revision: input.target.revision,
      stage: input.target.stage,
      results: Object.entries(input.results)
        .map(([n, m]) => `${n}=${m.ok ? `${m.values.join('/')} (${m.samples.join('/')} samples)` : m.reason}`)
        .join(', '),
    });
  }
  return input;
}

/** One Warning Event when a hold starts (or its reason changes), not one per reconcile. */
function warnOnce(md: ModelDeployment, plan: Plan, why: { reason: string; message: string }): void {
  const before = md.status?.conditions?.find((c) => c.type === 'Degraded');
  if (before?.reason !== why.reason || before.status !== 'True')
    plan.events.push({ type: 'Warning', reason: why.reason, message: why.message });
}

/**
 * Names the spec claims (desired/claims.ts) that objects this ModelDeployment does not control
 * hold. The caches hold only objects labelled as modelship's; a name they do not hold as ours is
 * read from the apiserver's watch cache (an object someone else made carries no label). Names
 * already ours cost nothing, so a settled ModelDeployment makes no request here.
 */
async function observeClaims(
  deps: ReconcileDeps,
  md: ModelDeployment,
  ns: string,
  world: World,
): Promise<NameConflict[]> {
  const hash = world.desired.ok ? world.desired.revision.hash : undefined;
  const found = await Promise.all(
    claimedNames(md, hash, world.router).map(async (c) => {
      const cached = deps.caches.ofKind(c.kind)?.get(ns, c.name);
      if (cached && controlledBy(cached, md)) return undefined;
      const holder =
        cached ?? (await deps.client.get(c.apiVersion, c.kind, ns, c.name, { fromWatchCache: true }));
      return holder && !controlledBy(holder, md) ? { ...c, holder: describeController(holder) } : undefined;
    }),
  );
  return found.filter((c): c is NameConflict => c !== undefined);
}

/**
 * A failed write that only a change of the spec or of the cluster can fix: reported as a condition
 * and the world held, instead of retried forever. Anything else is thrown again (retried with
 * back-off).
 */
function holdFor(
  err: unknown,
  md: ModelDeployment,
  ns: string,
): { reason: string; message: string; recheckMs?: number } | undefined {
  if (err instanceof NameConflictError) {
    return {
      reason: 'NameConflict',
      message: nameConflictMessage(ns, err.conflicts),
      recheckMs: NAME_CONFLICT_RECHECK_MS,
    };
  }
  // 422: the apiserver refused an object rendered from this spec (pod labels, annotations or env
  // references that the CRD schema lets through but a Deployment cannot carry, a route setting the
  // route's schema refuses). The reason and the advice follow the object refused.
  if (err instanceof WriteError && err.code === 422) {
    const what = `the apiserver refused the ${err.write.kind} ${err.write.name} rendered from this ModelDeployment (${err.message})`;
    switch (err.write.kind) {
      case 'Deployment':
        return { reason: 'InvalidPodSpec', message: `${what}; fix spec.pod` };
      case 'ConfigMap':
        return {
          reason: 'InvalidRuntimeConfig',
          message: `${what}: the runtime's files come from ModelVersion ${md.spec.model} ${md.spec.version}; release a corrected ModelVersion`,
        };
      default:
        return { reason: 'InvalidTrafficSpec', message: `${what}; fix spec.traffic` };
    }
  }
  return undefined;
}

interface World {
  desired: Resolution;
  rendered: RenderedRevision | undefined;
  router: TrafficRouter | undefined;
  revisions: ReturnType<typeof toObservedRevisions>;
  deployments: V1Deployment[];
  routeObjects: KubernetesObject[];
  appliedWeights: Map<string, number> | undefined;
  /** The interface gate's input: what each revision's ModelVersion declares, by revision hash. */
  interfaces: Map<string, ModelVersionSpecInterface | undefined>;
  /** The desired revision's ModelVersion (the pre-traffic checks read its interface and samples). */
  mv?: ModelVersion | undefined;
}

/**
 * Reads what the reconcile decides on from the caches: this ModelDeployment's revisions with their
 * pods, its routing objects and the weights they carry, its router, and the revision its spec asks
 * for (rendered, or why it cannot be).
 */
async function observeWorld(deps: ReconcileDeps, md: ModelDeployment, ns: string): Promise<World> {
  const name = md.metadata!.name!;
  // The children of this ModelDeployment, by the caches' index on its label, and of those only the
  // ones it controls: a label is no proof of ownership (anyone can copy one), the uid is.
  const mine = <T extends KubernetesObject>(objs: T[]): T[] => objs.filter((o) => controlledBy(o, md));
  const deployments = mine(deps.caches.deployments.byIndex(BY_DEPLOYMENT, ns, name));
  const revisions = toObservedRevisions(
    md,
    deployments,
    deps.caches.pods.byIndex(BY_DEPLOYMENT, ns, name),
    deps.caches.endpointSlices.byIndex(BY_DEPLOYMENT, ns, name),
  );
  const routeObjects: KubernetesObject[] = mine([
    ...deps.caches.services.byIndex(BY_DEPLOYMENT, ns, name),
    ...[...deps.caches.routes.values()].flatMap((c) => c.byIndex(BY_DEPLOYMENT, ns, name)),
  ]);

  let router: TrafficRouter | undefined;
  let desired: Resolution | undefined;
  try {
    router = routerFor(md);
    const need = kindsNeeded(router, md).find((k) => !deps.caches.routes.has(k.kind.kind));
    if (need) {
      const missing = need.kind;
      desired = {
        ok: false,
        reason: 'RouterUnavailable',
        message: `${need.setting} needs the ${missing.kind} CRD (${missing.apiVersion}), which is not installed in this cluster (or the operator cannot list it); install it (the operator notices it within --router-discovery-interval, 30s by default) or ${router.kinds.includes(missing) ? 'choose another router' : 'change that setting'}`,
      };
      // Nothing of this router can be read or written while its kind is not served: no routing write
      // (it would fail with 404 before the condition could be recorded), no deletion either.
      router = undefined;
    }
  } catch (err) {
    desired = { ok: false, reason: 'InvalidRouter', message: (err as Error).message };
  }

  const stable = md.status?.stableRevision;
  const servingRuntime = deployments.find((d) => d.metadata?.labels?.[LABEL_REVISION] === stable)?.metadata
    ?.annotations?.[ANNOTATION_RUNTIME];
  // The ModelVersion each revision was rendered from (its name is on the Deployment): its interface.
  const interfaces = new Map<string, ModelVersionSpecInterface | undefined>();
  for (const d of deployments) {
    const hash = d.metadata?.labels?.[LABEL_REVISION];
    const mvName = d.metadata?.annotations?.[ANNOTATION_MODEL_VERSION_NAME];
    const mv = mvName ? deps.caches.modelVersions.get(ns, mvName) : undefined;
    if (hash && mv) interfaces.set(hash, mv.spec.interface);
  }
  let rendered: RenderedRevision | undefined;
  let mv: ModelVersion | undefined;
  if (!desired) {
    const found = resolveModelVersion(
      md,
      deps.caches.modelVersions.byIndex(BY_MODEL, ns, md.spec.model),
      servingRuntime,
      () => deps.caches.modelVersions.list(ns),
    );
    // The content behind spec.processing's configMapRefs, pinned to the version (controllers/processing.ts).
    const processing = 'mv' in found ? await observeProcessing(deps, md, found.mv) : undefined;
    if (processing && !processing.ok) {
      desired = { ok: false, reason: processing.reason, message: processing.message };
    } else if ('mv' in found) {
      try {
        rendered = renderRevision({
          md,
          mv: found.mv,
          settings: deps.settings,
          replicas: 0,
          ...(processing ? { processing: processing.content } : {}),
        });
        desired = { ok: true, revision: { hash: rendered.hash, version: found.mv.spec.version } };
        interfaces.set(rendered.hash, found.mv.spec.interface);
        mv = found.mv;
      } catch (err) {
        const reason = (err as { reason?: string }).reason ?? 'InvalidModelVersion';
        desired = { ok: false, reason, message: (err as Error).message };
      }
    } else {
      desired = found;
    }
  }
  const appliedWeights = router?.readWeights(routeObjects, md);
  return { desired, rendered, router, revisions, deployments, routeObjects, appliedWeights, interfaces, mv };
}

function desireFor(
  deps: ReconcileDeps,
  md: ModelDeployment,
  plan: Plan,
  world: World,
  arms: RenderedRevision[],
): Desired {
  const ns = md.metadata!.namespace!;
  const caches = deps.caches;
  const drift = (d: V1Deployment): string[] =>
    specDrift(d).flatMap((f) => f.paths.map((p) => `spec.${formatPath(p)} by ${f.manager}`));
  const rendered = new Map<string, RenderedRevision>();
  if (world.rendered) rendered.set(world.rendered.hash, world.rendered);
  for (const r of arms) if (!rendered.has(r.hash)) rendered.set(r.hash, r);
  // A revision other than the desired one whose spec someone changed is restored from its
  // ModelVersion, if that still exists and still renders to the same revision.
  for (const d of world.deployments) {
    const hash = d.metadata?.labels?.[LABEL_REVISION];
    const mvName = d.metadata?.annotations?.[ANNOTATION_MODEL_VERSION_NAME];
    if (!hash || rendered.has(hash) || !mvName || drift(d).length === 0) continue;
    const mv = caches.modelVersions.get(ns, mvName);
    if (!mv) continue;
    try {
      const r = renderRevision({
        md,
        mv,
        settings: deps.settings,
        replicas: 0,
        processing: processingCopies(deps, md, mv),
      });
      if (r.hash === hash) rendered.set(hash, r);
    } catch {
      // not renderable any more: reported as drift that is not restored
    }
  }
  return desire({
    md,
    plan,
    rendered,
    desiredHash: world.rendered?.hash,
    alsoRendered: new Set(arms.map((r) => r.hash)),
    router: world.router,
    deployments: world.deployments,
    routeObjects: world.routeObjects,
    lookup: (kind, name) => caches.ofKind(kind)?.get(ns, name),
    driftOf: drift,
  });
}

/** Someone changed a revision's spec: one Event and log line per restore, a log line when it cannot be. */
function recordDrift(deps: ReconcileDeps, md: ModelDeployment, desired: Desired): void {
  const key = mdKey(md);
  for (const d of desired.drift) {
    const fields = d.fields.join(', ');
    if (d.restored) {
      const message = `Deployment ${d.name} was changed by another field manager (${fields}); modelship restored the revision it renders`;
      deps.log.warn(message, { key, reason: 'DriftRestored' });
      deps.events.record(md, 'Warning', 'DriftRestored', message);
    } else {
      deps.log.debug(
        'revision changed by another field manager; its ModelVersion no longer renders it, so it is left as it is',
        {
          key,
          deployment: d.name,
          fields,
        },
      );
    }
  }
}

/**
 * Status (only when it changed), Events, and one log line per decision. False when the
 * ModelDeployment was gone before its status could be written: nothing was recorded.
 */
async function recordPlan(deps: ReconcileDeps, md: ModelDeployment, plan: Plan): Promise<boolean> {
  const key = mdKey(md);
  const before = md.status ?? {};
  if (!deepEqual(before, plan.status)) {
    // The resourceVersion makes the write conditional: a plan made from a ModelDeployment that has
    // changed since (a spec edit, or a status we wrote a moment ago that the cache has not seen yet)
    // fails with 409 and the key is reconciled again from fresh state, instead of overwriting newer
    // status with older decisions.
    let written: KubernetesObject;
    try {
      written = await deps.client.apply(
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
    } catch (err) {
      // Deleted while this reconcile ran (the cache had not seen it yet): nothing to record; its
      // delete event brings the reconcile that lets it go.
      if (isNotFound(err)) {
        deps.log.debug('ModelDeployment gone before its status was written', { key });
        return false;
      }
      throw err;
    }
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
  return true;
}
