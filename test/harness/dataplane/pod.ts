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
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { ApiError, type KubeHttp } from '../../../src/k8s/kube-http.js';
import { log, type DataPlaneConfig } from './config.js';
import { containerRun } from './container.js';
import { ConfigError, resolveEnvSources, type EnvSources } from './env-sources.js';
import { resolveImage, type ResolvedImage } from './images.js';
import type { PodNet, PodNetwork } from './network.js';
import { startProbes, type ProbeTarget } from './probe.js';
import { startContainerProcess, type ContainerProcess } from './process.js';
import { PodReporter } from './reporter.js';
import { sandboxScript, type HostRoot } from './sandbox.js';
import {
  backoffMessage,
  crashBackoffMs,
  pullBackoffMs,
  terminationMessage,
  type ContainerRecord,
  type PodRecord,
  type Terminated,
} from './status.js';
import { nowIso, wait } from './time.js';
import { prepareVolumes } from './volumes.js';

export interface WorkerDeps {
  cfg: DataPlaneConfig;
  http: KubeHttp;
  net: PodNetwork;
  hostRoot: () => HostRoot;
}

/** A container that ran this long without failing starts its back-off afresh (kubelet: 10 min). */
const BACKOFF_RESET_MS = 10 * 60_000;

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
  /** The containers' processes while they run. */
  private readonly running = new Set<ContainerProcess>();
  private run: Promise<void> = Promise.resolve();
  private ending: Promise<void> | undefined;
  private readonly reporter: PodReporter;
  /** The pod object was deleted for good (force-deleted): nothing to delete or write. */
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
    this.reporter = new PodReporter(deps.http, deps.cfg.nodeName, () => this.pod, this.rec);
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
    this.reporter.stop();
    return this.end(0, false);
  }

  /** The agent stops: stop the containers within `graceMs`, remove the sandbox, keep the pod. */
  shutdown(graceMs: number): Promise<void> {
    return this.end(graceMs, false);
  }

  private end(graceMs: number, deleteObject: boolean): Promise<void> {
    // Stopping already (a deletion with its grace period) and asked to be quicker (the agent
    // stops): the processes get the shorter grace, as a kubelet shortens a pod's grace period.
    if (this.ending && graceMs < this.graceMs) {
      this.graceMs = graceMs;
      for (const p of this.running) void p.stop(graceMs);
    }
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
        const sources = await resolveEnvSources(this.deps.http, this.pod.metadata!.namespace!, c);
        run = this.launch(c, img.image, r, sources);
      } catch (e) {
        const msg = (e as Error).message;
        const reason = e instanceof ConfigError ? 'CreateContainerConfigError' : 'CreateContainerError';
        r.state = { waiting: { reason, message: msg } };
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
      const probes =
        kind === 'main'
          ? startProbes(
              c,
              r,
              run.target,
              {
                publish: () => this.publish(),
                event: (type, reason, message) => this.event(type, reason, message, c.name),
                kill: (graceMs) => void run.proc.stop(graceMs),
              },
              this.pod.spec?.terminationGracePeriodSeconds ?? 30,
            )
          : undefined;

      const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      this.running.add(run.proc);
      await Promise.race([run.proc.exited, stopped]);
      if (signal.aborted) this.event('Normal', 'Killing', `Stopping container ${c.name}`, c.name);
      const exit = signal.aborted ? await run.proc.stop(this.graceMs) : await run.proc.exited;
      this.running.delete(run.proc);
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
  private launch(c: V1Container, image: ResolvedImage, r: ContainerRecord, envSources: EnvSources): Launched {
    const dir = join(this.dir, 'containers', c.name, String(r.restartCount));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'root'), { recursive: true });
    const termLog = join(dir, 'termination-log');
    writeFileSync(termLog, '');
    // The kubelet makes the file writable by any user: the container may run as anyone.
    chmodSync(termLog, 0o666);
    const startErrorFile = join(dir, 'start-error');
    const run = containerRun({
      pod: this.pod,
      container: c,
      image,
      volumes: this.volumes,
      dir,
      termLog,
      startErrorFile,
      podIP: this.net!.ip,
      nodeName: this.deps.cfg.nodeName,
      hostIP: this.deps.cfg.gateway,
      isDir: (path) => statSync(path).isDirectory(),
      envSources,
    });
    const script = sandboxScript(run.spec, this.deps.hostRoot());
    const proc = startContainerProcess(
      this.net!.netns,
      script,
      join(this.logDir, c.name, `${r.restartCount}.log`),
    );
    return {
      proc,
      containerID: `dataplane://${randomBytes(16).toString('hex')}`,
      startedAt: nowIso(),
      termLog,
      startErrorFile,
      target: {
        podIP: this.net!.ip,
        container: c,
        pid: proc.pid,
        env: run.env,
        ...(run.user ? { user: run.user } : {}),
      },
    };
  }

  private publish(): void {
    this.reporter.publish();
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string, container?: string): void {
    this.reporter.event(type, reason, message, container);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
