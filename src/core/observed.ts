// What the reconcile observes of the world, reduced to what the pure core decides on. The I/O
// shell builds these from informer caches (src/controllers/observe.ts); tests build them directly.

export interface PodObservation {
  name: string;
  /** Pod condition Ready is True. */
  ready: boolean;
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
