// From cached Kubernetes objects to what the pure core decides on. Reading happens here, from
// informer caches handed in; nothing here writes.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment, ModelVersion } from '../api/index.js';
import { ANNOTATION_VERSION, LABEL_DEPLOYMENT, LABEL_REVISION } from '../core/labels.js';
import type { ObservedRevision, PodObservation } from '../core/observed.js';
import { controlledBy } from '../core/ownership.js';
import type { Resolution } from '../core/plan.js';
import { parseTime } from '../core/time.js';

/** Waiting reasons the core acts on; others (ContainerCreating, PodInitializing) are normal progress. */
const NOTABLE_WAITING = /BackOff|Err|Invalid|CreateContainer|RunContainer/;

export function toPodObservation(pod: V1Pod): PodObservation {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  let restarts = 0;
  let waitingReason: string | undefined;
  let waitingMessage: string | undefined;
  for (const cs of statuses) {
    restarts = Math.max(restarts, cs.restartCount ?? 0);
    const w = cs.state?.waiting;
    if (!waitingReason && w?.reason && NOTABLE_WAITING.test(w.reason)) {
      waitingReason = w.reason;
      waitingMessage = w.message;
    }
  }
  const obs: PodObservation = {
    name: pod.metadata?.name ?? '',
    ready: ready?.status === 'True',
    restarts,
    terminating: !!pod.metadata?.deletionTimestamp,
  };
  const t = parseTime(ready?.lastTransitionTime);
  if (t !== undefined) obs.readyTransitionAt = t;
  const started = parseTime(pod.status?.startTime);
  if (started !== undefined) obs.startedAt = started;
  if (waitingReason) obs.waitingReason = waitingReason;
  if (waitingMessage) obs.waitingMessage = waitingMessage;
  return obs;
}

/** The revisions of one ModelDeployment: its Deployments labelled with a revision, with their pods. */
export function toObservedRevisions(
  md: ModelDeployment,
  deployments: V1Deployment[],
  pods: V1Pod[],
): ObservedRevision[] {
  const name = md.metadata?.name;
  const byRevision = new Map<string, V1Pod[]>();
  for (const p of pods) {
    const l = p.metadata?.labels ?? {};
    if (l[LABEL_DEPLOYMENT] !== name || !l[LABEL_REVISION]) continue;
    const list = byRevision.get(l[LABEL_REVISION]) ?? [];
    list.push(p);
    byRevision.set(l[LABEL_REVISION], list);
  }
  const out: ObservedRevision[] = [];
  for (const d of deployments) {
    const l = d.metadata?.labels ?? {};
    const hash = l[LABEL_REVISION];
    if (l[LABEL_DEPLOYMENT] !== name || !hash) continue;
    if (!controlledBy(d, md)) continue;
    out.push({
      hash,
      version: d.metadata?.annotations?.[ANNOTATION_VERSION] ?? '',
      replicas: d.spec?.replicas ?? 0,
      pods: (byRevision.get(hash) ?? []).map(toPodObservation),
      createdAt: parseTime(d.metadata?.creationTimestamp) ?? 0,
    });
  }
  return out.sort((a, b) => a.hash.localeCompare(b.hash));
}

/**
 * Finds the ModelVersion the spec names. The schema cannot know what exists, so every way this can
 * go wrong becomes a reason and a message for a condition; nothing serving is touched.
 * `versions` need only hold the spec's model's versions (others are skipped); `allVersions`, read
 * only when none matches, gives the hint that the version exists under another model.
 */
export function resolveModelVersion(
  md: ModelDeployment,
  versions: ModelVersion[],
  servingRuntime: string | undefined,
  allVersions: () => ModelVersion[] = () => versions,
): { mv: ModelVersion } | Extract<Resolution, { ok: false }> {
  const { model, version } = md.spec;
  const ns = md.metadata?.namespace;
  const ofModel = versions.filter((v) => v.spec.model === model && v.metadata?.namespace === ns);
  const exact = ofModel.filter((v) => v.spec.version === version);
  if (exact.length === 0) {
    const elsewhere = allVersions().find((v) => v.spec.version === version && v.metadata?.namespace === ns);
    const known = ofModel
      .map((v) => v.spec.version)
      .sort()
      .slice(-5);
    return {
      ok: false,
      reason: 'ModelVersionNotFound',
      message:
        `no ModelVersion of model ${model} with version ${version} in namespace ${ns}` +
        (elsewhere
          ? ` (version ${version} exists for model ${elsewhere.spec.model}: check spec.model)`
          : '') +
        (known.length
          ? `; known versions of ${model}: ${known.join(', ')}`
          : `; create the ModelVersion first`),
    };
  }
  if (exact.length > 1) {
    return {
      ok: false,
      reason: 'AmbiguousModelVersion',
      message: `ModelVersions ${exact.map((v) => v.metadata?.name).join(', ')} all declare model ${model} version ${version}; delete all but one`,
    };
  }
  const mv = exact[0]!;
  if (mv.metadata?.deletionTimestamp && !servingRuntime) {
    return {
      ok: false,
      reason: 'ModelVersionDeleting',
      message: `ModelVersion ${mv.metadata.name} is being deleted`,
    };
  }
  if (servingRuntime && mv.spec.runtime !== servingRuntime) {
    return {
      ok: false,
      reason: 'RuntimeMismatch',
      message: `version ${version} uses runtime ${mv.spec.runtime} but the serving version uses ${servingRuntime}; clients of one runtime's API would break on the other. Deploy it as a new ModelDeployment`,
    };
  }
  return { mv };
}
