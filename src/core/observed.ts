// What the reconcile observes of the world, reduced to what the pure core decides on: the I/O shell
// reads the objects from its informer caches and turns them into these here (toObservedRevisions);
// tests build them directly. Pure.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import { ANNOTATION_VERSION, LABEL_DEPLOYMENT, LABEL_REVISION } from './labels.js';
import { controlledBy } from './ownership.js';
import { parseTime } from './time.js';

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
      const last = cs.lastState?.terminated;
      waitingMessage = [w.message, last ? lastExit(cs.name, last) : undefined].filter(Boolean).join('; ');
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
