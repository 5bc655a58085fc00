// The operator's writes. Every object it writes goes through server-side apply under one field
// manager, so the apiserver merges its fields with anyone else's and the operator never needs a
// read-modify-write of a whole object (and never touches a user's spec).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Fence } from './fence.js';
import { ApiError, KubeHttp } from './kube-http.js';
import { BUILTIN_KINDS, EVENT, KindTable, resourcePath, type ResourceKind } from './resources.js';

export interface KubeClientOptions {
  /** The manager of every write (and the component the Events report). */
  fieldManager: string;
  /** The kinds besides Kubernetes' own (k8s/resources.ts) that the client names by apiVersion and kind. */
  kinds: Iterable<ResourceKind>;
  /** Leader election's fence (see the constructor). */
  fence?: Fence;
}

/**
 * The resourceVersion of a create-only apply. resourceVersions are etcd revisions, and etcd's first
 * write is revision 2, so no stored object has this one: as a precondition it fails for any object.
 */
const CREATE_ONLY = '1';

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

/**
 * The write named an object by uid (applyTo, mergePatch with uid, delete with uid) and the name holds
 * another object now, or none: 422 with a cause on metadata.uid for an update, 409 for a delete
 * or an apply that found no object.
 */
export function isUidMismatch(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  if (err.code === 422) return err.fields.includes('metadata.uid');
  return err.code === 409 && /uid mismatch|UID in (the )?precondition/i.test(err.message);
}

export class KubeClient {
  readonly http: KubeHttp;
  private readonly instance = `${hostname()}-${process.pid}`;
  private readonly kinds: KindTable;
  private readonly fieldManager: string;

  /**
   * With a `fence` (leader election), every request is checked against it just before it is sent
   * and aborted when it closes: a replica that no longer leads cannot write, whatever reconcile is
   * in flight.
   */
  constructor(kc: KubeConfig, opts: KubeClientOptions) {
    this.http = new KubeHttp(kc, opts.fence ? { fence: opts.fence } : {});
    this.kinds = new KindTable([...BUILTIN_KINDS, ...opts.kinds]);
    this.fieldManager = opts.fieldManager;
  }

  private path(apiVersion: string, kind: string, namespace: string | undefined, name?: string): string {
    return this.kinds.path(apiVersion, kind, namespace, name);
  }

  /**
   * Server-side apply with force: the client's field manager takes the fields it sets, fields it no
   * longer sets are removed (they were ours), and fields of other managers are left alone.
   */
  async apply<T extends KubernetesObject>(obj: T, subresource?: 'status'): Promise<T> {
    const { apiVersion, kind, metadata } = obj;
    if (!apiVersion || !kind || !metadata?.name)
      throw new Error('apply needs apiVersion, kind and metadata.name');
    const path =
      this.path(apiVersion, kind, metadata.namespace, metadata.name) + (subresource ? `/${subresource}` : '');
    return this.http.request<T>('PATCH', path, {
      query: { fieldManager: this.fieldManager, force: true },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /**
   * Server-side apply that only creates: the body carries a resourceVersion no stored object can
   * have, so the apiserver creates the object when the name is free (an apply that creates ignores
   * the resourceVersion) and answers 409 when any object holds the name. One request, no window
   * between a read and a write in which someone else's object could appear and be taken over.
   * Pinned against the real apiserver by test/integration/ownership-preconditions.test.ts.
   */
  async applyNew<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.apply({ ...obj, metadata: { ...obj.metadata, resourceVersion: CREATE_ONLY } });
  }

  /**
   * Server-side apply to an object modelship made, named by its uid: if the name now holds another
   * object (deleted and made again by someone else), the apiserver refuses the write (422, uid
   * immutable) instead of changing that object.
   */
  async applyTo<T extends KubernetesObject>(obj: T, uid: string): Promise<T> {
    return this.apply({ ...obj, metadata: { ...obj.metadata, uid } });
  }

  /**
   * A JSON merge patch (the size of revisions modelship no longer renders, a Service's port); with
   * `uid`, only to that object (see applyTo).
   */
  async mergePatch<T>(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    patch: Record<string, unknown>,
    uid?: string,
  ): Promise<T> {
    const body = uid ? { ...patch, metadata: { ...(patch.metadata as object | undefined), uid } } : patch;
    return this.http.request<T>('PATCH', this.path(apiVersion, kind, namespace, name), {
      query: { fieldManager: this.fieldManager },
      body,
      contentType: 'application/merge-patch+json',
    });
  }

  /**
   * Replaces an object whole (PUT). The body's resourceVersion and uid make it conditional: it fails
   * with 409 if the object changed since it was read or is another object of the same name.
   */
  async replace<T extends KubernetesObject>(obj: T): Promise<T> {
    const { apiVersion, kind, metadata } = obj;
    if (!apiVersion || !kind || !metadata?.name || !metadata.resourceVersion || !metadata.uid)
      throw new Error('replace needs apiVersion, kind, metadata.name, resourceVersion and uid');
    return this.http.request<T>('PUT', this.path(apiVersion, kind, metadata.namespace, metadata.name), {
      query: { fieldManager: this.fieldManager },
      body: obj,
    });
  }

  /**
   * A read past the operator's caches; undefined when the object does not exist. `fromWatchCache`
   * lets the apiserver answer from its watch cache (resourceVersion=0: no etcd read, possibly a
   * moment old), for a check that a precondition on the write backs up.
   */
  async get<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    opts: { fromWatchCache?: boolean } = {},
  ): Promise<T | undefined> {
    try {
      return await this.http.request<T>('GET', this.path(apiVersion, kind, namespace, name), {
        ...(opts.fromWatchCache ? { query: { resourceVersion: '0' } } : {}),
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Deletes; an object already gone is not an error. Background propagation, as kubectl does. With
   * `uid`, only that object: another object of the same name is left alone (409).
   */
  async delete(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    uid?: string,
  ): Promise<void> {
    try {
      await this.http.request('DELETE', this.path(apiVersion, kind, namespace, name), {
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: 'Background',
          ...(uid ? { preconditions: { uid } } : {}),
        },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** A core/v1 Event on `about`, as kubectl describe and `kubectl get events` show them. */
  async event(
    about: KubernetesObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const ns = about.metadata?.namespace ?? 'default';
    const now = new Date().toISOString();
    await this.http.request('POST', resourcePath(EVENT, ns), {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${about.metadata?.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
        involvedObject: {
          apiVersion: about.apiVersion,
          kind: about.kind,
          name: about.metadata?.name,
          namespace: ns,
          uid: about.metadata?.uid,
          resourceVersion: about.metadata?.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.fieldManager },
        reportingComponent: this.fieldManager,
        reportingInstance: this.instance.slice(0, 128),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
