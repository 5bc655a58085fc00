import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import type { NameConflict } from '../core/ownership.js';
import type { Plan } from '../core/plan.js';
import type { RenderedRevision } from '../core/revision.js';
import type { TrafficRouter } from '../routers/types.js';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/**
 * One write of a reconcile. Each names the object it may touch: a create must find the name free,
 * every other write names the object by uid, so a write can never land on someone else's object.
 */
export type Write =
  /** Server-side apply that must create: refused if any object holds the name. */
  | { op: 'create'; object: KubernetesObject }
  /** Server-side apply to modelship's own object (uid). */
  | { op: 'update'; object: KubernetesObject; uid: string }
  /** JSON merge patch of modelship's own object (uid). */
  | { op: 'patch'; ref: ObjectRef; uid: string; patch: Record<string, unknown> }
  /** PUT of modelship's own object (resourceVersion and uid in the body): restores drift. */
  | { op: 'replace'; object: KubernetesObject }
  | { op: 'delete'; ref: ObjectRef; uid: string };

/** A revision Deployment whose spec someone else changed. */
export interface Drift {
  name: string;
  /** `spec.template.spec.containers[name=triton].image by kubectl-edit`, ... */
  fields: string[];
  /** Restored by a `replace` in this plan; false when the revision can no longer be rendered. */
  restored: boolean;
}

export interface Desired {
  /**
   * Names the plan needs that the caches show held by objects this ModelDeployment does not
   * control. When there are any, `stages` is empty: nothing is written, the world is held.
   */
  conflicts: NameConflict[];
  /**
   * The writes in their safe order: what grows (new revisions, scale-ups), then the routing and the
   * preview Service, then what shrinks or goes away, then revisions beyond the history limit. A
   * stage starts only once the one before it has been answered.
   */
  stages: Write[][];
  drift: Drift[];
}

/** The caches as the desired-state step reads them. */
export interface DesireInput {
  md: ModelDeployment;
  plan: Plan;
  /** The revisions that could be rendered from their ModelVersions, by hash (the desired one first of all). */
  rendered: ReadonlyMap<string, RenderedRevision>;
  /** Hash of the revision the spec asks for, when it could be rendered. */
  desiredHash: string | undefined;
  /** Revisions besides the desired one that are rendered and created in full (an experiment's arms). */
  alsoRendered?: ReadonlySet<string> | undefined;
  router: TrafficRouter | undefined;
  /** The revision Deployments this ModelDeployment controls. */
  deployments: readonly V1Deployment[];
  /** The routing objects (stable and preview Services, routes) this ModelDeployment controls. */
  routeObjects: readonly KubernetesObject[];
  /** Whatever object of this kind and name the caches hold in the namespace, whoever controls it. */
  lookup: (kind: string, name: string) => KubernetesObject | undefined;
  /** The Deployment's spec fields someone else changed (see controllers/cache-shape.ts specDrift). */
  driftOf: (d: V1Deployment) => string[];
}
