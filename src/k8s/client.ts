// The operator's writes. Every object modelship writes goes through server-side apply under one
// field manager, so the apiserver merges our fields with anyone else's and the operator never
// needs a read-modify-write of a whole object (and never touches a user's spec).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../core/labels.js';
import { ApiError, KubeHttp } from './kube-http.js';

/** Kinds modelship reads or writes, by apiVersion/kind: their REST plural. */
const PLURALS: Record<string, string> = {
  'v1/Service': 'services',
  'v1/ConfigMap': 'configmaps',
  'v1/Pod': 'pods',
  'v1/Event': 'events',
  'apps/v1/Deployment': 'deployments',
  'gateway.networking.k8s.io/v1/HTTPRoute': 'httproutes',
  'networking.istio.io/v1/VirtualService': 'virtualservices',
  'modelship.io/v1alpha1/ModelDeployment': 'modeldeployments',
  'modelship.io/v1alpha1/ModelVersion': 'modelversions',
  'coordination.k8s.io/v1/Lease': 'leases',
};

export function resourcePath(
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
  name?: string,
): string {
  const plural = PLURALS[`${apiVersion}/${kind}`];
  if (!plural) throw new Error(`modelship does not know the REST path of ${apiVersion} ${kind}`);
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${namespace}` : '';
  return `${base}${ns}/${plural}${name ? `/${name}` : ''}`;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

export class KubeClient {
  readonly http: KubeHttp;
  private readonly instance = `${hostname()}-${process.pid}`;

  constructor(kc: KubeConfig) {
    this.http = new KubeHttp(kc);
  }

  /**
   * Server-side apply with force: modelship's manager takes the fields it sets, fields it no longer
   * sets are removed (they were ours), and fields of other managers are left alone.
   */
  async apply<T extends KubernetesObject>(
    obj: T,
    subresource?: 'status',
    fieldManager = FIELD_MANAGER,
  ): Promise<T> {
    const { apiVersion, kind, metadata } = obj;
    if (!apiVersion || !kind || !metadata?.name)
      throw new Error('apply needs apiVersion, kind and metadata.name');
    const path =
      resourcePath(apiVersion, kind, metadata.namespace, metadata.name) +
      (subresource ? `/${subresource}` : '');
    return this.http.request<T>('PATCH', path, {
      query: { fieldManager, force: true },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** A JSON merge patch (used for the size of revisions modelship no longer renders). */
  async mergePatch<T>(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    patch: unknown,
  ): Promise<T> {
    return this.http.request<T>('PATCH', resourcePath(apiVersion, kind, namespace, name), {
      query: { fieldManager: FIELD_MANAGER },
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** Deletes; an object already gone is not an error. Background propagation, as kubectl does. */
  async delete(apiVersion: string, kind: string, namespace: string, name: string): Promise<void> {
    try {
      await this.http.request('DELETE', resourcePath(apiVersion, kind, namespace, name), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** A core/v1 Event on `about`, as kubectl describe and `kubectl get events` show them. */
  async event(
    about: KubernetesObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const ns = about.metadata?.namespace ?? 'default';
    const now = new Date().toISOString();
    await this.http.request('POST', resourcePath('v1', 'Event', ns), {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${about.metadata?.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
        involvedObject: {
          apiVersion: about.apiVersion,
          kind: about.kind,
          name: about.metadata?.name,
          namespace: ns,
          uid: about.metadata?.uid,
          resourceVersion: about.metadata?.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: FIELD_MANAGER },
        reportingComponent: FIELD_MANAGER,
        reportingInstance: this.instance.slice(0, 128),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
