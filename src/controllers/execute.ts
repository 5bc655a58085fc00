// Carries out the desired-state step's writes, stage by stage, and tells the reconcile how a write
// that could not be made failed: a name someone else's object holds (a NameConflict), an object
// replaced under modelship by another of the same name (reconcile again), or an answer to report.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import { controlledBy, describeController, type NameConflict } from '../core/ownership.js';
import { refOf } from '../desired/desire.js';
import type { Desired, Write } from '../desired/types.js';
import { isUidMismatch, type KubeClient } from '../k8s/client.js';
import { ApiError } from '../k8s/kube-http.js';
import type { Caches } from './caches.js';

/** A create found its name held by an object this ModelDeployment does not control. */
export class NameConflictError extends Error {
  constructor(
    readonly conflict: NameConflict,
    readonly conflicts: readonly NameConflict[] = [conflict],
  ) {
    super(conflicts.map((c) => `${c.kind} ${c.name} ${c.holder}`).join('; '));
    this.name = 'NameConflictError';
  }
}

/** A write the apiserver refused, with the object it was for (a 422's reason depends on the kind). */
export class WriteError extends ApiError {
  constructor(
    readonly write: { kind: string; name: string },
    cause: ApiError,
  ) {
    super(cause.code, cause.reason, cause.message, cause.causes, cause.fields);
    this.name = 'WriteError';
  }
}

export interface ExecuteDeps {
  client: KubeClient;
  caches: Caches;
}

/** Every stage in order; within a stage the writes go out together. */
export async function execute(deps: ExecuteDeps, md: ModelDeployment, desired: Desired): Promise<void> {
  for (const stage of desired.stages) await all(stage.map((w) => run(deps, md, w)));
}

async function run(deps: ExecuteDeps, md: ModelDeployment, w: Write): Promise<void> {
  const { client } = deps;
  const target = w.op === 'patch' || w.op === 'delete' ? w.ref : refOf(w.object, md.metadata!.namespace!);
  try {
    let written: KubernetesObject | undefined;
    switch (w.op) {
      case 'create':
        written = await client.applyNew(w.object);
        break;
      case 'update':
        written = await client.applyTo(w.object, w.uid);
        break;
      case 'patch':
        written = await client.mergePatch<KubernetesObject>(
          w.ref.apiVersion,
          w.ref.kind,
          w.ref.namespace,
          w.ref.name,
          w.patch,
          w.uid,
        );
        break;
      case 'replace':
        written = await client.replace(w.object);
        break;
      case 'delete':
        await client.delete(w.ref.apiVersion, w.ref.kind, w.ref.namespace, w.ref.name, w.uid);
        return;
    }
    if (written) deps.caches.ofKind(target.kind)?.observeWrite(written);
  } catch (err) {
    if (w.op === 'create' && err instanceof ApiError && err.code === 409) {
      // The name is taken. By an object of ours the cache has not seen yet (a create of the last
      // reconcile), or by someone else's: a live read tells which. Ours goes into the cache and the
      // reconcile runs again; someone else's is never written to.
      const live = await client.get(target.apiVersion, target.kind, target.namespace, target.name);
      if (live && !controlledBy(live, md)) {
        throw new NameConflictError({
          apiVersion: target.apiVersion,
          kind: target.kind,
          name: target.name,
          holder: describeController(live),
        });
      }
      if (live) deps.caches.ofKind(target.kind)?.observeWrite(live);
      throw err;
    }
    if (w.op === 'delete' && isUidMismatch(err)) {
      // The name holds another object now: it is not ours to delete, and ours is gone.
      return;
    }
    if (isUidMismatch(err)) {
      // Ours was deleted (and perhaps made again by someone else) since the cache saw it: reconcile
      // again from fresh state, where the name is free or a conflict.
      throw new ApiError(
        409,
        'Conflict',
        `${target.kind} ${target.name} changed under the reconcile: ${(err as Error).message}`,
      );
    }
    if (err instanceof ApiError) throw new WriteError({ kind: target.kind, name: target.name }, err);
    throw err;
  }
}

/**
 * Waits for every write (unlike Promise.all, also after one has failed, so no write of this stage is
 * still in flight when the next stage or the next reconcile starts), then throws the first error,
 * a name conflict before any other.
 */
async function all(writes: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(writes);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const conflict = failed.find((r) => r.reason instanceof NameConflictError);
  if (conflict ?? failed[0]) throw (conflict ?? failed[0])!.reason;
}
