// What the end-to-end tests share: the operator under test as a process, readers of the world the
// operator shapes (status, revision Deployments, routing objects), watch recorders that keep every
// state an object passed through (a poll can miss a state that lasted 100 ms; a watch cannot), and
// waits whose failure message carries the evidence (status excerpt, children, events, operator log).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentStatus, ModelVersion } from '../../src/api/index.js';
import { KubeHttp, type WatchEvent } from '../../src/k8s/kube-http.js';
import { ANNOTATION_WEIGHTS, parseWeights } from '../../src/routers/service/router.js';
import { repoRoot } from './env.js';
import { GROUP_VERSION, sampleModelVersion } from './objects.js';
import { kubeConfig, kubectl, kubectlOk, releaseAll, waitFor } from './kube.js';
import { startOperator, type RunningOperator } from './operator.js';

export { GROUP_VERSION } from './objects.js';
export const FAULT = 'fault.modelship.test/mode';
export type Fault = 'crashloop' | 'never-ready' | 'image-pull';
export type Status = ModelDeploymentStatus;
export type Condition = NonNullable<Status['conditions']>[number];

/**
 * Per-test timeout, given to each test: jest takes testTimeout only from the top-level config, so
 * the integration project's `testTimeout` in jest.config.js does not apply (jest's 5 s would).
 */
export const TEST_TIMEOUT_MS = 120_000;

export { setTimeout as sleep } from 'node:timers/promises';

// ---- the operator ------------------------------------------------------------------------------

export interface Operator extends RunningOperator {
  /** Log lines that mention `text` (the namespace, a revision), the last `n` of them. */
  lines(text?: string, n?: number): string[];
}

/**
 * The built operator (dist/main.js) with the flags every e2e test runs it with, watching only the
 * test's namespace: the cluster is shared (other suites run their own operators at the same time),
 * and an operator watching all namespaces would reconcile, and release the ModelVersions of, theirs.
 */
export function startE2EOperator(namespace: string, extraArgs: string[] = []): Operator {
  const main = join(repoRoot, 'dist', 'main.js');
  if (!existsSync(main)) {
    throw new Error(`${main} does not exist: the operator entry point src/main.ts is not built yet`);
  }
  // --listen= turns off the metrics/health server: its default :8080 would clash with any other
  // operator on this (shared) machine, and these tests read the cluster, not the endpoints.
  const op = startOperator(['--unready-grace', '2s', '--listen=', '--namespaces', namespace, ...extraArgs]);
  return withLines(op);
}

/** An operator process with `lines`: the last lines of its output (containing `text`). */
export function withLines(op: RunningOperator): Operator {
  return {
    ...op,
    lines: (text, n = 40) =>
      op
        .output()
        .split('\n')
        .filter((l) => l.trim() !== '' && (text === undefined || l.includes(text)))
        .slice(-n),
  };
}

/** Keeps an operator's whole output for a look after the run; returns the file's path. */
export function saveLog(suite: string, ops: RunningOperator[]): string {
  const dir = join(tmpdir(), 'modelship-e2e');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}-${process.pid}.log`);
  writeFileSync(file, ops.map((o, i) => `=== operator #${i + 1} ===\n${o.output()}`).join('\n'));
  return file;
}

// ---- objects -----------------------------------------------------------------------------------

/** A minimal, valid Triton ONNX ModelVersion named `<model>-<version>`. */
export function modelVersion(model: string, version: string): ModelVersion {
  return sampleModelVersion(model, version);
}

/**
 * A ModelDeployment `name` of model `name` with a Canary strategy of `steps` (scale-down at once) and
 * the given router (default `service`); `spec` adds or replaces top-level spec fields.
 */
export function canaryModelDeployment(o: {
  name: string;
  version: string;
  steps: object[];
  replicas?: number;
  namespace?: string;
  traffic?: object;
  spec?: object;
}): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}) },
    spec: {
      model: o.name,
      version: o.version,
      replicas: o.replicas ?? 2,
      strategy: { type: 'Canary', canary: { steps: o.steps, scaleDownDelaySeconds: 0 } },
      traffic: o.traffic ?? { router: 'service' },
      ...o.spec,
    },
  };
}

export async function apply(ns: string, obj: object): Promise<void> {
  await kubectlOk(['apply', '-n', ns, '-f', '-'], JSON.stringify(obj));
}

/** `kubectl get -o json`, or undefined when the object does not exist. */
export async function getObject<T>(ns: string, resource: string, name: string): Promise<T | undefined> {
  const r = await kubectl(['get', resource, name, '-n', ns, '-o', 'json']);
  if (r.code === 0) return JSON.parse(r.stdout) as T;
  if (/NotFound|not found/.test(r.stderr)) return undefined;
  throw new Error(`kubectl get ${resource} ${name} -n ${ns} failed: ${r.stderr.trim()}`);
}

export async function listObjects<T>(ns: string, resource: string, selector?: string): Promise<T[]> {
  const args = ['get', resource, '-n', ns, '-o', 'json', ...(selector ? ['-l', selector] : [])];
  return (JSON.parse(await kubectlOk(args)) as { items: T[] }).items;
}

export async function getMd(ns: string, name: string): Promise<ModelDeployment> {
  const md = await getObject<ModelDeployment>(ns, 'modeldeployment', name);
  if (!md) throw new Error(`ModelDeployment ${ns}/${name} does not exist`);
  return md;
}

export const condition = (s: { conditions?: Condition[] } | undefined, type: string): Condition | undefined =>
  s?.conditions?.find((c) => c.type === type);

/** The status was computed from the current spec (not left over from the previous generation). */
export const current = (md: ModelDeployment): boolean =>
  md.status?.observedGeneration !== undefined && md.status.observedGeneration === md.metadata?.generation;

/** A new value of modelship.io/promote: the operator acts on each value once. */
export async function promote(ns: string, name: string): Promise<void> {
  const token = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  await kubectlOk(['annotate', '-n', ns, 'md', name, `modelship.io/promote=${token}`, '--overwrite']);
}

/** `kubectl wait --for=condition=Ready`, the way a user or a CD pipeline waits. */
export async function waitReady(ns: string, name: string, timeoutS = 60): Promise<void> {
  const r = await kubectl([
    'wait',
    '-n',
    ns,
    `md/${name}`,
    '--for=condition=Ready',
    `--timeout=${timeoutS}s`,
  ]);
  if (r.code !== 0) {
    throw new Error(
      `md/${name} not Ready within ${timeoutS}s: ${r.stderr.trim()}\n${await describeWorld(ns, name)}`,
    );
  }
}

// ---- revisions -----------------------------------------------------------------------------------

export interface Revision {
  hash: string;
  name: string;
  version: string;
  replicas: number;
  readyReplicas: number;
  uid: string;
}

export function toRevision(d: V1Deployment): Revision {
  return {
    hash: d.metadata?.labels?.['modelship.io/revision'] ?? '',
    name: d.metadata?.name ?? '',
    version: d.metadata?.annotations?.['modelship.io/version'] ?? '',
    replicas: d.spec?.replicas ?? -1,
    readyReplicas: d.status?.readyReplicas ?? 0,
    uid: d.metadata?.uid ?? '',
  };
}

/** The revision Deployments of one ModelDeployment (by its label). */
export async function revisions(ns: string, md: string): Promise<Revision[]> {
  const ds = await listObjects<V1Deployment>(ns, 'deployments', `modelship.io/deployment=${md}`);
  return ds.map(toRevision).sort((a, b) => a.name.localeCompare(b.name));
}

export async function revisionOf(ns: string, md: string, hash: string): Promise<Revision | undefined> {
  return (await revisions(ns, md)).find((r) => r.hash === hash);
}

// ---- traffic ----------------------------------------------------------------------------------------

/** revision hash -> weight; entries with weight 0 are dropped, so `{h: 100}` reads "all on h". */
export type Weights = Record<string, number>;

const positive = (entries: Array<[string, number]>): Weights =>
  Object.fromEntries(entries.filter(([, w]) => w > 0).sort(([a], [b]) => a.localeCompare(b)));

interface HTTPRoute {
  spec?: {
    parentRefs?: Array<{ name: string }>;
    rules?: Array<{
      matches?: Array<{ headers?: unknown[] }>;
      backendRefs?: Array<{ name: string; weight?: number }>;
    }>;
  };
}

/** The HTTPRoute's default rule (the one without an x-model-version header match), by revision. */
export function httpRouteWeights(route: HTTPRoute | undefined, md: string): Weights | undefined {
  const rule = route?.spec?.rules?.find((r) => !(r.matches ?? []).some((m) => (m.headers ?? []).length > 0));
  if (!rule) return undefined;
  return positive(
    (rule.backendRefs ?? []).map((b) => [b.name.replace(`${md}-`, ''), b.weight ?? 1] as [string, number]),
  );
}

interface VirtualService {
  spec?: {
    hosts?: string[];
    http?: Array<{
      match?: unknown[];
      route?: Array<{ destination?: { host?: string }; weight?: number }>;
    }>;
  };
}

/** The VirtualService's default (unmatched) route, by revision: hosts are `<md>-<hash>[.<ns>.svc...]`. */
export function virtualServiceWeights(vs: VirtualService | undefined, md: string): Weights | undefined {
  const route = vs?.spec?.http?.find((h) => (h.match ?? []).length === 0);
  if (!route) return undefined;
  const dests = route.route ?? [];
  return positive(
    dests.map(
      (d) =>
        [
          (d.destination?.host ?? '').split('.')[0]!.replace(`${md}-`, ''),
          d.weight ?? (dests.length === 1 ? 100 : 0),
        ] as [string, number],
    ),
  );
}

export async function routeWeights(ns: string, md: string): Promise<Weights | undefined> {
  return httpRouteWeights(await getObject<HTTPRoute>(ns, 'httproutes.gateway.networking.k8s.io', md), md);
}

export async function vsWeights(ns: string, md: string): Promise<Weights | undefined> {
  return virtualServiceWeights(
    await getObject<VirtualService>(ns, 'virtualservices.networking.istio.io', md),
    md,
  );
}

/**
 * The plain-Service router's table (its annotation on the Service `<md>`), weight-0 entries dropped,
 * and the Service's selector: with one weighted revision the selector must name it.
 */
export async function serviceWeights(
  ns: string,
  md: string,
): Promise<{ weights: Weights; selector: Record<string, string> } | undefined> {
  const svc = await getObject<V1Service>(ns, 'service', md);
  const table = svc?.metadata?.annotations?.[ANNOTATION_WEIGHTS];
  if (!svc || table === undefined) return undefined;
  return { weights: positive([...parseWeights(table)]), selector: svc.spec?.selector ?? {} };
}

export const sameWeights = (a: Weights | undefined, b: Weights): boolean =>
  a !== undefined &&
  JSON.stringify(positive(Object.entries(a))) === JSON.stringify(positive(Object.entries(b)));

export async function serviceSelector(ns: string, name: string): Promise<Record<string, string> | undefined> {
  return (await getObject<V1Service>(ns, 'service', name))?.spec?.selector;
}

// ---- pods -------------------------------------------------------------------------------------------

export const podReady = (p: V1Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** When the pod's Ready condition turned True (second precision), if it is True. */
export const podReadyAt = (p: V1Pod): number | undefined => {
  const c = p.status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'True');
  return c?.lastTransitionTime ? new Date(c.lastTransitionTime as unknown as string).getTime() : undefined;
};

export const waitingReason = (p: V1Pod): string | undefined =>
  p.status?.containerStatuses?.map((c) => c.state?.waiting?.reason).find((r) => r !== undefined);

// ---- watches ------------------------------------------------------------------------------------------

export interface Seen<T> {
  /** Local time (ms) the event arrived. */
  at: number;
  type: string;
  object: T;
}

/**
 * Records every state of a collection from now on: a list, then a watch from the list's
 * resourceVersion, so nothing written after start() returns is missed.
 */
export class Recorder<T extends { metadata?: { name?: string } }> {
  readonly events: Array<Seen<T>> = [];
  error: unknown;
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly labelSelector?: string,
  ) {}

  static async start<T extends { metadata?: { name?: string } }>(
    path: string,
    labelSelector?: string,
  ): Promise<Recorder<T>> {
    const r = new Recorder<T>(path, labelSelector);
    await r.begin();
    return r;
  }

  private async begin(): Promise<void> {
    const http = new KubeHttp(kubeConfig());
    const q = this.labelSelector ? { labelSelector: this.labelSelector } : {};
    const list = await http.getJson<{ items: T[]; metadata: { resourceVersion: string } }>(
      this.path,
      q,
      this.abort.signal,
    );
    const now = Date.now();
    for (const o of list.items) this.events.push({ at: now, type: 'LISTED', object: o });
    this.done = http
      .watch(
        this.path,
        { ...q, watch: true, resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 900 },
        this.abort.signal,
        (e: WatchEvent) => {
          if (e.type === 'ERROR') this.error = new Error(`watch ${this.path}: ${JSON.stringify(e.object)}`);
          else this.events.push({ at: Date.now(), type: e.type, object: e.object as T });
        },
      )
      .catch((err: unknown) => {
        if (!this.abort.signal.aborted) this.error = err;
      });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  /** The events of one object, oldest first. */
  of(name: string): Array<Seen<T>> {
    return this.events.filter((e) => e.object.metadata?.name === name);
  }

  /** The object's state at local time `t` (the last event at or before it). */
  stateAt(name: string, t: number): T | undefined {
    let s: T | undefined;
    for (const e of this.of(name)) {
      if (e.at > t) break;
      s = e.type === 'DELETED' ? undefined : e.object;
    }
    return s;
  }
}

export const paths = {
  pods: (ns: string) => `/api/v1/namespaces/${ns}/pods`,
  deployments: (ns: string) => `/apis/apps/v1/namespaces/${ns}/deployments`,
  httpRoutes: (ns: string) => `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`,
  virtualServices: (ns: string) => `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`,
  modelDeployments: (ns: string) => `/apis/modelship.io/v1alpha1/namespaces/${ns}/modeldeployments`,
};

/** Consecutive distinct weight tables of one routing object, in the order they were applied. */
export function weightHistory<T extends { metadata?: { name?: string } }>(
  rec: Recorder<T>,
  name: string,
  read: (o: T | undefined) => Weights | undefined,
): Array<{ at: number; weights: Weights }> {
  const out: Array<{ at: number; weights: Weights }> = [];
  for (const e of rec.of(name)) {
    const w = read(e.type === 'DELETED' ? undefined : e.object);
    if (!w) continue;
    const last = out[out.length - 1];
    if (!last || !sameWeights(last.weights, w)) out.push({ at: e.at, weights: w });
  }
  return out;
}

// ---- evidence ---------------------------------------------------------------------------------------

/** What a failure report needs: the md's status excerpt, its children, its Events. */
export async function describeWorld(ns: string, md: string): Promise<string> {
  const parts: string[] = [];
  try {
    const o = await getObject<ModelDeployment>(ns, 'modeldeployment', md);
    const s = o?.status;
    parts.push(
      `--- md ${ns}/${md}: generation ${o?.metadata?.generation}, spec.version ${o?.spec.version}, annotations ${JSON.stringify(o?.metadata?.annotations ?? {})}`,
      `status: ${JSON.stringify(
        s && {
          observedGeneration: s.observedGeneration,
          phase: s.phase,
          stableRevision: s.stableRevision,
          stableVersion: s.stableVersion,
          canaryRevision: s.canaryRevision,
          canaryVersion: s.canaryVersion,
          canaryWeight: s.canaryWeight,
          currentStepIndex: s.currentStepIndex,
          currentStepStartedAt: s.currentStepStartedAt,
          traffic: s.traffic,
          warmRevisions: s.warmRevisions,
          lastRollback: s.lastRollback,
          acknowledged: s.acknowledged,
          history: s.history?.map(
            (h) => `${h.version}/${h.revision} ${h.result} ${h.reason ?? ''} g${h.generation}`,
          ),
        },
      )}`,
      ...(s?.conditions ?? []).map((c) => `condition ${c.type}=${c.status} ${c.reason}: ${c.message}`),
    );
    parts.push(
      ...(await revisions(ns, md)).map(
        (r) => `deployment ${r.name} version ${r.version} replicas ${r.replicas} ready ${r.readyReplicas}`,
      ),
    );
    const ev = await kubectl([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      `involvedObject.name=${md}`,
      '-o',
      'custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message',
      '--no-headers',
    ]);
    parts.push(
      ...ev.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .slice(-10)
        .map((l) => `event ${l}`),
    );
  } catch (e) {
    parts.push(`(could not read the world: ${String(e)})`);
  }
  return parts.join('\n');
}

/**
 * waitFor whose timeout message carries the evidence: the md's status and children and the
 * operator's log lines about the namespace.
 */
export function waiter(ns: () => string, op: () => Operator | undefined) {
  return async function until<T>(
    describe: string,
    probe: () => Promise<T | undefined | false>,
    {
      timeoutMs = 30000,
      intervalMs = 250,
      md,
    }: { timeoutMs?: number; intervalMs?: number; md?: string } = {},
  ): Promise<T> {
    try {
      return await waitFor(describe, probe, { timeoutMs, intervalMs });
    } catch (e) {
      const o = op();
      const exited =
        o && (o.proc.exitCode !== null || o.proc.signalCode !== null)
          ? `\noperator process exited (code ${o.proc.exitCode}, signal ${o.proc.signalCode})`
          : '';
      const world = md ? `\n${await describeWorld(ns(), md)}` : '';
      const errors = o ? o.lines('"level":"error"', 5) : [];
      const log = o
        ? `\n--- operator log (lines naming ${ns()}):\n${o.lines(ns(), 25).join('\n')}` +
          (errors.length ? `\n--- operator errors:\n${errors.join('\n')}` : '')
        : '';
      throw new Error(`${(e as Error).message}${exited}${world}${log}`, { cause: e });
    }
  };
}

/**
 * Ends an e2e suite: deletes its ModelDeployments and ModelVersions while an operator still runs (so
 * it releases the ModelVersions' in-use finalizer; with no operator left their deletion, and the
 * namespace's, would wait forever), stops the operators, keeps their logs, removes the namespace.
 */
export async function endSuite(
  suite: string,
  ns: { name: string; remove: () => Promise<void> },
  operators: RunningOperator[],
): Promise<void> {
  await releaseAll(ns.name);
  for (const o of operators) await o.stop();
  if (operators.length) process.stderr.write(`${suite}.test operator logs: ${saveLog(suite, operators)}\n`);
  await ns.remove();
}
