// From a plan to the writes that make the world match it: every object the plan wants, rendered once,
// compared with what the caches hold, and put in the order that keeps traffic safe while the writes
// land. Pure: the controller observes, plans, asks this step what to write, executes, records.
//
// Two rules live here and nowhere else:
// - ownership: a name the plan needs that holds an object this ModelDeployment does not control is a
//   conflict, never a write (core/ownership.ts); creates must find the name free and every other write
//   names its object by uid, so not even a stale cache can turn a write onto someone else's object;
// - order: nothing is routed to a revision that was not grown in an earlier stage (grow -> route ->
//   shrink -> delete), property-tested in desired.property.test.ts.
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1Deployment, V1Service } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import { deepEqual } from '../core/equal.js';
import {
  ANNOTATION_APPLIED,
  LABEL_DEPLOYMENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_MODEL,
  LABEL_NAME,
  LABEL_PART_OF,
  LABEL_REVISION,
  MANAGED_BY,
  revisionObjectName,
  revisionSelector,
} from '../core/labels.js';
import { controlledBy, describeController, type NameConflict } from '../core/ownership.js';
import type { Plan } from '../core/plan.js';
import { ownerReference } from '../core/revision.js';
import { resolveSpec } from '../core/spec.js';
import { allRoutedKinds } from '../routers/index.js';
import type { Desired, DesireInput, Drift, ObjectRef, Write } from './types.js';

type PlannedRevision = Plan['revisions'][number];

export function desire(input: DesireInput): Desired {
  return new Desirer(input).run();
}

class Desirer {
  private readonly ns: string;
  private readonly name: string;
  private readonly port: number;
  private readonly conflicts: NameConflict[] = [];
  private readonly drift: Drift[] = [];
  private readonly live: Map<string, V1Deployment>;
  /** `<kind>/<name>` of every routing object the current render holds (set by routing()). */
  private routed = new Set<string>();

  constructor(private readonly input: DesireInput) {
    this.ns = input.md.metadata!.namespace!;
    this.name = input.md.metadata!.name!;
    this.port = resolveSpec(input.md).port;
    this.live = new Map(input.deployments.map((d) => [d.metadata?.labels?.[LABEL_REVISION] ?? '', d]));
  }

  run(): Desired {
    const { plan } = this.input;
    const grows = plan.revisions.filter(
      (r) =>
        (this.live.get(r.hash)?.spec?.replicas ?? -1) < r.replicas ||
        !this.live.has(r.hash) ||
        this.serviceMissing(r.hash),
    );
    const shrinks = plan.revisions.filter((r) => !grows.includes(r));
    let stages: Write[][];
    if (this.live.size === 0 && grows.length > 0) {
      // A first deploy writes all its objects together, in one stage; the reconcile then records
      // its status (Progressing) as any other does, after every write was answered. Nothing can be
      // served before the pods are Ready, so a route that names a Service still being created for
      // a few milliseconds sends no one anywhere. Why together: a Service's ClusterIP is allocated
      // one at a time for the whole cluster (seconds each under load), which makes Services the
      // slowest writes of a burst of first deploys. In stages, the first deploy waited for the
      // Services before the routing (run 5 of docs/benchmarks.md); with the workload alone first
      // and the rest a reconcile later, the Services fell minutes behind their Deployments in a
      // burst, and each ModelDeployment was reported Ready that long after its pods (issue 17,
      // "Status lag"). Together, a burst's Deployments are made no faster than their Services, and
      // each ModelDeployment is Ready as soon as its pods are.
      stages = [[...grows.flatMap((r) => this.revision(r)), ...this.routing()]];
    } else {
      stages = [
        grows.flatMap((r) => this.revision(r)),
        [...this.routing(), ...this.preview()],
        [...shrinks.flatMap((r) => this.revision(r)), ...this.staleRoutes()],
        plan.deleteRevisions.flatMap((hash) => this.retire(hash)),
      ];
    }
    if (this.conflicts.length) return { conflicts: this.conflicts, stages: [], drift: [] };
    return { conflicts: [], stages: stages.filter((s) => s.length > 0), drift: this.drift };
  }

  /** What holds `name` in the caches: nothing, an object of ours, or someone else's (a conflict). */
  private claim(apiVersion: string, kind: string, name: string): KubernetesObject | 'free' | 'taken' {
    const found = this.input.lookup(kind, name);
    if (!found) return 'free';
    if (controlledBy(found, this.input.md)) return found;
    if (!this.conflicts.some((c) => c.kind === kind && c.name === name))
      this.conflicts.push({ apiVersion, kind, name, holder: describeController(found) });
    return 'taken';
  }

  /**
   * Writes `obj` unless the object of ours under its name carries the same applied hash (and
   * `stillGood`, for fields others may change, holds): the steady state writes nothing.
   */
  private put(
    obj: KubernetesObject,
    stillGood: (live: KubernetesObject) => boolean = () => true,
  ): Write | undefined {
    const held = this.claim(obj.apiVersion!, obj.kind!, obj.metadata!.name!);
    if (held === 'taken') return undefined;
    const hash = appliedHash(obj);
    const body = withAnnotation(obj, ANNOTATION_APPLIED, hash);
    if (held === 'free') return { op: 'create', object: body };
    if (held.metadata?.annotations?.[ANNOTATION_APPLIED] === hash && stillGood(held)) return undefined;
    return { op: 'update', object: body, uid: held.metadata!.uid! };
  }

  /** A revision Service the desired revision needs is not there yet: the revision counts as growing. */
  private serviceMissing(hash: string): boolean {
    const r = this.input.rendered.get(hash);
    return this.inFull(hash) && !!r && !this.input.lookup('Service', r.service.metadata!.name!);
  }

  /** The desired revision, and an experiment's arms, are created and kept as rendered. */
  private inFull(hash: string): boolean {
    return hash === this.input.desiredHash || !!this.input.alsoRendered?.has(hash);
  }

  private revision(r: PlannedRevision): Write[] {
    const rendered = this.input.rendered.get(r.hash);
    const current = this.live.get(r.hash);
    const drifted = current ? this.input.driftOf(current) : [];
    if (rendered && this.inFull(r.hash)) {
      // The desired revision is rendered in full; each object is written only if it differs from
      // what modelship last applied (or someone else changed what it owns: replicas, the template).
      const deployment: V1Deployment = {
        ...rendered.deployment,
        spec: { ...rendered.deployment.spec!, replicas: r.replicas },
      };
      // The three go out together: a pod that starts before its ConfigMap exists waits for the
      // volume (the kubelet retries the mount), and nothing routes to the revision before it is Ready.
      // The ConfigMap is immutable and named by its content's hash: once there, it is right.
      const cm = this.claim('v1', 'ConfigMap', rendered.configMap.metadata!.name!);
      return compact([
        cm === 'free' ? { op: 'create', object: rendered.configMap } : undefined,
        this.put(rendered.service),
        drifted.length && current
          ? this.restore(current, deployment, drifted)
          : this.put(deployment, (l) => (l as V1Deployment).spec?.replicas === r.replicas),
      ]);
    }
    if (!current) return [];
    const writes: Array<Write | undefined> = [];
    // An earlier revision keeps the pod template it was made with; only its size changes ...
    if (drifted.length && rendered) {
      const deployment = {
        ...rendered.deployment,
        spec: { ...rendered.deployment.spec!, replicas: r.replicas },
      };
      writes.push(this.restore(current, deployment, drifted));
    } else {
      if (drifted.length)
        this.drift.push({ name: current.metadata!.name!, fields: drifted, restored: false });
      if (current.spec?.replicas !== r.replicas)
        writes.push(this.patch(current, { spec: { replicas: r.replicas } }));
    }
    // ... and its Service follows spec.traffic.port, which the routers send every revision's traffic to.
    const svc = this.input.lookup('Service', revisionObjectName(this.name, r.hash)) as V1Service | undefined;
    const ports = svc?.spec?.ports ?? [];
    if (
      svc &&
      controlledBy(svc, this.input.md) &&
      ports.some((p) => p.name === 'http' && p.port !== this.port)
    )
      writes.push(
        this.patch(svc, {
          spec: { ports: ports.map((p) => (p.name === 'http' ? { ...p, port: this.port } : p)) },
        }),
      );
    return compact(writes);
  }

  /**
   * Someone else changed a revision Deployment's spec: put back exactly what modelship renders.
   * Server-side apply could only take back the fields modelship owns; fields others added beside them
   * (a securityContext flag, an env var, `paused`) would stay, so the whole object is replaced,
   * keeping the labels and annotations others gave its metadata.
   */
  private restore(current: V1Deployment, rendered: V1Deployment, fields: string[]): Write {
    this.drift.push({ name: current.metadata!.name!, fields, restored: true });
    const { managedFields: _cacheOnly, ...meta } = current.metadata!;
    const hash = appliedHash(rendered);
    return {
      op: 'replace',
      object: {
        ...rendered,
        metadata: {
          ...meta,
          labels: { ...meta.labels, ...rendered.metadata?.labels },
          annotations: { ...meta.annotations, ...rendered.metadata?.annotations, [ANNOTATION_APPLIED]: hash },
          ownerReferences: rendered.metadata?.ownerReferences ?? meta.ownerReferences ?? [],
        },
      } as V1Deployment,
    };
  }

  private patch(obj: KubernetesObject, patch: Record<string, unknown>): Write {
    return { op: 'patch', ref: refOf(obj, this.ns), uid: obj.metadata!.uid!, patch };
  }

  private routing(): Write[] {
    const { router, plan, md } = this.input;
    if (!router || plan.weights.length === 0) return [];
    const objects = router.render({
      md,
      weights: plan.weights.map((w) => ({ ...w, service: revisionObjectName(this.name, w.revision) })),
      labels: routingLabels(md),
      ownerReference: ownerReference(md),
      port: this.port,
      targetPortName: 'http',
      cohort: plan.cohort && {
        revision: plan.cohort.revision,
        service: revisionObjectName(this.name, plan.cohort.revision),
      },
      mirror: plan.mirror && {
        revision: plan.mirror.revision,
        service: revisionObjectName(this.name, plan.mirror.revision),
        percent: plan.mirror.percent,
      },
      observed: this.input.routeObjects,
    });
    this.routed = new Set(objects.map((o) => `${o.kind}/${o.metadata!.name!}`));
    const liveWeights = router.readWeights(this.input.routeObjects as KubernetesObject[], md);
    const planned = new Map(plan.weights.map((w) => [w.revision, w.weight]));
    const drifted = !liveWeights || !deepEqual(Object.fromEntries(liveWeights), Object.fromEntries(planned));
    return compact(objects.map((o) => this.put(o, () => !drifted)));
  }

  /**
   * Routing objects the current render no longer holds, once the new ones are in place: those of a
   * router the ModelDeployment no longer uses (traffic.router changed), and a router's extra objects
   * whose setting is over (a mirroring TraefikService once the mirror ends). Ours only.
   */
  private staleRoutes(): Write[] {
    const { router, plan, md } = this.input;
    if (!router || plan.weights.length === 0) return [];
    const kinds = new Set(router.kinds.map((k) => k.kind));
    const routing = new Set(allRoutedKinds().map((k) => k.kind));
    // An object the applied route still sends to goes a reconcile after the route stops naming it.
    const inUse = router.inUse?.(this.input.routeObjects, md) ?? new Set<string>();
    return this.input.routeObjects
      .filter((o) => routing.has(o.kind!))
      .filter((o) =>
        o.metadata?.name === this.name
          ? !kinds.has(o.kind!)
          : !this.routed.has(`${o.kind}/${o.metadata?.name ?? ''}`) && !inUse.has(o.metadata?.name ?? ''),
      )
      .filter((o) => controlledBy(o, md))
      .map((o) => ({ op: 'delete', ref: refOf(o, this.ns), uid: o.metadata!.uid! }));
  }

  /** Blue-green: the preview Service selects the preview revision while there is one. */
  private preview(): Write[] {
    const { plan, md } = this.input;
    const name = `${this.name}-preview`;
    if (!plan.previewRevision) {
      const current = this.input.lookup('Service', name);
      return current && controlledBy(current, md)
        ? [{ op: 'delete', ref: refOf(current, this.ns), uid: current.metadata!.uid! }]
        : [];
    }
    const svc: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace: this.ns,
        labels: routingLabels(md),
        ownerReferences: [ownerReference(md)],
      },
      spec: {
        type: 'ClusterIP',
        selector: revisionSelector(this.name, plan.previewRevision),
        ports: [{ name: 'http', port: this.port, targetPort: 'http' as unknown as number }],
      },
    };
    return compact([this.put(svc)]);
  }

  /** A revision beyond revisionHistoryLimit: its objects go, those of ours only. */
  private retire(hash: string): Write[] {
    const child = revisionObjectName(this.name, hash);
    return (['Deployment', 'Service', 'ConfigMap'] as const).flatMap((kind) => {
      const o = this.input.lookup(kind, child);
      return o && controlledBy(o, this.input.md)
        ? [{ op: 'delete' as const, ref: refOf(o, this.ns), uid: o.metadata!.uid! }]
        : [];
    });
  }
}

export function routingLabels(md: ModelDeployment): Record<string, string> {
  return {
    [LABEL_NAME]: md.spec.model,
    [LABEL_INSTANCE]: md.metadata!.name!,
    [LABEL_PART_OF]: 'modelship',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_DEPLOYMENT]: md.metadata!.name!,
    [LABEL_MODEL]: md.spec.model,
  };
}

/** The hash of a rendered body, kept on the object so an unchanged body is not written again. */
export function appliedHash(obj: KubernetesObject): string {
  return createHash('sha256').update(JSON.stringify(obj)).digest('hex').slice(0, 16);
}

function withAnnotation<T extends KubernetesObject>(obj: T, key: string, value: string): T {
  return {
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [key]: value } },
  };
}

/** What a write names: the object's kind and name, in its namespace (or `namespace` when it has none). */
export function refOf(o: KubernetesObject, namespace: string): ObjectRef {
  return {
    apiVersion: o.apiVersion!,
    kind: o.kind!,
    namespace: o.metadata?.namespace ?? namespace,
    name: o.metadata!.name!,
  };
}

function compact<T>(xs: Array<T | undefined>): T[] {
  return xs.filter((x): x is T => x !== undefined);
}
