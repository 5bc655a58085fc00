// One pod on the data plane's node, run as a kubelet runs it: the sandbox (network namespace,
// volumes), the init containers in order (a failure restarts the container with the kubelet's
// back-off), then the main containers with their startup, readiness and liveness probes (a
// failing liveness or startup probe kills the container; an exit restarts it with back-off), the
// status written after every change, and on deletion SIGTERM, the grace period, SIGKILL, the
// sandbox removed and the pod object deleted.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import type { V1Container, V1Pod, V1Probe } from '@kubernetes/client-node';
import { ApiError, type KubeHttp } from '../../../src/k8s/kube-http.js';
import { log, type DataPlaneConfig } from './config.js';
import { containerArgv, resolveImage, type ResolvedImage } from './images.js';
import type { PodNet, PodNetwork } from './network.js';
import { runProbe, type ProbeTarget } from './probe.js';
import { startContainerProcess, type ContainerProcess } from './process.js';
import { sandboxScript, SandboxError, type HostRoot, type SandboxMount } from './sandbox.js';
import {
  backoffMessage,
  computePodStatus,
  crashBackoffMs,
  pullBackoffMs,
  terminationMessage,
  type ContainerRecord,
  type PodRecord,
  type PodStatusJson,
  type Terminated,
} from './status.js';
import { prepareVolumes } from './volumes.js';

export interface WorkerDeps {
  cfg: DataPlaneConfig;
  http: KubeHttp;
  net: PodNetwork;
  hostRoot: () => HostRoot;
}

/** A container that ran this long without failing starts its back-off afresh (kubelet: 10 min). */
const BACKOFF_RESET_MS = 10 * 60_000;

const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Resolves after `ms`, or with false as soon as `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve(!signal.aborted);
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

interface Launched {
  proc: ContainerProcess;
  containerID: string;
  startedAt: string;
  termLog: string;
  startErrorFile: string;
  target: ProbeTarget;
}

export class PodWorker {
  private pod: V1Pod;
  private readonly rec: PodRecord;
  /** Aborted when the pod is to stop (deleted, or the agent stops). */
  private readonly life = new AbortController();
  private net: PodNet | undefined;
  private volumes = new Map<string, string>();
  private graceMs = 30_000;
  private run: Promise<void> = Promise.resolve();
  private ending: Promise<void> | undefined;
  private lastWritten: PodStatusJson | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private gone = false;
  readonly uid: string;
  private readonly dir: string;
  private readonly logDir: string;

  constructor(
    pod: V1Pod,
    private readonly deps: WorkerDeps,
  ) {
    this.pod = pod;
    const m = pod.metadata!;
    this.uid = m.uid!;
    this.dir = join(deps.cfg.stateDir, 'pods', this.uid);
    this.logDir = join(deps.cfg.stateDir, 'logs', `${m.namespace}_${m.name}_${m.uid}`);
    const hasInit = (pod.spec?.initContainers ?? []).length > 0;
    const record = (c: V1Container, reason: string): ContainerRecord => ({
      name: c.name,
      image: c.image ?? '',
      state: { waiting: { reason } },
      restartCount: 0,
      ready: false,
      started: false,
    });
    this.rec = {
      startTime: nowIso(),
      hostIP: deps.cfg.gateway,
      sandboxReady: false,
      init: (pod.spec?.initContainers ?? []).map((c) => record(c, 'PodInitializing')),
      main: (pod.spec?.containers ?? []).map((c) =>
        record(c, hasInit ? 'PodInitializing' : 'ContainerCreating'),
      ),
    };
  }

  private get key(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  start(): void {
    this.run = this.lifecycle().catch((e: unknown) =>
      log('error', 'pod worker failed', { pod: this.key, error: String(e) }),
    );
  }

  /** A newer state of the pod from the watch. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      void this.end(grace * 1000, true);
    }
  }

  /** The pod object is gone (force-deleted): stop at once, nothing left to delete. */
  removed(): Promise<void> {
    this.gone = true;
    return this.end(0, false);
  }

  /** The agent stops: stop the containers within `graceMs`, remove the sandbox, keep the pod. */
  shutdown(graceMs: number): Promise<void> {
    return this.end(graceMs, false);
  }

  private end(graceMs: number, deleteObject: boolean): Promise<void> {
    this.ending ??= (async () => {
      this.graceMs = graceMs;
      log('info', 'stopping pod', { pod: this.key, graceMs, deleteObject });
      this.life.abort();
      await this.run;
      await this.teardown();
      if (deleteObject && !this.gone) await this.deleteObject();
    })();
    return this.ending;
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  private async lifecycle(): Promise<void> {
    const signal = this.life.signal;
    this.publish();
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.setupSandbox();
        break;
      } catch (e) {
        const msg = (e as Error).message;
        log('warn', 'sandbox not ready', { pod: this.key, error: msg });
        this.event('Warning', /MountVolume/.test(msg) ? 'FailedMount' : 'FailedCreatePodSandBox', msg);
        if (!(await wait(Math.min(30_000, 1000 * 2 ** attempt), signal))) return;
      }
    }
    if (signal.aborted) return;
    this.rec.sandboxReady = true;
    this.rec.podIP = this.net!.ip;
    this.publish();
    const spec = this.pod.spec!;
    for (const [i, c] of (spec.initContainers ?? []).entries()) {
      if (!(await this.runContainer(c, this.rec.init[i]!, 'init'))) return;
    }
    await Promise.all(spec.containers.map((c, i) => this.runContainer(c, this.rec.main[i]!, 'main')));
  }

  private async setupSandbox(): Promise<void> {
    if (!this.net) this.net = await this.deps.net.create(this.uid);
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    this.volumes = await prepareVolumes(this.pod, join(this.dir, 'volumes'), this.deps.http);
  }

  private async teardown(): Promise<void> {
    if (this.net) {
      await this.deps.net
        .remove(this.net)
        .catch((e: unknown) =>
          log('error', 'could not remove the pod network', { pod: this.key, error: String(e) }),
        );
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async deleteObject(): Promise<void> {
    const m = this.pod.metadata!;
    try {
      await this.deps.http.request('DELETE', `/api/v1/namespaces/${m.namespace}/pods/${m.name}`, {
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          gracePeriodSeconds: 0,
          preconditions: { uid: m.uid },
        },
      });
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) {
        log('error', 'could not delete the pod', { pod: this.key, error: String(e) });
      }
    }
  }

  /**
   * Runs one container until it completes (init: resolves true) or the pod stops (false). Restarts
   * it after every exit but an init container's success, with the kubelet's back-off.
   */
  private async runContainer(c: V1Container, r: ContainerRecord, kind: 'init' | 'main'): Promise<boolean> {
    const signal = this.life.signal;
    let pulls = 0;
    let crashes = 0;
    while (!signal.aborted) {
      const img = resolveImage(c.image ?? '', this.deps.cfg.images);
      if (!img.ok) {
        pulls++;
        r.state = { waiting: { reason: 'ErrImagePull', message: img.reason } };
        this.publish();
        this.event('Warning', 'Failed', `Failed to pull image "${c.image}": ${img.reason}`, c.name);
        if (!(await wait(2000, signal))) return false;
        r.state = {
          waiting: {
            reason: 'ImagePullBackOff',
            message: `Back-off pulling image "${c.image}": ${img.reason}`,
          },
        };
        this.publish();
        if (!(await wait(pullBackoffMs(pulls), signal))) return false;
        continue;
      }
      let run: Launched;
      try {
        run = this.launch(c, img.image, r);
      } catch (e) {
        const msg = (e as Error).message;
        r.state = { waiting: { reason: 'CreateContainerError', message: msg } };
        this.publish();
        this.event('Warning', 'Failed', `Error: ${msg}`, c.name);
        if (!(await wait(crashBackoffMs(++crashes), signal))) return false;
        continue;
      }
      r.containerID = run.containerID;
      r.state = { running: { startedAt: run.startedAt } };
      r.started = kind === 'init' || !c.startupProbe;
      r.ready = kind === 'main' && r.started && !c.readinessProbe;
      this.publish();
      this.event('Normal', 'Started', `Started container ${c.name}`, c.name);
      const probes = kind === 'main' ? this.startProbes(c, r, run) : undefined;

      const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      await Promise.race([run.proc.exited, stopped]);
      if (signal.aborted) this.event('Normal', 'Killing', `Stopping container ${c.name}`, c.name);
      const exit = signal.aborted ? await run.proc.stop(this.graceMs) : await run.proc.exited;
      probes?.abort();
      const finishedAt = nowIso();
      const code = exit.code ?? 128 + (exit.signal ? (constants.signals[exit.signal] ?? 0) : 0);
      const startError = existsSync(run.startErrorFile)
        ? readFileSync(run.startErrorFile, 'utf8').trim()
        : '';
      const message = startError
        ? startError
        : terminationMessage(c.terminationMessagePolicy, code, readText(run.termLog), run.proc.tail());
      const term: Terminated = {
        exitCode: code,
        ...(exit.signal ? { signal: constants.signals[exit.signal] } : {}),
        reason: startError ? 'StartError' : code === 0 ? 'Completed' : 'Error',
        ...(message ? { message } : {}),
        startedAt: run.startedAt,
        finishedAt,
        containerID: run.containerID,
      };
      // A completed init container reports ready, as the kubelet's do.
      r.ready = kind === 'init' && code === 0;
      r.started = false;
      r.state = { terminated: term };
      this.publish();
      log('info', 'container exited', {
        pod: this.key,
        container: c.name,
        exitCode: code,
        signal: exit.signal,
      });
      if (signal.aborted) return false;
      if (kind === 'init' && code === 0) return true;

      // Back-off counts from this exit; a container that ran long enough starts afresh.
      if (Date.parse(finishedAt) - Date.parse(run.startedAt) > BACKOFF_RESET_MS) crashes = 0;
      const delay = crashBackoffMs(crashes++);
      if (delay > 0) {
        r.lastState = { terminated: term };
        r.state = {
          waiting: { reason: 'CrashLoopBackOff', message: backoffMessage(delay, c.name, this.ids()) },
        };
        this.publish();
        this.event(
          'Warning',
          'BackOff',
          `Back-off restarting failed container ${c.name} in pod ${this.pod.metadata?.name}`,
          c.name,
        );
        if (!(await wait(delay, signal))) return false;
      }
      r.lastState = { terminated: term };
      r.restartCount++;
    }
    return false;
  }

  private ids(): { name: string; namespace: string; uid: string } {
    const m = this.pod.metadata!;
    return { name: m.name!, namespace: m.namespace!, uid: m.uid! };
  }

  /** Builds the container's sandbox and starts its process. Throws SandboxError for what cannot run here. */
  private launch(c: V1Container, img: ResolvedImage, r: ContainerRecord): Launched {
    const spec = this.pod.spec!;
    const cdir = join(this.dir, 'containers', c.name, String(r.restartCount));
    rmSync(cdir, { recursive: true, force: true });
    mkdirSync(join(cdir, 'root'), { recursive: true });
    const termLog = join(cdir, 'termination-log');
    writeFileSync(termLog, '');
    // The kubelet makes the file writable by any user: the container may run as anyone.
    chmodSync(termLog, 0o666);
    const startErrorFile = join(cdir, 'start-error');

    const mounts: SandboxMount[] = [];
    for (const vm of c.volumeMounts ?? []) {
      if (vm.subPath || vm.subPathExpr)
        throw new SandboxError(`volume mount ${vm.name}: subPath is not supported by the data plane`);
      const source = this.volumes.get(vm.name);
      if (!source) throw new SandboxError(`volume mount ${vm.name}: the pod has no volume of that name`);
      mounts.push({ path: vm.mountPath, source, kind: 'dir', readOnly: !!vm.readOnly });
    }
    for (const [path, source] of Object.entries(img.paths)) {
      mounts.push({ path, source, kind: statSync(source).isDirectory() ? 'dir' : 'file', readOnly: true });
    }
    mounts.push({
      path: c.terminationMessagePath || '/dev/termination-log',
      source: termLog,
      kind: 'file',
      readOnly: false,
    });

    const psc = spec.securityContext ?? {};
    const csc = c.securityContext ?? {};
    const uid = csc.runAsUser ?? psc.runAsUser;
    const gid = csc.runAsGroup ?? psc.runAsGroup ?? 0;
    if ((csc.runAsNonRoot ?? psc.runAsNonRoot) && (uid === undefined || uid === 0)) {
      throw new SandboxError('container has runAsNonRoot and image will run as root');
    }
    const groups = [...(psc.fsGroup !== undefined ? [psc.fsGroup] : []), ...(psc.supplementalGroups ?? [])];
    const user = uid === undefined || uid === 0 ? undefined : { uid, gid, groups };

    const env = new Map<string, string>(Object.entries(img.env));
    env.set('HOSTNAME', this.pod.metadata!.name!);
    for (const e of c.env ?? []) env.set(e.name, this.envValue(e));
    if (!env.has('HOME')) env.set('HOME', '/');
    const envList = [...env.entries()];

    const script = sandboxScript(
      {
        root: join(cdir, 'root'),
        scratch: cdir,
        hostname: this.pod.metadata!.name!,
        mounts,
        readOnlyRootFilesystem: !!csc.readOnlyRootFilesystem,
        ...(user ? { user } : {}),
        workingDir: c.workingDir || '/',
        env: envList,
        argv: containerArgv(img, c.command, c.args),
        startErrorFile,
      },
      this.deps.hostRoot(),
    );
    const logFile = join(this.logDir, c.name, `${r.restartCount}.log`);
    const proc = startContainerProcess(this.net!.netns, script, logFile);
    return {
      proc,
      containerID: `dataplane://${randomBytes(16).toString('hex')}`,
      startedAt: nowIso(),
      termLog,
      startErrorFile,
      target: { podIP: this.net!.ip, container: c, pid: proc.pid, env: envList, ...(user ? { user } : {}) },
    };
  }

  private envValue(e: NonNullable<V1Container['env']>[number]): string {
    if (e.value !== undefined) return e.value;
    const f = e.valueFrom?.fieldRef?.fieldPath;
    const m = this.pod.metadata!;
    const fields: Record<string, string | undefined> = {
      'metadata.name': m.name,
      'metadata.namespace': m.namespace,
      'metadata.uid': m.uid,
      'spec.nodeName': this.deps.cfg.nodeName,
      'spec.serviceAccountName': this.pod.spec?.serviceAccountName,
      'status.podIP': this.net?.ip,
      'status.hostIP': this.deps.cfg.gateway,
    };
    if (f !== undefined && f in fields) return fields[f] ?? '';
    if (e.valueFrom === undefined) return '';
    throw new SandboxError(`env ${e.name}: the data plane supports value and fieldRef only`);
  }

  // ---- probes -------------------------------------------------------------------------------------

  private startProbes(c: V1Container, r: ContainerRecord, run: Launched): AbortController {
    const ac = new AbortController();
    const loop = async (kind: 'startup' | 'readiness' | 'liveness', probe: V1Probe): Promise<void> => {
      const s = ac.signal;
      if (!(await wait((probe.initialDelaySeconds ?? 0) * 1000, s))) return;
      const period = (probe.periodSeconds ?? 10) * 1000;
      let ok = 0;
      let failed = 0;
      for (;;) {
        if (kind === 'startup' && r.started) return;
        if (kind === 'startup' || r.started) {
          const res = await runProbe(probe, run.target);
          if (s.aborted) return;
          if (res.ok) {
            ok++;
            failed = 0;
          } else {
            failed++;
            ok = 0;
            const label = kind[0]!.toUpperCase() + kind.slice(1);
            this.event('Warning', 'Unhealthy', `${label} probe failed: ${res.output}`, c.name);
          }
          if (kind === 'startup') {
            if (res.ok) {
              r.started = true;
              if (!c.readinessProbe) r.ready = true;
              this.publish();
              return;
            }
          } else if (kind === 'readiness') {
            // Ready after successThreshold successes in a row, unready after failureThreshold failures.
            if (res.ok && !r.ready && ok >= (probe.successThreshold ?? 1)) {
              r.ready = true;
              this.publish();
            } else if (!res.ok && r.ready && failed >= (probe.failureThreshold ?? 3)) {
              r.ready = false;
              this.publish();
            }
          }
          if (kind !== 'readiness' && failed >= (probe.failureThreshold ?? 3)) {
            const how = kind === 'startup' ? 'startup' : 'liveness';
            this.event(
              'Normal',
              'Killing',
              `Container ${c.name} failed ${how} probe, will be restarted`,
              c.name,
            );
            const grace =
              (probe.terminationGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30) *
              1000;
            void run.proc.stop(grace);
            return;
          }
        }
        if (!(await wait(period, s))) return;
      }
    };
    if (c.startupProbe) void loop('startup', c.startupProbe);
    if (c.readinessProbe) void loop('readiness', c.readinessProbe);
    if (c.livenessProbe) void loop('liveness', c.livenessProbe);
    return ac;
  }

  // ---- status and events --------------------------------------------------------------------------

  /** Writes the status soon; several changes in a row make one write. */
  private publish(): void {
    this.dirty = true;
    this.writing ??= this.flush().finally(() => {
      this.writing = undefined;
      if (this.dirty && !this.gone) this.publish();
    });
  }

  private async flush(): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
    while (this.dirty && !this.gone) {
      this.dirty = false;
      const previous = [
        ...(this.lastWritten?.conditions ?? []),
        ...(this.pod.status?.conditions ?? []).filter((x) => x.type === 'PodScheduled'),
      ];
      const status = computePodStatus(this.rec, previous, nowIso());
      if (this.lastWritten && JSON.stringify(status) === JSON.stringify(this.lastWritten)) continue;
      const m = this.pod.metadata!;
      // Strategic merge: conditions merge by type, so a condition that turns True must drop the
      // reason and message it had (null deletes a field).
      const patch = {
        metadata: { uid: m.uid },
        status: {
          ...status,
          conditions: status.conditions.map((x) => ({ reason: null, message: null, ...x })),
        },
      };
      try {
        await this.deps.http.request('PATCH', `/api/v1/namespaces/${m.namespace}/pods/${m.name}/status`, {
          body: patch,
          contentType: 'application/strategic-merge-patch+json',
        });
        this.lastWritten = status;
      } catch (e) {
        if (e instanceof ApiError && (e.code === 404 || e.code === 422)) {
          this.gone = true;
          return;
        }
        log('warn', 'status write failed', { pod: this.key, error: String(e) });
        this.dirty = true;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string, container?: string): void {
    const m = this.pod.metadata!;
    const t = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${m.name}.`, namespace: m.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        ...(container ? { fieldPath: `spec.containers{${container}}` } : {}),
      },
      reason,
      message,
      type,
      source: { component: 'kubelet', host: this.deps.cfg.nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: this.deps.cfg.nodeName,
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
    };
    this.deps.http
      .request('POST', `/api/v1/namespaces/${m.namespace}/events`, { body })
      .catch(() => undefined);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
