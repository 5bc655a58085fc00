/**
 * What the operator's account may not do, asked of the apiserver's own authorizer. The ClusterRole of
 * deploy/02-rbac.yaml and the leader election Role of deploy/03-leader-election.yaml are bound to a
 * ServiceAccount as test/e2e/least-privilege.test.ts binds them. By design the role has cluster-wide
 * rights on Deployments, Services, ConfigMaps and routes (the operator may watch every namespace), so
 * the limits asserted are the ones the RBAC really draws: no Secrets, no writes to Nodes, Pods, CRDs,
 * RBAC or Namespaces, no spec writes to ModelDeployments, no Leases outside its namespace. Each limit
 * is checked twice: `kubectl auth can-i --as` (SubjectAccessReview) and a real request with the
 * account's token, which must come back 403 naming the account. And the account's effective rights
 * (SelfSubjectRulesReview, asked with its own token) are exactly the calls the operator makes
 * (test/harness/rbac.ts): a verb granted that no code uses, such as `get` on Pods, fails here.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeHttp } from '../../src/k8s/kube-http.js';
import { tempNamespace } from '../harness/kube.js';
import { Kube, operatorIdentity, type Identity } from '../harness/faults.js';
import { ALL_VERBS, OPERATOR_ACCESS, accessOf } from '../harness/rbac.js';

const kube = new Kube();
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let who: Identity;
let http: KubeHttp;

beforeAll(async () => {
  ns = await tempNamespace('rel-perm');
  who = await operatorIdentity(kube, ns.name);
  const kc = new KubeConfig();
  kc.loadFromFile(who.kubeconfig);
  http = new KubeHttp(kc);
}, 60000);
afterAll(async () => {
  await who?.remove();
  await ns?.remove();
});

const canI = async (verb: string, resource: string, ...rest: string[]): Promise<string> =>
  (await kube.run(['auth', 'can-i', verb, resource, `--as=${who.user}`, ...rest])).stdout.trim();

// [verb, resource, where]: what the account must be refused.
const refused: Array<[string, string, string[]]> = [
  ['get', 'secrets', ['-n', 'kube-system']],
  ['list', 'secrets', ['--all-namespaces']],
  ['watch', 'secrets', ['-n', 'default']],
  ['create', 'secrets', ['-n', 'default']],
  ['patch', 'nodes', []],
  ['update', 'nodes', []],
  ['delete', 'nodes', []],
  ['create', 'pods', ['-n', 'default']],
  ['patch', 'pods', ['-n', 'default']],
  ['delete', 'pods', ['-n', 'default']],
  ['create', 'pods/exec', ['-n', 'default']],
  ['create', 'customresourcedefinitions.apiextensions.k8s.io', []],
  ['patch', 'customresourcedefinitions.apiextensions.k8s.io', []],
  ['delete', 'customresourcedefinitions.apiextensions.k8s.io', []],
  ['create', 'clusterroles.rbac.authorization.k8s.io', []],
  ['create', 'clusterrolebindings.rbac.authorization.k8s.io', []],
  ['create', 'rolebindings.rbac.authorization.k8s.io', ['-n', 'default']],
  ['escalate', 'clusterroles.rbac.authorization.k8s.io', []],
  ['bind', 'clusterroles.rbac.authorization.k8s.io', []],
  ['impersonate', 'users', []],
  ['create', 'serviceaccounts/token', ['-n', 'kube-system']],
  ['delete', 'namespaces', []],
  ['create', 'namespaces', []],
  ['update', 'modeldeployments.modelship.io', ['-n', 'default']],
  ['patch', 'modeldeployments.modelship.io', ['-n', 'default']],
  ['delete', 'modeldeployments.modelship.io', ['-n', 'default']],
  ['create', 'modelversions.modelship.io', ['-n', 'default']],
  ['update', 'leases.coordination.k8s.io', ['-n', 'kube-system']],
  ['update', 'leases.coordination.k8s.io/another', ['-n', 'NS']],
  // Reads by name the operator never makes: its informers list and watch.
  ['get', 'pods', ['-n', 'default']],
  ['get', 'modeldeployments.modelship.io', ['-n', 'default']],
  ['get', 'modelversions.modelship.io', ['-n', 'default']],
  ['get', 'events', ['-n', 'default']],
  // Writes it makes by server-side apply (patch), never by update.
  ['update', 'services', ['-n', 'default']],
  ['deletecollection', 'configmaps', ['-n', 'default']],
];
// What it needs, so that a role that allows nothing cannot pass this file.
const allowed: Array<[string, string, string[]]> = [
  ['patch', 'deployments.apps', ['-n', 'default']],
  ['patch', 'modeldeployments.modelship.io', ['--subresource=status', '-n', 'default']],
  ['list', 'pods', ['--all-namespaces']],
  ['create', 'events', ['-n', 'default']],
  // Only a ModelVersion whose spec.retirement asks for it (src/controllers/modelversion.ts).
  ['delete', 'modelversions.modelship.io', ['-n', 'default']],
  ['update', 'leases.coordination.k8s.io/modelship', ['-n', 'NS']],
  ['create', 'leases.coordination.k8s.io', ['-n', 'NS']],
];

test('kubectl auth can-i: refused everything outside its job, allowed what it needs', async () => {
  const where = (w: string[]) => w.map((x) => (x === 'NS' ? ns.name : x));
  const refusedAnswers = await Promise.all(
    refused.map(async ([v, r, w]) => `${v} ${r} ${w.join(' ')}: ${await canI(v, r, ...where(w))}`),
  );
  expect(refusedAnswers.filter((a) => !a.endsWith(': no'))).toEqual([]);
  const allowedAnswers = await Promise.all(
    allowed.map(async ([v, r, w]) => `${v} ${r} ${w.join(' ')}: ${await canI(v, r, ...where(w))}`),
  );
  expect(allowedAnswers.filter((a) => !a.endsWith(': yes'))).toEqual([]);
});

test('real requests with its token are refused with 403 naming the account', async () => {
  const attempt = async (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<string> => {
    const err = await http
      .request(method, path, {
        ...(body ? { body } : {}),
        ...(contentType ? { contentType } : {}),
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    if (!(err instanceof ApiError)) return `${method} ${path}: not refused (${String(err)})`;
    if (err.code !== 403 || !err.message.includes(who.user))
      return `${method} ${path}: ${err.code} ${err.message}`;
    return 'refused';
  };
  const merge = 'application/merge-patch+json';
  const results = await Promise.all([
    attempt('GET', '/api/v1/namespaces/kube-system/secrets'),
    attempt('GET', `/api/v1/namespaces/${ns.name}/secrets`),
    attempt('POST', `/api/v1/namespaces/${ns.name}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'x' },
    }),
    attempt('PATCH', '/api/v1/nodes/kwok-node-0', { metadata: { labels: { owned: 'yes' } } }, merge),
    attempt('POST', `/api/v1/namespaces/${ns.name}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'x' },
      spec: { containers: [{ name: 'x', image: 'x' }] },
    }),
    attempt(
      'DELETE',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/modeldeployments.modelship.io',
    ),
    attempt('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `rel-perm-${ns.name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'modelship', namespace: ns.name }],
    }),
    attempt('DELETE', `/api/v1/namespaces/${ns.name}`),
    attempt(
      'PATCH',
      `/apis/modelship.io/v1alpha1/namespaces/${ns.name}/modeldeployments/any`,
      { spec: { version: '9.9.9' } },
      merge,
    ),
    attempt('GET', `/apis/modelship.io/v1alpha1/namespaces/${ns.name}/modeldeployments/any`),
    attempt('GET', `/apis/modelship.io/v1alpha1/namespaces/${ns.name}/modelversions/any`),
    attempt('GET', `/api/v1/namespaces/${ns.name}/pods/any`),
  ]);
  expect(results.filter((r) => r !== 'refused')).toEqual([]);
  // The namespace is still there, and nothing was made.
  expect((await kube.run(['get', 'namespace', ns.name])).code).toBe(0);
  expect((await kube.run(['get', 'clusterrolebinding', `rel-perm-${ns.name}`])).code).not.toBe(0);
});

/** What every authenticated account may do (system:basic-user): ask what it may do. */
const SELF_REVIEWS = new Set([
  'authorization.k8s.io/selfsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectrulesreviews',
  'authentication.k8s.io/selfsubjectreviews',
]);

test('its rights, as the apiserver reports them to it, are exactly the calls the operator makes', async () => {
  // In a namespace other than its own: the ClusterRole alone (the Lease Role is in its own).
  const review = await http.request<{
    status: { resourceRules: Array<{ verbs: string[]; apiGroups?: string[]; resources?: string[] }> };
  }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace: 'default' },
    },
  });
  const effective = accessOf(review.status.resourceRules);
  for (const k of SELF_REVIEWS) delete effective[k];
  // A wildcard anywhere would grant everything; it must not appear.
  expect(Object.entries(effective).filter(([k, v]) => k.includes('*') || v.includes('*'))).toEqual([]);
  expect(effective).toEqual(OPERATOR_ACCESS);
});

test('every verb the contract leaves out is refused on every resource it names', async () => {
  const kubectlResource = (k: string): string => {
    const [group, resource] = [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
    const [res, sub] = resource.split('/');
    return `${res}${group ? `.${group}` : ''}${sub ? ` --subresource=${sub}` : ''}`;
  };
  const checks = Object.entries(OPERATOR_ACCESS).flatMap(([k, verbs]) =>
    ALL_VERBS.filter((v) => !verbs.includes(v)).map((v) => [v, kubectlResource(k)] as const),
  );
  const answers = await Promise.all(
    checks.map(async ([v, r]) => {
      const [res, ...rest] = r.split(' ');
      return `${v} ${r}: ${await canI(v, res!, '-n', 'default', ...rest)}`;
    }),
  );
  expect(answers.filter((a) => !a.endsWith(': no'))).toEqual([]);
});
