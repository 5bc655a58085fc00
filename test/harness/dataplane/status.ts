// What the data plane's kubelet reports: a pod's status from the state of its sandbox and
// containers, with the kubelet's conventions (conditions, phase, container states, restart counts,
// the CrashLoopBackOff back-off). Pure: time is an argument.

export interface Terminated {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
  containerID?: string;
}

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: Terminated };

/** One container of the pod as the kubelet tracks it across restarts. */
export interface ContainerRecord {
  name: string;
  image: string;
  state: ContainerState;
  lastState?: { terminated: Terminated };
  restartCount: number;
  ready: boolean;
  started: boolean;
  containerID?: string;
}

export interface PodRecord {
  startTime: string;
  hostIP: string;
  podIP?: string;
  /** The sandbox (network namespace, volumes) is up: PodReadyToStartContainers. */
  sandboxReady: boolean;
  init: ContainerRecord[];
  main: ContainerRecord[];
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
  lastProbeTime?: null;
}

export interface ContainerStatusJson {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  state: ContainerState;
  lastState: { terminated?: Terminated };
  ready: boolean;
  started: boolean;
  restartCount: number;
}

export interface PodStatusJson {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  conditions: PodCondition[];
  hostIP: string;
  hostIPs: Array<{ ip: string }>;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  startTime: string;
  initContainerStatuses?: ContainerStatusJson[];
  containerStatuses: ContainerStatusJson[];
}

/** A kubelet's initial back-off after a container exits, doubled per restart up to the cap. */
export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;

/**
 * The kubelet's CrashLoopBackOff (kuberuntime doBackOff): the first restart is at once; the n-th
 * next one waits 10 s * 2^(n-1) from the previous exit, up to 5 minutes. `restarts` counts the
 * restarts so far of this container (its restartCount).
 */
export function crashBackoffMs(restarts: number): number {
  if (restarts <= 0) return 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (restarts - 1));
}

/** The kubelet's message for a container waiting in CrashLoopBackOff. */
export function backoffMessage(
  delayMs: number,
  container: string,
  pod: { name: string; namespace: string; uid: string },
): string {
  return `back-off ${Math.round(delayMs / 1000)}s restarting failed container=${container} pod=${pod.name}_${pod.namespace}(${pod.uid})`;
}

/** Image pull back-off (the kubelet's image back-off has the same shape). */
export function pullBackoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.max(0, attempts - 1));
}

const completed = (c: ContainerRecord): boolean =>
  'terminated' in c.state && c.state.terminated.exitCode === 0;

/**
 * The pod phase for restartPolicy Always/OnFailure pods (what Deployments make): Pending until the
 * init containers have completed and a main container has run; Running after that, also while a
 * container waits to be restarted.
 */
export function podPhase(rec: PodRecord): PodStatusJson['phase'] {
  if (!rec.init.every(completed)) return 'Pending';
  const everRan = rec.main.some(
    (c) => !('waiting' in c.state) || c.lastState !== undefined || c.restartCount > 0,
  );
  return everRan ? 'Running' : 'Pending';
}

/**
 * The status to write. `previous` (the pod's current conditions) keeps each condition's
 * lastTransitionTime while its status does not change, and PodScheduled as the scheduler wrote it.
 */
export function computePodStatus(
  rec: PodRecord,
  previous: ReadonlyArray<{ type?: string; status?: string; lastTransitionTime?: unknown }>,
  now: string,
): PodStatusJson {
  const initialized = rec.init.every(completed);
  const notInitialized = rec.init.filter((c) => !completed(c)).map((c) => c.name);
  const unready = rec.main.filter((c) => !c.ready).map((c) => c.name);
  const ready = initialized && unready.length === 0;

  const cond = (type: string, ok: boolean, reason?: string, message?: string): PodCondition => {
    const status = ok ? 'True' : 'False';
    const before = previous.find((c) => c.type === type);
    const since =
      before && before.status === status && before.lastTransitionTime
        ? String(
            before.lastTransitionTime instanceof Date
              ? before.lastTransitionTime.toISOString()
              : before.lastTransitionTime,
          )
        : now;
    return {
      type,
      status,
      ...(!ok && reason ? { reason } : {}),
      ...(!ok && message ? { message } : {}),
      lastProbeTime: null,
      lastTransitionTime: since,
    };
  };
  const notReadyMsg = `containers with unready status: [${unready.join(' ')}]`;
  const conditions: PodCondition[] = [
    cond('PodReadyToStartContainers', rec.sandboxReady),
    cond(
      'Initialized',
      initialized,
      'ContainersNotInitialized',
      `containers with incomplete status: [${notInitialized.join(' ')}]`,
    ),
    cond('Ready', ready, 'ContainersNotReady', notReadyMsg),
    cond('ContainersReady', ready, 'ContainersNotReady', notReadyMsg),
  ];
  const scheduled = previous.find((c) => c.type === 'PodScheduled');
  if (scheduled) {
    conditions.push({
      type: 'PodScheduled',
      status: scheduled.status === 'True' ? 'True' : 'False',
      lastProbeTime: null,
      lastTransitionTime: String(
        scheduled.lastTransitionTime instanceof Date
          ? scheduled.lastTransitionTime.toISOString()
          : (scheduled.lastTransitionTime ?? now),
      ),
    });
  }

  const status: PodStatusJson = {
    phase: podPhase(rec),
    conditions,
    hostIP: rec.hostIP,
    hostIPs: [{ ip: rec.hostIP }],
    startTime: rec.startTime,
    containerStatuses: rec.main.map(toJson),
  };
  if (rec.podIP) {
    status.podIP = rec.podIP;
    status.podIPs = [{ ip: rec.podIP }];
  }
  if (rec.init.length > 0) status.initContainerStatuses = rec.init.map(toJson);
  return status;
}

function toJson(c: ContainerRecord): ContainerStatusJson {
  return {
    name: c.name,
    image: c.image,
    imageID: `dataplane://${c.image}`,
    ...(c.containerID ? { containerID: c.containerID } : {}),
    state: c.state,
    lastState: c.lastState ?? {},
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
  };
}

/**
 * The terminated message as the kubelet builds it: the termination-message file's content (at most
 * 4096 bytes); with terminationMessagePolicy FallbackToLogsOnError and a failed container whose
 * file is empty, the last 80 lines (at most 2048 bytes) of its output.
 */
export function terminationMessage(
  policy: string | undefined,
  exitCode: number,
  file: string,
  logTail: string,
): string | undefined {
  const fromFile = file.slice(0, 4096);
  if (fromFile.trim() !== '') return fromFile;
  if (policy === 'FallbackToLogsOnError' && exitCode !== 0) {
    const lines = logTail.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let tail = lines.slice(-80).join('\n');
    if (Buffer.byteLength(tail) > 2048) tail = Buffer.from(tail).subarray(-2048).toString('utf8');
    return tail === '' ? undefined : tail;
  }
  return undefined;
}
