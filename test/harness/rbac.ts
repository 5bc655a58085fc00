// The API access the operator uses, by group/resource: the one contract that deploy/02-rbac.yaml,
// deploy/namespaced/, the chart's rules (test/unit/chart.test.ts, statically) and the rights a bound
// account really has (test/reliability/permissions.test.ts, asked of the apiserver) must match
// exactly. A verb is here only because some code makes that call; each entry says which. A change
// that needs more access changes this table, the manifests and the chart together, in one
// reviewed diff; a verb granted but not listed here fails both tests. Plain data: no framework.

/** group/resource (core group: '') -> sorted verbs. */
export type Access = Record<string, string[]>;

/**
 * `get` on the child kinds is the live read of a name the spec claims, when the cache does not
 * hold it (is the object there modelship's own? src/controllers/modeldeployment.ts observeClaims,
 * and after a create refused with 409, src/controllers/execute.ts); informers only list and watch,
 * writes are server-side apply (`patch`, and `create` for an object that does not exist yet),
 * deletes are revision history and stale routing objects.
 */
const CHILD = ['create', 'delete', 'get', 'list', 'patch', 'watch'];

export const OPERATOR_ACCESS: Access = {
  '/configmaps': CHILD, // revision ConfigMaps
  '/events': ['create'], // src/k8s/events.ts: Events on the ModelDeployment; never read back
  '/pods': ['list', 'watch'], // informer only (src/controllers/caches.ts): health of a revision
  '/services': CHILD, // revision, stable and preview Services
  // One per revision; also a merge patch of spec.replicas, and `update`: the drift restore replaces
  // a revision Deployment whose pod template someone else changed (src/controllers/execute.ts).
  'apps/deployments': [...CHILD, 'update'].sort(),
  // informer only (src/controllers/caches.ts): which pods a revision's Service reaches
  'discovery.k8s.io/endpointslices': ['list', 'watch'],
  'gateway.networking.k8s.io/httproutes': CHILD, // router gatewayApi
  'modelship.io/modeldeployments': ['list', 'watch'], // informer only: the input
  // No request: the OwnerReferencesPermissionEnforcement admission plugin checks it when a child
  // sets blockOwnerDeletion on its ownerReference to the ModelDeployment.
  'modelship.io/modeldeployments/finalizers': ['update'],
  'modelship.io/modeldeployments/status': ['patch'], // server-side apply of the status
  // informer; apply of the in-use finalizer; delete of an opted-in idle version (spec.retirement)
  'modelship.io/modelversions': ['delete', 'list', 'patch', 'watch'],
  'modelship.io/modelversions/status': ['patch'], // server-side apply of the status
  'networking.istio.io/virtualservices': CHILD, // router istio
  'traefik.io/traefikservices': CHILD, // router gatewayApi, mirrorWith TraefikService
};

/** Every verb an RBAC rule can grant on a resource (the "*" of a rule), for refusal checks. */
export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** group/resource -> sorted verbs, over all rules; a resource listed twice is merged. */
export function accessOf(rules: PolicyRule[]): Access {
  const out: Record<string, Set<string>> = {};
  for (const r of rules)
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? []) for (const v of r.verbs) (out[`${g}/${res}`] ??= new Set()).add(v);
  return Object.fromEntries(
    Object.entries(out)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, [...v].sort()]),
  );
}
