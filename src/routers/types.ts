import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTrafficRouter } from '../api/index.js';
import type { ResourceKind } from '../k8s/resources.js';

/** Traffic for one revision. Weights of a table sum to 100. */
export interface WeightEntry {
  revision: string;
  version: string;
  weight: number;
  /** Name of the revision's own Service (`<md>-<revision>`). */
  service: string;
}

export interface RouteContext {
  md: ModelDeployment;
  /** Weight table to route by (sums to 100; entries with weight 0 may be present). */
  weights: WeightEntry[];
  /** Labels every object gets (app.kubernetes.io/*, modelship.io/deployment, ...). */
  labels: Record<string, string>;
  ownerReference: V1OwnerReference;
  /** Client-facing port of the Services. */
  port: number;
  /** Name of the container port the revision Services target. */
  targetPortName: string;
  /**
   * Requests matching spec.strategy.canary.cohorts go to this revision whatever the weights (only
   * from routers with `matches`; the planner decides when).
   */
  cohort?: RouteTarget | undefined;
  /** A copy of `percent`% of the stable revision's requests goes to this revision (routers with `mirrors`). */
  mirror?: (RouteTarget & { percent: number }) | undefined;
  /**
   * The routing objects as the caches hold them, for a router whose objects refer to each other
   * across kinds (a route naming a TraefikService): it names an object only once it is there.
   * undefined: render as if every object rendered were there (a render that is applied whole).
   */
  observed?: readonly KubernetesObject[] | undefined;
}

/** A revision that receives requests beside the weight table, and its Service `<md>-<revision>`. */
export interface RouteTarget {
  revision: string;
  service: string;
}

/** A kind a router writes and must watch (for read-back and drift), with the plural of its REST path. */
export type RoutedKind = ResourceKind;

/**
 * One way of splitting traffic (Gateway API HTTPRoute, Istio VirtualService, plain Services).
 * Adding a router is adding a folder under src/routers/.
 */
export interface TrafficRouter {
  /** The spec.traffic.router value that selects this router. */
  readonly name: ModelDeploymentSpecTrafficRouter;
  /**
   * true when the router splits requests by weight exactly (mesh or gateway); false when weights can
   * only follow replica counts (plain Services), in which case the planner sizes revisions to match.
   */
  readonly exactWeights: boolean;
  /** true when the router can send requests that match headers or cookies to one revision (cohorts). */
  readonly matches: boolean;
  /** true when the router can copy requests to another revision and discard its answers (mirror). */
  readonly mirrors: boolean;
  /** Kinds this router writes, one object `<md>` each (besides the stable Service every router writes). */
  readonly kinds: RoutedKind[];
  /**
   * Kinds this router writes only for some settings, under other names (Traefik's mirroring
   * TraefikServices `<md>-<revision>-mirror`). Watched when served, like `kinds`; objects of them
   * that a render no longer holds are deleted.
   */
  readonly extraKinds?: RoutedKind[];
  /**
   * Which of extraKinds this ModelDeployment's settings need, and the setting that needs each (for
   * the RouterUnavailable message while one is not served).
   */
  needs?(md: ModelDeployment): Array<{ kind: RoutedKind; setting: string }>;
  /**
   * Names of the extraKinds objects that the applied objects of `kinds` refer to: those are not
   * deleted, even when a render no longer holds them, until the reference is gone from what is applied.
   */
  inUse?(applied: readonly KubernetesObject[], md: ModelDeployment): Set<string>;
  /**
   * Renders every object this router owns for the weight table, including the stable Service
   * `<md>` that clients not going through a router use. Pure. Throws, naming the ModelDeployment,
   * when the table is invalid (weights not whole numbers 0..100 summing to 100, a revision twice,
   * a Service not named `<md>-<revision>`) or the router's spec.traffic settings are missing.
   */
  render(ctx: RouteContext): KubernetesObject[];
  /**
   * Reads back the weights an applied set of objects routes by (revision -> weight), so a
   * restarted operator and drift checks see what really is in effect. `applied` may hold any
   * objects, as the apiserver returns them (defaults, status, managedFields); the router picks its
   * own by kind and name `<md>`. undefined if the router's object is not among them.
   * For a table within the router's limits, readWeights(render(ctx)) holds every entry of
   * ctx.weights, weight-0 entries included as 0, and nothing else.
   */
  readWeights(applied: KubernetesObject[], md: ModelDeployment): Map<string, number> | undefined;
}
