// A list+watch cache of one collection, with client-go's reflector semantics:
//
// - List (paged), then watch from the list's resourceVersion with bookmarks, so the cache holds
//   exactly the objects of one consistent snapshot plus every change after it.
// - Remember the last resourceVersion seen, bookmarks included: a watch that ends (the apiserver's
//   timeoutSeconds, a restart, a dropped connection) resumes from it and loses nothing.
// - 410 Gone means that resourceVersion has left etcd's history or the watch cache's window: the
//   events in between are lost, so relist and diff against the cache (cache-diff.ts), which turns
//   an object deleted while we were away into a delete event instead of a ghost in the cache.
// - Any other failure retries with back-off. Nothing here throws into the caller or exits the
//   process; errors go to the observer (by default one JSON line on stderr).
//
// Handlers get objects for controllers to turn into keys; the controller reads state from the cache
// (level-triggered, shared/STYLE.md §1). Cached objects are the apiserver's JSON as sent (timestamps
// are strings, not client-node's Date-bearing classes), shared by every reader: treat them as read-only.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { computeBackoffMs, type BackoffOptions } from './backoff.js';
import { computeRelistDiff } from './cache-diff.js';
import { realClock, sleep, type Clock } from './clock.js';
import { keyOf } from './keys.js';
import { isGone, KubeHttp, statusError, type ApiStatus, type WatchEvent } from './kube-http.js';

export { keyOf, splitKey } from './keys.js';

export interface InformerHandlers<T> {
  add: (obj: T) => void;
  update: (oldObj: T, newObj: T) => void;
  /**
   * `finalStateUnknown` is true when the deletion was found by a relist: `obj` is then the last
   * state the cache saw, not the state the object was deleted in (client-go's DeletedFinalStateUnknown).
   */
  delete: (obj: T, finalStateUnknown: boolean) => void;
  /** Every `resyncMs`, once per cached object, so controllers re-enqueue keys; not a relist. */
  resync: (obj: T) => void;
}
export type InformerEvent = keyof InformerHandlers<unknown>;

/** Why a list was made: the first one, after a 410 Gone, or after a list that failed. */
export type ListReason = 'initial' | 'expired' | 'retry';
export type InformerPhase = 'list' | 'watch' | 'handler';

/** Hooks for logs and metrics; every method is optional. */
export interface InformerObserver {
  onList?(info: {
    path: string;
    reason: ListReason;
    items: number;
    pages: number;
    resourceVersion: string;
  }): void;
  onWatch?(info: { path: string; resourceVersion: string }): void;
  onError?(err: Error, info: { path: string; phase: InformerPhase; retryInMs?: number }): void;
}

export interface InformerOptions<T extends KubernetesObject = KubernetesObject> {
  /** Collection path: `/api/v1/configmaps`, `/apis/apps/v1/namespaces/ns1/deployments`, ... */
  path: string;
  /** Cache only the objects that match, e.g. the ones modelship owns. */
  labelSelector?: string;
  fieldSelector?: string;
  /** Period of the resync handlers; 0 (default) = off. */
  resyncMs?: number;
  /** List page size (`limit`); default 500. */
  pageSize?: number;
  /** The apiserver ends each watch after this; default a random 5-10 min, as client-go spreads reconnects. */
  watchTimeoutSeconds?: number;
  /** Retry back-off after errors; defaults: 800 ms base, 30 s cap, 50% jitter (client-go's reflector). */
  backoff?: Partial<BackoffOptions>;
  clock?: Clock;
  observer?: InformerObserver;
  /**
   * Applied to every object before it is cached (list items, watch events, observeWrite), e.g. to
   * drop fields the controller never reads (managedFields, a pod's spec): the cache is most of an
   * operator's memory. client-go's SetTransform. Must not mutate its argument.
   */
  transform?: (obj: T) => T;
  /**
   * Named indexes (client-go's Indexers): name → the object's value for it, undefined for none;
   * looked up per namespace with byIndex(), so a controller's "which objects of this namespace have
   * X" costs the answer's size, not the cache's.
   */
  indexes?: Record<string, (obj: T) => string | undefined>;
}

/** Every informer indexes by namespace, for list(namespace) (a name no caller can pass: it starts with NUL). */
const NAMESPACE_INDEX = '\0namespace';

export interface StartOptions {
  /**
   * For tests: skip the list and watch from this resourceVersion over the cache as it is (the
   * informer must have synced before). A too-old value ("1") forces the 410 Gone path.
   */
  resourceVersion?: string;
}

/** A list response as JSON: `metadata.continue`, not client-node's deserialized `_continue`. */
interface ListJson<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 800, maxMs: 30_000, jitter: 0.5 };

/** client-go's reflector treats a watch that ends this fast without any event as a failure. */
const MIN_WATCH_MS = 1000;

export class Informer<T extends KubernetesObject> {
  private readonly http: KubeHttp;
  private readonly clock: Clock;
  private readonly backoff: BackoffOptions;
  private readonly observer: InformerObserver;
  private readonly handlers: { [E in InformerEvent]: Set<InformerHandlers<T>[E]> } = {
    add: new Set(),
    update: new Set(),
    delete: new Set(),
    resync: new Set(),
  };

  private cache = new Map<string, T>();
  /** The index functions: opts.indexes and the namespace. */
  private readonly indexers: Map<string, (obj: T) => string | undefined>;
  /** Per index: `${namespace}\0${value}` → cache key → object. */
  private indexed = new Map<string, Map<string, Map<string, T>>>();
  private resourceVersion: string | undefined;
  private synced = false;
  private readonly syncWaiters = new Set<() => void>();
  private running: AbortController | undefined;
  private loop: Promise<void> = Promise.resolve();
  private resyncTimer: unknown;
  /** Watch events applied to the cache (bookmarks included): the run loop's measure of progress. */
  private applied = 0;

  constructor(
    kc: KubeConfig,
    private readonly opts: InformerOptions<T>,
  ) {
    this.http = new KubeHttp(kc);
    this.clock = opts.clock ?? realClock;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.observer = opts.observer ?? { onError: (err, info) => logError(err, info) };
    this.indexers = new Map([...Object.entries(opts.indexes ?? {}), [NAMESPACE_INDEX, () => '']]);
  }

  /** Registers a handler; returns its removal. Register before start() to see the initial adds. */
  on<E extends InformerEvent>(event: E, fn: InformerHandlers<T>[E]): () => void {
    const set = this.handlers[event] as Set<InformerHandlers<T>[E]>;
    set.add(fn);
    return () => set.delete(fn);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Cached objects of one namespace whose opts.indexes[index] is `value` (an index lookup). */
  byIndex(index: string, namespace: string | undefined, value: string): T[] {
    if (!this.opts.indexes?.[index])
      throw new Error(`informer ${this.opts.path}: no index ${index} in opts.indexes`);
    return this.lookup(index, namespace, value);
  }

  /** Cached objects, all or those of one namespace. */
  list(namespace?: string): T[] {
    return namespace === undefined ? [...this.cache.values()] : this.lookup(NAMESPACE_INDEX, namespace, '');
  }

  private lookup(index: string, namespace: string | undefined, value: string): T[] {
    const hit = this.indexed.get(index)?.get(`${namespace ?? ''}\0${value}`);
    return hit ? [...hit.values()] : [];
  }

  /**
   * Puts an object this process has just written (the apiserver's answer) into the cache, unless the
   * cache already holds a newer version; the watch event that follows replaces it as usual. Without
   * this, a reconcile that runs before the watch delivers our own write reads the state from before
   * it (client-go's MutationCache solves the same problem). No handler is called.
   */
  observeWrite(obj: T): void {
    const key = keyOf(obj);
    const current = this.cache.get(key);
    if (current && !isNewer(obj, current)) return;
    this.put(key, this.shape(obj));
  }

  private shape(obj: T): T {
    return this.opts.transform ? this.opts.transform(obj) : obj;
  }

  private put(key: string, obj: T): void {
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    for (const [index, valueOf] of this.indexers) {
      const before = old && indexKey(old, valueOf);
      const after = indexKey(obj, valueOf);
      if (before && before !== after) this.unindex(index, before, key);
      if (after) {
        const buckets = this.indexed.get(index) ?? new Map<string, Map<string, T>>();
        this.indexed.set(index, buckets);
        const bucket = buckets.get(after) ?? new Map<string, T>();
        buckets.set(after, bucket);
        bucket.set(key, obj);
      }
    }
  }

  private remove(key: string): void {
    const old = this.cache.get(key);
    this.cache.delete(key);
    if (!old) return;
    for (const [index, valueOf] of this.indexers) {
      const ik = indexKey(old, valueOf);
      if (ik) this.unindex(index, ik, key);
    }
  }

  private unindex(index: string, ik: string, key: string): void {
    const buckets = this.indexed.get(index);
    const bucket = buckets?.get(ik);
    bucket?.delete(key);
    if (bucket?.size === 0) buckets!.delete(ik);
  }

  /** True once the first list has been applied (and stays true across restarts and relists). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** The resourceVersion the cache is at (the last list, event or bookmark seen). */
  lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  /** Resolves once hasSynced(); rejects with the signal's reason if it aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        this.syncWaiters.delete(done);
        reject(signal?.reason);
      };
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.syncWaiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Starts listing and watching in the background; a no-op while running. A restarted informer
   * keeps its cache and resumes the watch from its last resourceVersion (relisting if that is gone).
   */
  start(opts: StartOptions = {}): void {
    if (this.running) return;
    if (opts.resourceVersion !== undefined && !this.synced) {
      throw new Error(`informer ${this.opts.path}: start({ resourceVersion }) needs a cache that has synced`);
    }
    const running = new AbortController();
    this.running = running;
    // A start() right after stop() waits for the old loop to end: one loop writes the cache at a time.
    this.loop = this.loop
      .then(() => this.run(running.signal, opts.resourceVersion))
      .catch((err: unknown) => this.report(asError(err), { phase: 'watch' }));
    if ((this.opts.resyncMs ?? 0) > 0) this.scheduleResync(running.signal);
  }

  /** Aborts the list or watch in flight and the timers; resolves when no handler can run any more. */
  async stop(): Promise<void> {
    this.running?.abort(new Error(`informer ${this.opts.path} stopped`));
    this.running = undefined;
    this.clock.clearTimeout(this.resyncTimer);
    await this.loop;
  }

  private async run(signal: AbortSignal, resumeFrom: string | undefined): Promise<void> {
    if (resumeFrom !== undefined) this.resourceVersion = resumeFrom;
    let listReason: ListReason | undefined =
      this.synced && this.resourceVersion !== undefined ? undefined : 'initial';
    // Consecutive failures without progress; a watch that applied any event (even one that then
    // failed) resets it.
    let failures = 0;
    while (!signal.aborted) {
      let phase: InformerPhase = listReason ? 'list' : 'watch';
      const appliedBefore = this.applied;
      try {
        if (listReason) {
          await this.listAndReplace(listReason, signal);
          listReason = undefined;
        }
        phase = 'watch';
        await this.watchOnce(signal);
        if (this.applied > appliedBefore) failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        if (this.applied > appliedBefore) failures = 0;
        const error = asError(err);
        if (isGone(err)) {
          listReason = 'expired';
          // The first 410 after progress relists at once; a relist that keeps meeting 410 backs off.
          if (failures++ === 0) {
            this.report(error, { phase });
            continue;
          }
        } else {
          if (phase === 'list') listReason ??= 'retry';
          failures++;
        }
        // A failed watch resumes from the same resourceVersion; if that has expired meanwhile,
        // the apiserver answers 410 and the branch above relists.
        const delay = computeBackoffMs(failures - 1, this.backoff);
        this.report(error, { phase, retryInMs: Math.round(delay) });
        try {
          await sleep(this.clock, delay, signal);
        } catch {
          return;
        }
      }
    }
  }

  private async listAndReplace(reason: ListReason, signal: AbortSignal): Promise<void> {
    const { items, resourceVersion, pages } = await this.listAll(signal);
    signal.throwIfAborted();
    const diff = computeRelistDiff(this.cache, items);
    // The cache changes first: a handler that reads it sees the state it is told about.
    this.cache = new Map();
    this.indexed = new Map();
    for (const o of items) this.put(keyOf(o), o);
    this.resourceVersion = resourceVersion;
    for (const obj of diff.deleted) this.emit('delete', obj, true);
    for (const obj of diff.added) this.emit('add', obj);
    for (const { oldObj, newObj } of diff.updated) this.emit('update', oldObj, newObj);
    this.notify('onList', { path: this.opts.path, reason, items: items.length, pages, resourceVersion });
    if (!this.synced) {
      this.synced = true;
      for (const done of this.syncWaiters) done();
      this.syncWaiters.clear();
    }
  }

  private async listAll(
    signal: AbortSignal,
  ): Promise<{ items: T[]; resourceVersion: string; pages: number }> {
    const { path, labelSelector, fieldSelector } = this.opts;
    let limit: number | undefined = this.opts.pageSize ?? 500;
    let items: T[] = [];
    let cont: string | undefined;
    let pages = 0;
    for (;;) {
      let page: ListJson<T>;
      try {
        // No resourceVersion: a consistent read of the newest state. A relist after 410 must never
        // go back in time, which a list served from a possibly stale cache (resourceVersion=0) could.
        page = await this.http.getJson(path, { labelSelector, fieldSelector, limit, continue: cont }, signal);
      } catch (err) {
        // A continue token reads an etcd snapshot, and expires (410) when that is compacted. Like
        // client-go's pager, start over with one unpaged list instead of failing the whole list.
        if (isGone(err) && cont !== undefined) {
          [items, cont, limit, pages] = [[], undefined, undefined, 0];
          continue;
        }
        throw err;
      }
      pages++;
      // List items come without apiVersion/kind, watch events with; fill them in so cached objects
      // look the same whichever way they arrived.
      const kind = page.kind?.replace(/List$/, '');
      for (const item of page.items ?? []) {
        items.push(this.shape(item.kind ? item : ({ apiVersion: page.apiVersion, kind, ...item } as T)));
      }
      cont = page.metadata?.continue || undefined;
      if (!cont) {
        const resourceVersion = page.metadata?.resourceVersion;
        if (!resourceVersion) throw new Error(`GET ${path}: the list has no metadata.resourceVersion`);
        return { items, resourceVersion, pages };
      }
    }
  }

  /** One watch from the current resourceVersion, until the apiserver ends it or it fails. */
  private async watchOnce(signal: AbortSignal): Promise<void> {
    const { path, labelSelector, fieldSelector } = this.opts;
    const resourceVersion = this.resourceVersion ?? '';
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? Math.floor(300 + Math.random() * 300);
    // The apiserver ends every watch after timeoutSeconds. One still open well past that is on a
    // connection that died without a FIN (a NAT or load balancer dropped it): give up on it.
    const dead = new AbortController();
    const deadline = this.clock.setTimeout(
      () => dead.abort(new Error(`GET ${path}: watch still open ${timeoutSeconds + 30}s after its timeout`)),
      (timeoutSeconds + 30) * 1000,
    );
    const started = this.clock.now();
    let events = 0;
    this.notify('onWatch', { path, resourceVersion });
    try {
      await this.http.watch(
        path,
        {
          watch: true,
          resourceVersion,
          allowWatchBookmarks: true,
          labelSelector,
          fieldSelector,
          timeoutSeconds,
        },
        AbortSignal.any([signal, dead.signal]),
        (e) => {
          events++;
          this.apply(e);
        },
      );
    } finally {
      this.clock.clearTimeout(deadline);
    }
    if (events === 0 && this.clock.now() - started < MIN_WATCH_MS) {
      throw new Error(
        `GET ${path}: the watch from resourceVersion ${resourceVersion} ended at once without events`,
      );
    }
  }

  private apply(e: WatchEvent): void {
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const obj = this.shape(e.object as T);
        const key = keyOf(obj);
        const old = this.cache.get(key);
        this.put(key, obj);
        this.advance(obj);
        if (old) this.emit('update', old, obj);
        else this.emit('add', obj);
        return;
      }
      case 'DELETED': {
        const obj = this.shape(e.object as T);
        this.remove(keyOf(obj));
        this.advance(obj);
        this.emit('delete', obj, false);
        return;
      }
      case 'BOOKMARK':
        // Carries only a resourceVersion: the point a resumed watch may start from, so a quiet
        // collection's watch does not fall out of the window while nothing changes in it.
        this.advance(e.object as KubernetesObject);
        return;
      case 'ERROR':
        // Thrown to the run loop: code 410 relists, anything else retries with back-off.
        throw statusError(`watch ${this.opts.path}`, e.object as ApiStatus);
      default:
        // An event type this code does not know: skip it rather than break the watch.
        return;
    }
  }

  private advance(obj: KubernetesObject): void {
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    this.applied++;
  }

  private emit<E extends InformerEvent>(event: E, ...args: Parameters<InformerHandlers<T>[E]>): void {
    for (const fn of this.handlers[event]) {
      try {
        (fn as (...a: typeof args) => void)(...args);
      } catch (err) {
        // A handler bug must not stop the informer, nor keep the other handlers from hearing the event.
        const obj = (event === 'update' ? args[1] : args[0]) as KubernetesObject;
        const error = new Error(`${event} handler for ${safeKey(obj)} threw: ${asError(err).message}`, {
          cause: err,
        });
        this.report(error, { phase: 'handler' });
      }
    }
  }

  private scheduleResync(signal: AbortSignal): void {
    this.resyncTimer = this.clock.setTimeout(() => {
      if (signal.aborted) return;
      if (this.synced) for (const obj of [...this.cache.values()]) this.emit('resync', obj);
      this.scheduleResync(signal);
    }, this.opts.resyncMs ?? 0);
  }

  private report(err: Error, info: { phase: InformerPhase; retryInMs?: number }): void {
    this.notify('onError', err, { path: this.opts.path, ...info });
  }

  // An observer is a log or a metric; its failure must not stop the informer or look like a failed list.
  private notify<M extends keyof InformerObserver>(
    method: M,
    ...args: Parameters<NonNullable<InformerObserver[M]>>
  ): void {
    try {
      (this.observer[method] as ((...a: typeof args) => void) | undefined)?.apply(this.observer, args);
    } catch {
      // ignored on purpose, see above
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function safeKey(obj: KubernetesObject): string {
  try {
    return keyOf(obj);
  } catch {
    return '(unnamed object)';
  }
}

function logError(err: Error, info: { path: string; phase: InformerPhase; retryInMs?: number }): void {
  console.error(JSON.stringify({ level: 'error', msg: 'informer error', ...info, error: err.message }));
}

/**
 * resourceVersions are opaque to clients in general, but every apiserver backed by etcd issues
 * increasing integers; anything else is treated as not newer, so the watch stays the authority.
 */
function isNewer(a: KubernetesObject, b: KubernetesObject): boolean {
  const ra = a.metadata?.resourceVersion;
  const rb = b.metadata?.resourceVersion;
  if (!ra || !rb || !/^\d+$/.test(ra) || !/^\d+$/.test(rb)) return false;
  return BigInt(ra) > BigInt(rb);
}

/** `${namespace}\0${value}`: where an object sits in one index; undefined when it has no value. */
function indexKey<T extends KubernetesObject>(
  obj: T,
  valueOf: (obj: T) => string | undefined,
): string | undefined {
  const value = valueOf(obj);
  return value === undefined ? undefined : `${obj.metadata?.namespace ?? ''}\0${value}`;
}
