// What the informer caches keep of each object. The caches are most of the operator's memory (a
// thousand ModelDeployments mean some thousands of pods, Deployments and Services), and most of an
// object as the apiserver sends it is never read by a controller: managedFields (often the largest
// part of metadata), a pod's spec (the controllers read a pod's labels and status only), a
// Deployment's pod template (a revision's template is rendered from its ModelVersion, never read
// back; its hash is in a label). Each function returns a new object; the argument is not changed.
import type {
  KubernetesObject,
  V1Deployment,
  V1EndpointSlice,
  V1ContainerStatus,
  V1ManagedFieldsEntry,
  V1Pod,
  V1PodStatus,
  V1Service,
} from '@kubernetes/client-node';
import {
  FIELD_MANAGER,
  LABEL_DEPLOYMENT,
  LABEL_MANAGED_BY,
  LABEL_REVISION,
  LABEL_SERVICE_NAME,
} from '../core/labels.js';
import { foreignOnlyFields, type FieldPath, type ForeignFields } from '../k8s/managed-fields.js';

export function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** The labels of an EndpointSlice the caches keep: the index's, the selector's, and its Service's. */
const SLICE_LABELS = [LABEL_DEPLOYMENT, LABEL_MANAGED_BY, LABEL_SERVICE_NAME];

/** The fields of `o` named in `keys` that it has (none set to undefined). */
function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Pick<T, K>;
}

/** Only the labels named in `keep`, or none. */
function pickLabels(labels: Record<string, string> | undefined, keep: readonly string[]) {
  const own = pick(labels ?? {}, keep);
  return Object.keys(own).length ? { labels: own } : {};
}

/**
 * An EndpointSlice as the reconcile reads it: which Service it serves (its label), which pods it
 * lists and whether each is ready (core/observed.ts servingPodsByService), with each endpoint's
 * first address and the slice's ports, where the pre-traffic checks send their requests
 * (src/gates). Of metadata only the name, the version, the deletion and three labels stay (the
 * controller copies the Service's labels, annotations and owner onto every slice); zones and hints go.
 */
export function slimEndpointSlice(s: V1EndpointSlice): V1EndpointSlice {
  const m = s.metadata ?? {};
  const metadata = {
    ...pick(m, ['name', 'namespace', 'uid', 'resourceVersion', 'deletionTimestamp']),
    ...pickLabels(m.labels, SLICE_LABELS),
  };
  return {
    ...(s.apiVersion ? { apiVersion: s.apiVersion } : {}),
    ...(s.kind ? { kind: s.kind } : {}),
    metadata,
    addressType: s.addressType,
    ...(s.ports ? { ports: s.ports.map((p) => ({ name: p.name, port: p.port })) } : {}),
    endpoints: (s.endpoints ?? []).map((e) => ({
      addresses: (e.addresses ?? []).slice(0, 1),
      ...(e.conditions ? { conditions: { ready: e.conditions.ready } } : {}),
      ...(e.targetRef ? { targetRef: { kind: e.targetRef.kind, name: e.targetRef.name } } : {}),
    })),
  };
}

/**
 * A Service without what the apiserver fills in and no controller reads: its status and the
 * allocated or defaulted addressing (cluster IPs, IP families, traffic policy, session affinity).
 * Metadata (owner, labels, the applied hash, the weights annotation) and the ports, selector and
 * type the routers and the port follow-up read all stay.
 */
export function slimService(svc: V1Service): V1Service {
  const { status: _status, ...lean } = withoutManagedFields(svc);
  if (!lean.spec) return lean;
  const {
    clusterIP: _ip,
    clusterIPs: _ips,
    ipFamilies: _families,
    ipFamilyPolicy: _policy,
    internalTrafficPolicy: _internal,
    sessionAffinity: _affinity,
    ...spec
  } = lean.spec;
  return { ...lean, spec };
}

/** The labels of a pod the caches keep: the index's (its ModelDeployment) and its revision. */
const POD_LABELS = [LABEL_DEPLOYMENT, LABEL_REVISION];

/**
 * A pod as the controllers read it (core/observed.ts toPodObservation and toObservedRevisions): its
 * name, uid, resourceVersion, deletion, the two labels read (its ModelDeployment, its revision), and of its
 * status the phase, start, the Ready condition and each container's restarts, waiting reason and
 * last termination. Its spec, the other conditions, IPs, images and owner references go: at 10,000
 * ModelDeployments the pods were the largest cached kind.
 */
export function slimPod(pod: V1Pod): V1Pod {
  const {
    managedFields: _m,
    annotations: _a,
    ownerReferences: _o,
    generateName: _g,
    labels,
    ...meta
  } = pod.metadata ?? {};
  const s = pod.status;
  const ready = s?.conditions?.find((c) => c.type === 'Ready');
  const status: V1PodStatus | undefined = s && {
    ...(s.phase ? { phase: s.phase } : {}),
    ...(s.startTime ? { startTime: s.startTime } : {}),
    ...(ready
      ? {
          conditions: [
            {
              type: ready.type,
              status: ready.status,
              ...(ready.lastTransitionTime ? { lastTransitionTime: ready.lastTransitionTime } : {}),
            },
          ],
        }
      : {}),
    ...(s.initContainerStatuses ? { initContainerStatuses: s.initContainerStatuses.map(slimContainer) } : {}),
    ...(s.containerStatuses ? { containerStatuses: s.containerStatuses.map(slimContainer) } : {}),
  };
  return {
    ...(pod.apiVersion ? { apiVersion: pod.apiVersion } : {}),
    ...(pod.kind ? { kind: pod.kind } : {}),
    metadata: { ...meta, ...pickLabels(labels, POD_LABELS) },
    ...(status ? { status } : {}),
  };
}

/**
 * A container's status as core/observed.ts reads it: restarts, why it waits, and how it last ended
 * (the message a rollback's reason quotes). Image names and the running state's times go.
 */
function slimContainer(c: V1ContainerStatus): V1ContainerStatus {
  const waiting = c.state?.waiting;
  const terminated = c.lastState?.terminated;
  return {
    name: c.name,
    image: '',
    imageID: '',
    ready: c.ready,
    restartCount: c.restartCount,
    ...(waiting ? { state: { waiting } } : {}),
    ...(terminated ? { lastState: { terminated } } : {}),
  };
}

/**
 * Fields of a Deployment's spec that others may own by design: its size (modelship puts its own
 * back, but `kubectl scale` or an autoscaler owning it is not a changed template), and the restart
 * stamp of `kubectl rollout restart`, which rolls the pods without changing what they run.
 */
function driftExempt(path: FieldPath): boolean {
  return (
    path[0] === 'f:replicas' ||
    path.join('/') === 'f:template/f:metadata/f:annotations/f:kubectl.kubernetes.io/restartedAt'
  );
}

/**
 * Fields of the Deployment's spec that someone other than modelship changed or added (see
 * k8s/managed-fields.ts), by manager; empty when the spec is as modelship wrote it. Works on the
 * object as the apiserver sends it and on its cached, slim shape alike.
 */
export function specDrift(d: V1Deployment): ForeignFields[] {
  return foreignOnlyFields(d.metadata?.managedFields, FIELD_MANAGER, ['f:spec'], driftExempt);
}

/**
 * A Deployment without its pod template (a revision's template is rendered from its ModelVersion,
 * never read back; its hash is in a label) and without its status conditions (the controllers read
 * the replica counts): metadata, replicas, selector and the counts stay. Of managedFields only what
 * tells drift stays: the other managers' entries, each holding just the spec fields it owns and
 * modelship does not (none at all for a Deployment nobody else changed).
 */
export function slimDeployment(d: V1Deployment): V1Deployment {
  const drift = specDrift(d);
  const lean = withoutManagedFields(d);
  const kept: V1ManagedFieldsEntry[] = drift.map((f) => ({
    manager: f.manager,
    operation: f.operation,
    ...(f.time ? { time: new Date(f.time) } : {}),
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:spec': treeOf(f.paths) },
  }));
  const metadata = kept.length ? { ...lean.metadata, managedFields: kept } : lean.metadata;
  const { conditions: _conditions, ...status } = lean.status ?? {};
  return {
    ...lean,
    ...(metadata ? { metadata } : {}),
    ...(lean.spec ? { spec: { ...lean.spec, template: {} } } : {}),
    ...(lean.status ? { status } : {}),
  };
}

function treeOf(paths: FieldPath[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let node = root;
    for (const k of p) node = (node[k] ??= {}) as Record<string, unknown>;
  }
  return root;
}
