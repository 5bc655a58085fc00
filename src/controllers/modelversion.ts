// reconcile(ModelVersion key): who uses this version (status.usedBy), and the finalizer that keeps a
// version in use from disappearing under a ModelDeployment that serves it or may roll back to it.
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment, ModelVersion, ModelVersionStatus } from '../api/index.js';
import { API_VERSION, MODEL_VERSION_KIND } from '../api/index.js';
import { computeConditions } from '../core/conditions.js';
import { deepEqual } from '../core/equal.js';
import { ANNOTATION_MODEL_VERSION_NAME, LABEL_DEPLOYMENT } from '../core/labels.js';
import { splitKey } from '../k8s/informer.js';
import type { ReconcileResult } from '../k8s/workqueue.js';
import { getRuntime } from '../runtimes/index.js';
import { BY_MODEL, BY_MODEL_VERSION } from './caches.js';
import type { ReconcileDeps } from './deps.js';

export const IN_USE_FINALIZER = 'modelship.io/in-use-protection';

/** status.usedBy holds at most this many names (the CRD's maxItems); usedByCount has the total. */
export const USED_BY_LIMIT = 256;
/** ModelDeployments named in the InUse condition's message; the rest are counted. */
const USED_BY_IN_MESSAGE = 10;

/**
 * What the status says about the users (sorted names): the total, the first USED_BY_LIMIT names,
 * and a message naming a few. Without the cap, the 257th ModelDeployment of a version made every
 * status write fail validation (422) and retry for ever; the message has a cap of its own, since
 * a condition message may not exceed 32,768 characters and names may be 253 long.
 */
export function summarizeUsers(users: string[]): { count: number; listed: string[]; text: string } {
  const named = users.slice(0, USED_BY_IN_MESSAGE).map((u) => `ModelDeployment ${u}`);
  const more = users.length - named.length;
  return {
    count: users.length,
    listed: users.slice(0, USED_BY_LIMIT),
    text: more > 0 ? `${named.join(', ')} and ${more} more (${users.length} in all)` : named.join(', '),
  };
}

/**
 * In use: a ModelDeployment's spec names this version, or its status serves it (stable or canary),
 * or one of its revisions built from it still has pods. Scaled-to-zero history revisions do not
 * hold a version: a revision keeps its own pod template, so a fail-over can still scale it up after
 * its ModelVersion is gone (the record of that version is then lost, not the ability to serve it).
 */
export function computeUsers(
  mv: ModelVersion,
  mds: ModelDeployment[],
  deployments: V1Deployment[],
): string[] {
  const ns = mv.metadata?.namespace;
  const users = new Set<string>();
  for (const md of mds) {
    if (md.metadata?.namespace !== ns || md.spec.model !== mv.spec.model) continue;
    const v = mv.spec.version;
    if (md.spec.version === v || md.status?.stableVersion === v || md.status?.canaryVersion === v)
      users.add(md.metadata!.name!);
  }
  for (const d of deployments) {
    const owner = d.metadata?.labels?.[LABEL_DEPLOYMENT];
    if (
      owner &&
      d.metadata?.namespace === ns &&
      d.metadata?.annotations?.[ANNOTATION_MODEL_VERSION_NAME] === mv.metadata?.name &&
      (d.spec?.replicas ?? 0) > 0
    ) {
      users.add(owner);
    }
  }
  return [...users].sort();
}

export async function reconcileModelVersion(deps: ReconcileDeps, key: string): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  let mv = deps.caches.modelVersions.get(namespace, name);
  if (!mv || !namespace) return;
  // The candidates come from the caches' indexes (the ModelDeployments of this model, the
  // Deployments built from this version); computeUsers decides which of them use it.
  const users = computeUsers(
    mv,
    deps.caches.modelDeployments.byIndex(BY_MODEL, namespace, mv.spec.model),
    deps.caches.deployments.byIndex(BY_MODEL_VERSION, namespace, name),
  );
  const deleting = !!mv.metadata?.deletionTimestamp;
  const hasFinalizer = (mv.metadata?.finalizers ?? []).includes(IN_USE_FINALIZER);
  const ref = { apiVersion: API_VERSION, kind: MODEL_VERSION_KIND, metadata: { name, namespace } };
  // The finalizer writes name the uid the cache holds: server-side apply creates an object that does
  // not exist, so without it a cache that has not yet seen the deletion would re-create the
  // ModelVersion it just released. With it, the apiserver answers 409 (uid mismatch) and the key
  // is reconciled again once the cache has caught up.
  const guarded = (finalizers: string[]) =>
    ({ ...ref, metadata: { ...ref.metadata, uid: mv!.metadata?.uid, finalizers } }) as KubernetesObject;

  if (deleting && users.length === 0) {
    if (hasFinalizer) {
      // Applying no finalizers drops the one modelship owns; other controllers' entries stay.
      await deps.client.apply(guarded([]));
      deps.log.info('model version released', { key, reason: 'NotInUse' });
    }
    return;
  }
  if (!deleting && !hasFinalizer) {
    const written = await deps.client.apply(guarded([IN_USE_FINALIZER]));
    // The status write below is conditional on the resourceVersion this write produced.
    deps.caches.modelVersions.observeWrite(written as ModelVersion);
    mv = written as ModelVersion;
  }

  let invalid: string | undefined;
  let unmaintained: { since: string; message: string } | undefined;
  try {
    const runtime = getRuntime(mv.spec.runtime);
    unmaintained = runtime.unmaintained;
    runtime.renderPod(mv, deps.settings, 'validation');
  } catch (err) {
    invalid = (err as Error).message;
  }
  const nowIso = new Date(deps.now()).toISOString();
  const summary = summarizeUsers(users);
  const usedBy = summary.text;
  const status: ModelVersionStatus = {
    observedGeneration: mv.metadata?.generation ?? 0,
    phase: deleting ? 'Terminating' : invalid ? 'Invalid' : users.length ? 'InUse' : 'Available',
    usedByCount: summary.count,
    usedBy: summary.listed.map((u) => ({ name: u })),
    conditions: computeConditions(
      mv.status?.conditions,
      [
        invalid
          ? { type: 'Ready', status: 'False', reason: 'InvalidModelVersion', message: invalid }
          : {
              type: 'Ready',
              status: 'True',
              reason: 'Valid',
              message: `version ${mv.spec.version} can be served by ${mv.spec.runtime}`,
            },
        deleting
          ? {
              type: 'InUse',
              status: 'True',
              reason: 'DeletionBlocked',
              message: `deletion waits until no ModelDeployment uses this version; used by ${usedBy}`,
            }
          : users.length
            ? { type: 'InUse', status: 'True', reason: 'InUse', message: `used by ${usedBy}` }
            : {
                type: 'InUse',
                status: 'False',
                reason: 'NotInUse',
                message: 'no ModelDeployment uses this version',
              },
        // A warning that changes nothing: the version stays Ready and servable.
        ...(unmaintained
          ? [
              {
                type: 'RuntimeMaintained',
                status: 'False' as const,
                reason: 'UpstreamArchived',
                message: unmaintained.message,
              },
            ]
          : []),
      ],
      mv.metadata?.generation,
      nowIso,
    ),
  };
  if (!status.usedBy?.length) delete status.usedBy;
  if (!deepEqual(mv.status ?? {}, status)) {
    const written = await deps.client.apply(
      {
        ...ref,
        metadata: { ...ref.metadata, resourceVersion: mv.metadata!.resourceVersion! },
        status,
      } as KubernetesObject,
      'status',
    );
    deps.caches.modelVersions.observeWrite(written as ModelVersion);
    if (deleting)
      deps.log.info('model version deletion blocked', {
        key,
        reason: 'DeletionBlocked',
        usedBy: summary.listed.slice(0, USED_BY_IN_MESSAGE),
        usedByCount: summary.count,
      });
  }
}
