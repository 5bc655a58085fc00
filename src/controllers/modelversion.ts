// reconcile(ModelVersion key): who uses this version and why (status.usedBy), whether it serves
// traffic and when it last did (the Serving condition, status.lastServedAt), and the finalizer that
// keeps a version in use from disappearing under a ModelDeployment that serves it or may roll back to it.
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type {
  ModelDeployment,
  ModelVersion,
  ModelVersionStatus,
  ModelVersionStatusUsedByItem,
  ModelVersionStatusUsedByItemReason,
} from '../api/index.js';
import { API_VERSION, MODEL_VERSION_KIND } from '../api/index.js';
import { computeConditions } from '../core/conditions.js';
import { parseDuration } from '../core/duration.js';
import { deepEqual } from '../core/equal.js';
import { ANNOTATION_MODEL_VERSION_NAME, LABEL_DEPLOYMENT, LABEL_REVISION } from '../core/labels.js';
import { controlledBy } from '../core/ownership.js';
import { parseTime } from '../core/time.js';
import { splitKey } from '../k8s/informer.js';
import type { ReconcileResult } from '../k8s/workqueue.js';
import { getRuntime } from '../runtimes/index.js';
import { referencingStages } from '../processing/pin.js';
import { BY_MODEL, BY_MODEL_VERSION } from './caches.js';
import { observePins, PROCESSING_RECHECK_MS } from './processing.js';
import type { ReconcileDeps } from './deps.js';

export const IN_USE_FINALIZER = 'modelship.io/in-use-protection';

/** status.usedBy holds at most this many names (the CRD's maxItems); usedByCount has the total. */
export const USED_BY_LIMIT = 256;
/** ModelDeployments named in the InUse condition's message; the rest are counted. */
const USED_BY_IN_MESSAGE = 10;

/** Why a ModelDeployment holds a version (status.usedBy[].reasons), in the order they are told. */
export type UseReason = ModelVersionStatusUsedByItemReason;
const REASON_ORDER: UseReason[] = ['SpecVersion', 'Stable', 'Canary', 'WarmRevision', 'KeptRevision'];

/** One ModelDeployment that holds this version: why, and which of its revisions were built from it. */
export interface User {
  name: string;
  reasons: UseReason[];
  /** Revisions (hash, replicas) of this ModelDeployment built from this version. */
  revisions: { hash: string; replicas: number }[];
}

const revisionWords = (r: string[]) => `revision${r.length > 1 ? 's' : ''} ${r.join(', ')}`;

/** The words of the InUse message for one user: "ModelDeployment x (spec.version, keeps revision ...)". */
export function describeUser(u: User): string {
  const words = u.reasons.flatMap((r) => {
    switch (r) {
      case 'SpecVersion':
        return ['its spec.version'];
      case 'Stable':
        return ['serves it as stable'];
      case 'Canary':
        return ['rolls it out as canary'];
      case 'WarmRevision': {
        const warm = u.revisions.filter((v) => v.replicas > 0);
        return [`keeps ${revisionWords(warm.map((v) => `${v.hash} (${v.replicas} replicas)`))} warm`];
      }
      case 'KeptRevision': {
        const cold = u.revisions.filter((v) => v.replicas === 0).map((v) => v.hash);
        return [`keeps ${revisionWords(cold)} scaled to zero for a rollback (within revisionHistoryLimit)`];
      }
    }
  });
  return `ModelDeployment ${u.name} (${words.join(', ')})`;
}

/**
 * What the status says about the users (sorted by name): the total, the first USED_BY_LIMIT with
 * their reasons, and a message naming a few and why. Without the cap, the 257th ModelDeployment of a
 * version made every status write fail validation (422) and retry for ever; the message has a cap
 * of its own, since a condition message may not exceed 32,768 characters and names may be 253 long.
 */
export function summarizeUsers(users: User[]): {
  count: number;
  listed: ModelVersionStatusUsedByItem[];
  text: string;
} {
  const named = users.slice(0, USED_BY_IN_MESSAGE).map(describeUser);
  const more = users.length - named.length;
  return {
    count: users.length,
    listed: users.slice(0, USED_BY_LIMIT).map((u) => ({ name: u.name, reasons: u.reasons })),
    text: more > 0 ? `${named.join('; ')} and ${more} more (${users.length} in all)` : named.join('; '),
  };
}

/** The ModelDeployment that controls a revision Deployment (label and controller reference agree). */
function keeperOf(d: V1Deployment, lookup: (name: string) => ModelDeployment | undefined) {
  const name = d.metadata?.labels?.[LABEL_DEPLOYMENT];
  const md = name ? lookup(name) : undefined;
  // A label is no proof of ownership (anyone can copy one); the controller reference's uid is.
  return md && controlledBy(d, md) ? md : undefined;
}

/**
 * Who holds this version, i.e. what a rollback may still need: a ModelDeployment whose spec names
 * it or whose status serves it (stable or canary), or that keeps a revision built from it, with
 * pods (warm) or scaled to zero. A revision Deployment exists exactly as long as the ModelDeployment
 * keeps it (it deletes the ones beyond revisionHistoryLimit), so every one it controls counts: the
 * version of a revision a rollback can go back to stays, with its record, until the revision goes.
 */
export function computeUsers(
  mv: ModelVersion,
  mds: ModelDeployment[],
  deployments: V1Deployment[],
  lookup: (name: string) => ModelDeployment | undefined,
): User[] {
  const ns = mv.metadata?.namespace;
  const users = new Map<string, User>();
  const userOf = (name: string): User => {
    let u = users.get(name);
    if (!u) users.set(name, (u = { name, reasons: [], revisions: [] }));
    return u;
  };
  const add = (u: User, r: UseReason) => {
    if (!u.reasons.includes(r)) u.reasons.push(r);
  };
  for (const md of mds) {
    if (md.metadata?.namespace !== ns || md.spec.model !== mv.spec.model) continue;
    const v = mv.spec.version;
    const name = md.metadata!.name!;
    if (md.spec.version === v) add(userOf(name), 'SpecVersion');
    if (md.status?.stableVersion === v) add(userOf(name), 'Stable');
    if (md.status?.canaryVersion === v) add(userOf(name), 'Canary');
  }
  for (const d of deployments) {
    if (
      d.metadata?.namespace !== ns ||
      d.metadata?.annotations?.[ANNOTATION_MODEL_VERSION_NAME] !== mv.metadata?.name
    )
      continue;
    const md = keeperOf(d, lookup);
    if (!md) continue;
    const u = userOf(md.metadata!.name!);
    const replicas = d.spec?.replicas ?? 0;
    u.revisions.push({ hash: d.metadata?.labels?.[LABEL_REVISION] ?? d.metadata?.name ?? '', replicas });
    add(u, replicas > 0 ? 'WarmRevision' : 'KeptRevision');
  }
  for (const u of users.values()) {
    u.reasons.sort((a, b) => REASON_ORDER.indexOf(a) - REASON_ORDER.indexOf(b));
    u.revisions.sort((a, b) => a.hash.localeCompare(b.hash));
  }
  return [...users.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The revisions built from this version that serve traffic now: the controlling ModelDeployment's
 * status.traffic gives the revision a weight above 0 and the revision has ready pods. Sorted
 * `deployment/revision` names.
 */
export function computeServing(
  mv: ModelVersion,
  deployments: V1Deployment[],
  lookup: (name: string) => ModelDeployment | undefined,
): string[] {
  const out: string[] = [];
  for (const d of deployments) {
    if (d.metadata?.annotations?.[ANNOTATION_MODEL_VERSION_NAME] !== mv.metadata?.name) continue;
    const md = keeperOf(d, lookup);
    const hash = d.metadata?.labels?.[LABEL_REVISION];
    if (!md || !hash || (d.status?.readyReplicas ?? 0) === 0) continue;
    // Weighted traffic and cohorts are served; a mirror's copies (status.mirror) are not.
    if (
      (md.status?.traffic ?? []).some((t) => t.revision === hash && t.weight > 0) ||
      md.status?.cohort?.revision === hash
    )
      out.push(`${md.metadata!.name}/${hash}`);
  }
  return out.sort();
}

export async function reconcileModelVersion(deps: ReconcileDeps, key: string): Promise<ReconcileResult> {
  const result = await reconcileOnce(deps, key);
  // A version whose processing references a ConfigMap looks at it again (src/controllers/processing.ts).
  const { namespace, name } = splitKey(key);
  const mv = deps.caches.modelVersions.get(namespace, name);
  if (!mv || mv.metadata?.deletionTimestamp || referencingStages(mv).length === 0) return result;
  return { requeueAfterMs: Math.min(result?.requeueAfterMs ?? Infinity, PROCESSING_RECHECK_MS) };
}

async function reconcileOnce(deps: ReconcileDeps, key: string): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  let mv = deps.caches.modelVersions.get(namespace, name);
  if (!mv || !namespace) return;
  // The candidates come from the caches' indexes (the ModelDeployments of this model, the
  // Deployments built from this version); computeUsers decides which of them use it.
  const lookup = (md: string) => deps.caches.modelDeployments.get(namespace, md);
  const built = deps.caches.deployments.byIndex(BY_MODEL_VERSION, namespace, name);
  const users = computeUsers(
    mv,
    deps.caches.modelDeployments.byIndex(BY_MODEL, namespace, mv.spec.model),
    built,
    lookup,
  );
  const serving = computeServing(mv, built, lookup);
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

  const nowIso = new Date(deps.now()).toISOString();
  const pins = deleting ? undefined : await observePins(deps, mv, nowIso);
  let invalid: string | undefined;
  let unmaintained: { since: string; message: string } | undefined;
  try {
    const runtime = getRuntime(mv.spec.runtime);
    unmaintained = runtime.unmaintained;
    runtime.renderPod(mv, deps.settings, 'validation', pins?.content);
  } catch (err) {
    invalid = (err as Error).message;
  }
  const summary = summarizeUsers(users);
  const usedBy = summary.text;
  // lastServedAt is written when serving starts and when it stops, not while it goes on (a settled
  // cluster costs no writes): the Serving condition says it still does. An operator that was down
  // when it stopped records the time it noticed, later than the truth, never earlier.
  const wasServing = mv.status?.conditions?.find((c) => c.type === 'Serving')?.status === 'True';
  const lastServedAt = serving.length > 0 !== wasServing ? nowIso : mv.status?.lastServedAt;
  const status: ModelVersionStatus = {
    observedGeneration: mv.metadata?.generation ?? 0,
    phase: deleting ? 'Terminating' : invalid ? 'Invalid' : users.length ? 'InUse' : 'Available',
    ...(lastServedAt ? { lastServedAt } : {}),
    // Once recorded, a pin stays (also while the version is deleted).
    ...(pins && Object.keys(pins.pins).length
      ? { processing: pins.pins }
      : mv.status?.processing
        ? { processing: mv.status.processing }
        : {}),
    usedByCount: summary.count,
    usedBy: summary.listed,
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
              message: `deletion waits until no ModelDeployment uses this version or keeps a revision built from it; used by ${usedBy}`,
            }
          : users.length
            ? { type: 'InUse', status: 'True', reason: 'InUse', message: `used by ${usedBy}` }
            : {
                type: 'InUse',
                status: 'False',
                reason: 'NotInUse',
                message: 'no ModelDeployment uses this version',
              },
        serving.length
          ? {
              type: 'Serving',
              status: 'True',
              reason: 'ServesTraffic',
              message: `revision ${serving.join(', ')} receives traffic`,
            }
          : {
              type: 'Serving',
              status: 'False',
              reason: lastServedAt ? 'NotServing' : 'NeverServed',
              message: lastServedAt
                ? `no revision built from this version has received traffic since ${lastServedAt}`
                : 'no revision built from this version has received traffic',
            },
        ...(pins ? [pins.condition] : []),
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
  const pinnedBefore = mv.status?.conditions?.find((c) => c.type === 'ProcessingPinned');
  if (pins && pins.condition.status === 'False' && pinnedBefore?.reason !== pins.condition.reason) {
    deps.log.warn(pins.condition.message, { key, reason: pins.condition.reason });
    deps.events.record(mv, 'Warning', pins.condition.reason, pins.condition.message);
  }
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
        usedBy: summary.listed.slice(0, USED_BY_IN_MESSAGE).map((u) => u.name),
        usedByCount: summary.count,
      });
  }
  // Only a version this operator has seen before (a Serving condition in the status it read): on
  // the first look, lastServedAt may not be known yet (a status written before it was recorded).
  if (deleting || invalid || !mv.status?.conditions?.some((c) => c.type === 'Serving')) return;
  const due = computeRetireAt(mv, users.length, serving.length, lastServedAt);
  if (due === undefined) return;
  const now = deps.now();
  // At most an hour ahead: a timer longer than 2^31 ms (24.8 days) would fire at once.
  if (due > now) return { requeueAfterMs: Math.min(due - now, 3_600_000) };
  // The uid precondition deletes this ModelVersion and no other that took its name; a user that
  // appears between the cache's view and the delete is still protected: the finalizer holds the
  // version (DeletionBlocked) until that user lets go.
  await deps.client.delete(API_VERSION, MODEL_VERSION_KIND, namespace, name, mv.metadata?.uid);
  const message = `no ModelDeployment used or kept ModelVersion ${key} and it served no traffic for ${mv.spec.retirement!.deleteWhenIdleFor} (spec.retirement): deleted; its artifact ${mv.spec.storageUri} is left to the object store`;
  deps.log.info('model version retired', { key, reason: 'Retired', idleSince: lastServedAt ?? 'created' });
  deps.events.record(mv, 'Normal', 'Retired', message);
}

/**
 * When an opted-in version (spec.retirement) may be deleted: deleteWhenIdleFor after it last served
 * (or was created, if it never served), and only while no ModelDeployment holds it (spec, status, a
 * warm or scaled-to-zero revision) and nothing serves it; undefined when it may not.
 */
export function computeRetireAt(
  mv: ModelVersion,
  users: number,
  serving: number,
  lastServedAt: string | undefined,
): number | undefined {
  const after = mv.spec.retirement ? parseDuration(mv.spec.retirement.deleteWhenIdleFor) : undefined;
  if (after === undefined || users > 0 || serving > 0) return undefined;
  const since = parseTime(lastServedAt) ?? parseTime(isoOf(mv.metadata?.creationTimestamp));
  return since === undefined ? undefined : since + after;
}

const isoOf = (t: unknown): string | undefined =>
  typeof t === 'string' ? t : t instanceof Date ? t.toISOString() : undefined;
