// The informer caches the controllers read from, one set per operator. With a namespace list the
// operator watches only those namespaces (one informer per namespace and kind, which RBAC Roles
// can allow without cluster-wide list rights); otherwise one cluster-wide informer per kind.
import type {
  KubeConfig,
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1EndpointSlice,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import {
  MODEL_DEPLOYMENT_RESOURCE,
  MODEL_VERSION_RESOURCE,
  type ModelDeployment,
  type ModelVersion,
} from '../api/index.js';
import {
  ANNOTATION_MODEL_VERSION_NAME,
  LABEL_DEPLOYMENT,
  LABEL_MANAGED_BY,
  MANAGED_BY,
} from '../core/labels.js';
import {
  slimDeployment,
  slimEndpointSlice,
  slimPod,
  slimService,
  withoutManagedFields,
} from './cache-shape.js';
import {
  Informer,
  type InformerHandlers,
  type InformerObserver,
  type InformerOptions,
} from '../k8s/informer.js';
import {
  CONFIG_MAP,
  DEPLOYMENT,
  ENDPOINT_SLICE,
  POD,
  resourcePath,
  SERVICE,
  type ResourceKind,
} from '../k8s/resources.js';
import type { RoutedKind } from '../routers/types.js';

export interface CacheOptions {
  namespaces?: string[];
  resyncMs?: number;
  observer?: InformerObserver;
  /** Router kinds whose CRDs are installed at start; later ones come and go by addRouteKind/removeRouteKind. */
  routedKinds: RoutedKind[];
}

/** One kind over the watched namespaces, read as a single cache. */
export class KindCache<T extends KubernetesObject> {
  private readonly informers: Map<string, Informer<T>>;

  constructor(
    kc: KubeConfig,
    kind: ResourceKind,
    opts: CacheOptions,
    shape: Pick<InformerOptions<T>, 'labelSelector' | 'transform' | 'indexes'> = {},
  ) {
    const namespaces = opts.namespaces?.length ? opts.namespaces : [''];
    this.informers = new Map(
      namespaces.map((ns) => [
        ns,
        new Informer<T>(kc, {
          path: resourcePath(kind, ns),
          ...shape,
          ...(opts.resyncMs ? { resyncMs: opts.resyncMs } : {}),
          ...(opts.observer ? { observer: opts.observer } : {}),
        }),
      ]),
    );
  }

  private informerFor(namespace: string | undefined): Informer<T> | undefined {
    return this.informers.get('') ?? this.informers.get(namespace ?? '');
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.informerFor(namespace)?.get(namespace, name);
  }

  /** The objects of one namespace whose named index (see the constructor) has `value`. */
  byIndex(index: string, namespace: string, value: string): T[] {
    return this.informerFor(namespace)?.byIndex(index, namespace, value) ?? [];
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.informerFor(namespace)?.list(namespace) ?? [];
    return [...this.informers.values()].flatMap((i) => i.list());
  }

  /** See Informer.observeWrite. */
  observeWrite(obj: T): void {
    this.informerFor(obj.metadata?.namespace)?.observeWrite(obj);
  }

  on<E extends keyof InformerHandlers<T>>(event: E, fn: InformerHandlers<T>[E]): void {
    for (const i of this.informers.values()) i.on(event, fn);
  }

  start(): void {
    for (const i of this.informers.values()) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }
}

/**
 * The named indexes (KindCache.byIndex): children and pods by the ModelDeployment they belong to
 * (label modelship.io/deployment), ModelDeployments and ModelVersions by spec.model, revision
 * Deployments by the ModelVersion they were built from. They keep the per-event and per-reconcile
 * lookups ("the children of this ModelDeployment", "the versions of this model", "who runs this
 * version") at the answer's size: with a scan, a namespace of 1,000 ModelDeployments made each of
 * them cost O(1,000).
 */
export const BY_DEPLOYMENT = 'deployment';
export const BY_MODEL = 'model';
export const BY_MODEL_VERSION = 'modelVersion';
const OWNED = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
/** Children and pods: only what modelship made (label-selected), indexed by their ModelDeployment. */
const OWNED_SHAPE = {
  labelSelector: OWNED,
  indexes: { [BY_DEPLOYMENT]: (o: KubernetesObject) => o.metadata?.labels?.[LABEL_DEPLOYMENT] || undefined },
  transform: withoutManagedFields,
};

export class Caches {
  readonly modelDeployments: KindCache<ModelDeployment>;
  readonly modelVersions: KindCache<ModelVersion>;
  readonly deployments: KindCache<V1Deployment>;
  readonly services: KindCache<V1Service>;
  readonly configMaps: KindCache<V1ConfigMap>;
  readonly pods: KindCache<V1Pod>;
  /**
   * The EndpointSlices of modelship's Services: the EndpointSlice controller copies a Service's
   * labels onto its slices, so the same label selector and index find them. Which pods the gateway
   * can reach (core/observed.ts inService).
   */
  readonly endpointSlices: KindCache<V1EndpointSlice>;
  /**
   * Router objects by kind (HTTPRoute, VirtualService), for the kinds whose CRDs exist and whose
   * cache has synced: a reconcile that finds no entry for its router's kind reports
   * RouterUnavailable, never reads an empty, unsynced cache as "no routing objects".
   */
  readonly routes = new Map<string, KindCache<KubernetesObject>>();
  /** Router kinds added after the start whose caches have not synced yet. */
  private readonly pendingRoutes = new Map<
    string,
    { cache: KindCache<KubernetesObject>; abort: AbortController }
  >();

  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: CacheOptions,
  ) {
    const own = { transform: withoutManagedFields };
    this.modelDeployments = new KindCache<ModelDeployment>(kc, MODEL_DEPLOYMENT_RESOURCE, opts, {
      ...own,
      indexes: { [BY_MODEL]: (o) => o.spec?.model },
    });
    this.modelVersions = new KindCache<ModelVersion>(kc, MODEL_VERSION_RESOURCE, opts, {
      ...own,
      indexes: { [BY_MODEL]: (o) => o.spec?.model },
    });
    // Children and pods: only what modelship made (label-selected), never every Pod of the cluster;
    // indexed by the ModelDeployment they belong to, and cached without the fields no controller
    // reads (see cache-shape.ts).
    const owned = OWNED_SHAPE;
    this.deployments = new KindCache<V1Deployment>(kc, DEPLOYMENT, opts, {
      ...owned,
      transform: slimDeployment,
      indexes: {
        ...owned.indexes,
        [BY_MODEL_VERSION]: (o) => o.metadata?.annotations?.[ANNOTATION_MODEL_VERSION_NAME],
      },
    });
    this.services = new KindCache(kc, SERVICE, opts, { ...owned, transform: slimService });
    this.configMaps = new KindCache(kc, CONFIG_MAP, opts, owned);
    this.pods = new KindCache(kc, POD, opts, { ...owned, transform: slimPod });
    this.endpointSlices = new KindCache(kc, ENDPOINT_SLICE, opts, { ...owned, transform: slimEndpointSlice });
    for (const k of opts.routedKinds) this.routes.set(k.kind, new KindCache(kc, k, opts, owned));
  }

  /** The cache of a child kind (Deployment, Service, ConfigMap, or a router's kind), if it is watched. */
  ofKind(kind: string): KindCache<KubernetesObject> | undefined {
    const children: Record<string, KindCache<KubernetesObject> | undefined> = {
      Deployment: this.deployments as unknown as KindCache<KubernetesObject>,
      Service: this.services as unknown as KindCache<KubernetesObject>,
      ConfigMap: this.configMaps as unknown as KindCache<KubernetesObject>,
    };
    return Object.hasOwn(children, kind) ? children[kind] : this.routes.get(kind);
  }

  private all(): Array<KindCache<KubernetesObject>> {
    return [
      this.modelDeployments,
      this.modelVersions,
      this.deployments,
      this.services,
      this.configMaps,
      this.pods,
      this.endpointSlices,
      ...this.routes.values(),
    ] as unknown as Array<KindCache<KubernetesObject>>;
  }

  /**
   * Watches a router kind whose CRD appeared after the start. `wire` registers the event handlers
   * before the watch starts; the kind joins `routes` once its cache has synced. Resolves true then,
   * false if the kind was already watched or was removed (or the caches stopped) before it synced.
   * A cache that cannot list (RBAC) stays pending, retrying with back-off, and `routes` without it.
   */
  async addRouteKind(k: RoutedKind, wire: (cache: KindCache<KubernetesObject>) => void): Promise<boolean> {
    if (this.routes.has(k.kind) || this.pendingRoutes.has(k.kind)) return false;
    const entry = {
      cache: new KindCache<KubernetesObject>(this.kc, k, this.opts, OWNED_SHAPE),
      abort: new AbortController(),
    };
    this.pendingRoutes.set(k.kind, entry);
    wire(entry.cache);
    entry.cache.start();
    try {
      await entry.cache.waitForSync(entry.abort.signal);
    } catch {
      return false;
    }
    if (this.pendingRoutes.get(k.kind) !== entry) return false;
    this.pendingRoutes.delete(k.kind);
    this.routes.set(k.kind, entry.cache);
    return true;
  }

  /** True while a kind added by addRouteKind has not synced. */
  isRouteKindPending(kind: string): boolean {
    return this.pendingRoutes.has(kind);
  }

  /** Stops watching a router kind whose CRD is gone; resolves true if it was watched or pending. */
  async removeRouteKind(kind: string): Promise<boolean> {
    const pending = this.pendingRoutes.get(kind);
    if (pending) {
      this.pendingRoutes.delete(kind);
      pending.abort.abort(new Error(`${kind}: CRD removed`));
      await pending.cache.stop();
      return true;
    }
    const cache = this.routes.get(kind);
    if (!cache) return false;
    this.routes.delete(kind);
    await cache.stop();
    return true;
  }

  start(): void {
    for (const c of this.all()) c.start();
  }

  async stop(): Promise<void> {
    const pending = [...this.pendingRoutes.values()];
    this.pendingRoutes.clear();
    for (const p of pending) p.abort.abort(new Error('caches stopped'));
    await Promise.all([...this.all(), ...pending.map((p) => p.cache)].map((c) => c.stop()));
  }

  hasSynced(): boolean {
    return this.all().every((c) => c.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.all().map((c) => c.waitForSync(signal)));
  }
}
