// The plugin's side of the cluster: the kubeconfig (with --kubeconfig, --context, -n), and the few
// requests the commands make, over the operator's own HTTP client (src/k8s/kube-http.ts), so
// credentials, exec plugins and proxies work the same way. Every failure becomes a PluginError
// whose message names the object and what to do next.
import * as k8s from '@kubernetes/client-node';
import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment, ModelVersion } from '../api/index.js';
import {
  MODEL_DEPLOYMENT_KIND,
  MODEL_DEPLOYMENT_RESOURCE,
  MODEL_VERSION_KIND,
  MODEL_VERSION_RESOURCE,
} from '../api/index.js';
import { LABEL_DEPLOYMENT } from '../core/labels.js';
import { realClock, sleep } from '../k8s/clock.js';
import { ApiError, KubeHttp, statusError, type ApiStatus, type WatchEvent } from '../k8s/kube-http.js';
import { DEPLOYMENT, resourcePath } from '../k8s/resources.js';
import type { Invocation } from './args.js';
import { PluginError, errorCode, explainError } from './errors.js';

/** The field manager of the plugin's writes, so `kubectl get --show-managed-fields` tells who did it. */
export const PLUGIN_MANAGER = 'kubectl-modelship';

/** A single request that gets no answer within this fails instead of hanging. */
const REQUEST_TIMEOUT_MS = 30_000;

type Kind = typeof MODEL_DEPLOYMENT_KIND | typeof MODEL_VERSION_KIND;
const SHORT: Record<Kind, string> = { ModelDeployment: 'md', ModelVersion: 'mv' };
const RESOURCE = { ModelDeployment: MODEL_DEPLOYMENT_RESOURCE, ModelVersion: MODEL_VERSION_RESOURCE };

export function loadKubeConfig(inv: Pick<Invocation, 'kubeconfig' | 'context' | 'namespace'>): {
  kc: k8s.KubeConfig;
  namespace: string;
  server: string;
} {
  const kc = new k8s.KubeConfig();
  const file = inv.kubeconfig ?? process.env.KUBECONFIG;
  try {
    if (inv.kubeconfig) kc.loadFromFile(inv.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new PluginError(
      `cannot read the kubeconfig${file ? ` ${file}` : ''}: ${(err as Error).message}; pass --kubeconfig or set KUBECONFIG`,
    );
  }
  if (inv.context) {
    if (!kc.getContextObject(inv.context)) {
      const names = kc.getContexts().map((c) => c.name);
      throw new PluginError(
        `context ${JSON.stringify(inv.context)} is not in the kubeconfig${names.length ? ` (contexts: ${names.join(', ')})` : ''}`,
      );
    }
    kc.setCurrentContext(inv.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new PluginError(
      `the kubeconfig${file ? ` ${file}` : ''} has no current context with a cluster; pass --context or --kubeconfig`,
    );
  }
  const namespace = inv.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return { kc, namespace, server: cluster.server };
}

export class PluginClient {
  readonly http: KubeHttp;

  constructor(
    kc: k8s.KubeConfig,
    readonly namespace: string,
    readonly server: string,
  ) {
    this.http = new KubeHttp(kc);
  }

  /** Runs one request with a timeout; any failure becomes a PluginError about `action`. */
  async call<T>(action: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await fn(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    } catch (err) {
      throw this.explain(err, action);
    }
  }

  /** The error as the user should see it; an unexpected one (a bug) is passed on unchanged. */
  explain(err: unknown, action: string): unknown {
    const line = explainError(err, { server: this.server, action });
    return line === undefined ? err : new PluginError(line);
  }

  path(kind: Kind, name?: string): string {
    return resourcePath(RESOURCE[kind], this.namespace, name);
  }

  /** The object, or undefined when it does not exist. */
  async find<T>(kind: Kind, name: string): Promise<T | undefined> {
    const action = `get ${kind} ${JSON.stringify(name)} in namespace ${JSON.stringify(this.namespace)}`;
    try {
      return await this.http.getJson<T>(this.path(kind, name), {}, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    } catch (err) {
      if (err instanceof ApiError && err.code === 404 && err.reason === 'NotFound') return undefined;
      throw this.explain(err, action);
    }
  }

  /**
   * The object of `kind`; when it does not exist, says so, and says what the name is when it names
   * an object of the other modelship kind (diff given a ModelDeployment, status given a ModelVersion).
   */
  async get<T>(kind: Kind, name: string, purpose: string): Promise<T> {
    const found = await this.find<T>(kind, name);
    if (found) return found;
    const other: Kind = kind === MODEL_DEPLOYMENT_KIND ? MODEL_VERSION_KIND : MODEL_DEPLOYMENT_KIND;
    const list = `kubectl get ${SHORT[kind]} -n ${this.namespace} lists them`;
    if (await this.find(other, name)) {
      throw new PluginError(`${JSON.stringify(name)} is a ${other}, not a ${kind}; ${purpose} (${list})`);
    }
    throw new PluginError(
      `${kind} ${JSON.stringify(name)} not found in namespace ${JSON.stringify(this.namespace)}; ${list}`,
    );
  }

  getDeployment(name: string, purpose = 'this command takes a ModelDeployment'): Promise<ModelDeployment> {
    return this.get<ModelDeployment>(MODEL_DEPLOYMENT_KIND, name, purpose);
  }

  getVersion(name: string, purpose = 'this command takes a ModelVersion'): Promise<ModelVersion> {
    return this.get<ModelVersion>(MODEL_VERSION_KIND, name, purpose);
  }

  /** ModelVersions in the client's namespace, or in every namespace. */
  async listVersionsIn(allNamespaces: boolean): Promise<ModelVersion[]> {
    const where = allNamespaces ? 'all namespaces' : `namespace ${JSON.stringify(this.namespace)}`;
    const list = await this.call(`list ModelVersions in ${where}`, (signal) =>
      this.http.getJson<{ items: ModelVersion[] }>(
        resourcePath(RESOURCE[MODEL_VERSION_KIND], allNamespaces ? undefined : this.namespace),
        {},
        signal,
      ),
    );
    return list.items;
  }

  /**
   * Removes `finalizer` from a ModelVersion with a JSON patch that first tests the entry is still at
   * that index, so a concurrent change of the list is refused (422) rather than removing another's.
   */
  async removeFinalizer(mv: ModelVersion, finalizer: string): Promise<boolean> {
    const ns = mv.metadata!.namespace!;
    const name = mv.metadata!.name!;
    const path = resourcePath(RESOURCE[MODEL_VERSION_KIND], ns, name);
    const i = (mv.metadata?.finalizers ?? []).indexOf(finalizer);
    if (i < 0) return false;
    await this.call(`remove the finalizer ${finalizer} of ModelVersion ${ns}/${name}`, (signal) =>
      this.http.request('PATCH', path, {
        body: [
          { op: 'test', path: `/metadata/finalizers/${i}`, value: finalizer },
          { op: 'remove', path: `/metadata/finalizers/${i}` },
        ],
        contentType: 'application/json-patch+json',
        query: { fieldManager: PLUGIN_MANAGER },
        signal,
      }),
    );
    return true;
  }

  async listVersions(): Promise<ModelVersion[]> {
    const list = await this.call(
      `list ModelVersions in namespace ${JSON.stringify(this.namespace)}`,
      (signal) => this.http.getJson<{ items: ModelVersion[] }>(this.path(MODEL_VERSION_KIND), {}, signal),
    );
    return list.items;
  }

  /** The revision Deployments of a ModelDeployment (label modelship.io/deployment=<name>). */
  async listRevisions(md: string): Promise<V1Deployment[]> {
    const list = await this.call(`list the Deployments of ModelDeployment ${JSON.stringify(md)}`, (signal) =>
      this.http.getJson<{ items: V1Deployment[] }>(
        resourcePath(DEPLOYMENT, this.namespace),
        { labelSelector: `${LABEL_DEPLOYMENT}=${md}` },
        signal,
      ),
    );
    return list.items;
  }

  /**
   * Creates the ModelVersion; never replaces one. 'exists' when its name is taken: ModelVersions are
   * immutable, and the name is the natural key, so the apiserver's AlreadyExists is the answer.
   */
  async createVersion(mv: ModelVersion): Promise<ModelVersion | 'exists'> {
    const name = mv.metadata!.name!;
    try {
      return await this.http.request<ModelVersion>('POST', this.path(MODEL_VERSION_KIND), {
        body: mv,
        query: { fieldManager: PLUGIN_MANAGER },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 409 && err.reason === 'AlreadyExists') return 'exists';
      throw this.explain(
        err,
        `create ModelVersion ${JSON.stringify(name)} in namespace ${JSON.stringify(this.namespace)}`,
      );
    }
  }

  /** A JSON merge patch of the ModelDeployment (metadata.annotations or spec fields). */
  patchDeployment(name: string, patch: unknown): Promise<ModelDeployment> {
    return this.call(
      `patch ModelDeployment ${JSON.stringify(name)} in namespace ${JSON.stringify(this.namespace)}`,
      (signal) =>
        this.http.request<ModelDeployment>('PATCH', this.path(MODEL_DEPLOYMENT_KIND, name), {
          query: { fieldManager: PLUGIN_MANAGER },
          body: patch,
          contentType: 'application/merge-patch+json',
          signal,
        }),
    );
  }

  /**
   * Calls `onChange` with the ModelDeployment now and after every change until `signal` aborts.
   * A list-then-watch by name, resumed from the last resourceVersion when the apiserver ends the
   * watch, started over when that version has expired (410), and retried after a broken connection
   * (reported once through `onTrouble`, cleared by the next success). Rejects when the object is
   * deleted or missing.
   */
  async follow(
    name: string,
    signal: AbortSignal,
    onChange: (md: ModelDeployment) => void,
    onTrouble: (message: string | undefined) => void,
  ): Promise<void> {
    let rv: string | undefined;
    let connected = false;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const md = await this.getDeployment(name);
          connected = true;
          rv = md.metadata?.resourceVersion;
          onTrouble(undefined);
          onChange(md);
        }
        await this.http.watch(
          this.path(MODEL_DEPLOYMENT_KIND),
          {
            watch: true,
            fieldSelector: `metadata.name=${name}`,
            resourceVersion: rv,
            allowWatchBookmarks: true,
            timeoutSeconds: 300,
          },
          signal,
          (e: WatchEvent) => {
            const md = e.object as ModelDeployment;
            if (e.type === 'ERROR') throw statusError('watch', e.object as ApiStatus);
            rv = md.metadata?.resourceVersion ?? rv;
            if (e.type === 'DELETED')
              throw new PluginError(`ModelDeployment ${JSON.stringify(name)} was deleted`);
            if (e.type === 'ADDED' || e.type === 'MODIFIED') {
              onTrouble(undefined);
              onChange(md);
            }
          },
        );
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.code === 410) {
          rv = undefined; // expired: list again
          continue;
        }
        // Not found, deleted, forbidden, not installed: waiting will not help. A connection that
        // failed or broke may come back: say so, and try again.
        const unreachable =
          err instanceof PluginError
            ? err.message.startsWith('cannot reach')
            : !(err instanceof ApiError) &&
              (errorCode(err) !== undefined || /connection closed/.test((err as Error).message));
        // Never reached at all: the kubeconfig is wrong, not the network flaky.
        if (!unreachable || !connected)
          throw this.explain(err, `watch ModelDeployment ${JSON.stringify(name)}`);
        const line = explainError(err, { server: this.server, action: `watch ModelDeployment ${name}` });
        onTrouble(`${line ?? (err as Error).message}; retrying`);
        rv = undefined;
        // An abort ends the wait at once (the loop then ends); it is not an error here.
        await sleep(realClock, 1000, signal).catch(() => undefined);
      }
    }
  }
}
