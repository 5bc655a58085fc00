// Where the apiserver serves a kind. A REST path is made of the apiVersion (core group under /api,
// every other group under /apis), the namespace, the kind's plural and the name. Kubernetes' own
// kinds that the operator and its tools use are known here; any other kind (a CRD's) is declared by
// the code that uses it and handed in: k8s/ knows Kubernetes, not what runs on it.

/** A kind, and the plural its REST path uses. */
export interface ResourceKind {
  apiVersion: string;
  kind: string;
  plural: string;
}

export const SERVICE: ResourceKind = { apiVersion: 'v1', kind: 'Service', plural: 'services' };
export const CONFIG_MAP: ResourceKind = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' };
export const POD: ResourceKind = { apiVersion: 'v1', kind: 'Pod', plural: 'pods' };
export const EVENT: ResourceKind = { apiVersion: 'v1', kind: 'Event', plural: 'events' };
export const DEPLOYMENT: ResourceKind = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' };
export const ENDPOINT_SLICE: ResourceKind = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  plural: 'endpointslices',
};
export const LEASE: ResourceKind = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases' };

/** The built-in kinds above: every KubeClient knows their paths. */
export const BUILTIN_KINDS: readonly ResourceKind[] = [
  SERVICE,
  CONFIG_MAP,
  POD,
  EVENT,
  DEPLOYMENT,
  LEASE,
  ENDPOINT_SLICE,
];

/** `/api/v1` for the core group, `/apis/<group>/<version>` for any other (also its discovery document). */
export function apiPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The collection of a kind, in one namespace or (without) across the cluster; with `name`, one object of it. */
export function resourcePath(
  kind: Pick<ResourceKind, 'apiVersion' | 'plural'>,
  namespace?: string,
  name?: string,
): string {
  const ns = namespace ? `/namespaces/${namespace}` : '';
  return `${apiPath(kind.apiVersion)}${ns}/${kind.plural}${name ? `/${name}` : ''}`;
}

/** Kinds by apiVersion and kind name, for requests that name an object by those two. */
export class KindTable {
  private readonly byName = new Map<string, ResourceKind>();

  constructor(kinds: Iterable<ResourceKind>) {
    for (const k of kinds) this.byName.set(`${k.apiVersion}/${k.kind}`, k);
  }

  path(apiVersion: string, kind: string, namespace: string | undefined, name?: string): string {
    const k = this.byName.get(`${apiVersion}/${kind}`);
    if (!k)
      throw new Error(`no REST path known for ${apiVersion} ${kind}: it is not among the client's kinds`);
    return resourcePath(k, namespace, name);
  }
}
