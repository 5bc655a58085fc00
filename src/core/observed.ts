// What the reconcile observes of the world, reduced to what the pure core decides on: the I/O shell
// reads the objects from its informer caches and turns them into these here (toObservedRevisions);
// tests build them directly. Pure.
import type { V1Deployment, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import {
  ANNOTATION_VERSION,
  LABEL_DEPLOYMENT,
  LABEL_REVISION,
  LABEL_SERVICE_NAME,
  revisionObjectName,
} from './labels.js';
import { controlledBy } from './ownership.js';
import { parseTime } from './time.js';

export interface PodObservation {
  name: string;
  /** Pod condition Ready is True. */
  ready: boolean;
  /**
   * The pod is a ready endpoint of its revision's Service: the EndpointSlice controller has
   * published it, so gateways, meshes and kube-proxy can send it requests. Between a pod's Ready and
   * this (the controller's batching, a busy control plane: seconds), a route that weights the
   * revision sends requests to a Service with no endpoint, and the gateway answers 503. Traffic
   * moves to a revision only on pods that are both (servingCount); health is judged on Ready alone.
   */
  inService: boolean;
  /** lastTransitionTime (ms) of the Ready condition, when present. */
  readyTransitionAt?: number;
  /** status.startTime (ms): when the kubelet started the pod, when present. */
  startedAt?: number;
  /** Highest restartCount over the pod's containers. */
  restarts: number;
  /** A container waiting reason worth acting on (CrashLoopBackOff, ImagePullBackOff, ...), if any. */
  waitingReason?: string;
  waitingMessage?: string;
  /** The pod has a deletionTimestamp: it no longer counts. */
  terminating: boolean;
}

export interface ObservedRevision {
  /** Revision hash (label modelship.io/revision). */
  hash: string;
  /** Exact model version (annotation modelship.io/version). */
  version: string;
  /** Replicas the revision's Deployment asks for now. */
  replicas: number;
  pods: PodObservation[];
  /** creationTimestamp of the revision's Deployment (ms). */
  createdAt: number;
}

/** Pods that count: not terminating. */
export function livePods(r: ObservedRevision): PodObservation[] {
  return r.pods.filter((p) => !p.terminating);
}

export function readyCount(r: ObservedRevision | undefined): number {
  return r ? livePods(r).filter((p) => p.ready).length : 0;
}

/** Pods that are Ready and published as ready endpoints of the revision's Service: what traffic may move to. */
export function servingCount(r: ObservedRevision | undefined): number {
  return r ? livePods(r).filter((p) => p.ready && p.inService).length : 0;
}

/** `3/4 replicas of 1.2.0 ready` and, when fewer of them are endpoints yet, how many are. */
export function readiness(r: ObservedRevision | undefined, want: number, version: string): string {
  const ready = readyCount(r);
  const serving = servingCount(r);
  return `${ready}/${want} replicas of ${version} ready${serving < ready ? ` (${serving} of them in the Service's endpoints yet)` : ''}`;
}

/** Waiting reasons the core acts on; others (ContainerCreating, PodInitializing) are normal progress. */
const NOTABLE_WAITING = /BackOff|Err|Invalid|CreateContainer|RunContainer/;

/**
 * toPodObservation's `inService`: `servingPods` holds the pods listed as ready endpoints of the
 * revision's Service; undefined means the caller knows nothing of endpoints (false).
 */
export function toPodObservation(pod: V1Pod, servingPods?: ReadonlySet<string>): PodObservation {
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
      const last = cs.lastState?.terminated;
      waitingMessage = [w.message, last ? lastExit(cs.name, last) : undefined].filter(Boolean).join('; ');
    }
  }
  const obs: PodObservation = {
    name: pod.metadata?.name ?? '',
    ready: ready?.status === 'True',
    inService: servingPods?.has(pod.metadata?.name ?? '') ?? false,
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

/**
 * Why a crash-looping container last stopped, in a line: its exit code and the end of its termination
 * message (with modelship's FallbackToLogsOnError, the tail of its output: Triton's load error, the
 * fetch script's digest mismatch). Without it a rollback's reason says only "back-off restarting".
 */
export function lastExit(
  container: string,
  t: { exitCode: number; reason?: string; message?: string },
): string {
  const lines = (t.message ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  // The line that says what went wrong, if one does (a traceback ends in "At: ... ;", a server's log
  // in its shutdown lines); else the last lines.
  const telling = [...lines].reverse().find((l) => ERROR_LINE.test(l));
  const tail = telling ?? lines.slice(-3).join(' | ');
  const cut = tail.length > 400 ? `…${tail.slice(-400)}` : tail;
  return `${container} last exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}${cut ? `: ${cut}` : ''}`;
}

const ERROR_LINE = /error|fail|mismatch|exception|refused|denied|not found|invalid|cannot|unable/i;

/**
 * Pods listed as ready endpoints, by the Service whose EndpointSlices list them
 * (label kubernetes.io/service-name). An endpoint whose `ready` is unset counts as ready, as the
 * API says consumers should read it.
 */
export function servingPodsByService(slices: readonly V1EndpointSlice[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.[LABEL_SERVICE_NAME];
    if (!svc) continue;
    const set = out.get(svc) ?? new Set<string>();
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false || e.targetRef?.kind !== 'Pod' || !e.targetRef.name) continue;
      set.add(e.targetRef.name);
    }
    out.set(svc, set);
  }
  return out;
}

/**
 * The revisions of one ModelDeployment: its Deployments labelled with a revision, with their pods,
 * each pod marked inService when an EndpointSlice of the revision's Service lists it as ready.
 */
export function toObservedRevisions(
  md: ModelDeployment,
  deployments: V1Deployment[],
  pods: V1Pod[],
  endpointSlices: readonly V1EndpointSlice[] = [],
): ObservedRevision[] {
  const name = md.metadata?.name;
  const serving = servingPodsByService(endpointSlices);
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
      pods: (byRevision.get(hash) ?? []).map((p) =>
        toPodObservation(p, serving.get(revisionObjectName(name ?? '', hash)) ?? new Set()),
      ),
      createdAt: parseTime(d.metadata?.creationTimestamp) ?? 0,
    });
  }
  return out.sort((a, b) => a.hash.localeCompare(b.hash));
}
