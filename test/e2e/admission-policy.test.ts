/**
 * deploy/06-admission-policy.yaml, the apiserver's own guard of "modelship writes only objects it
 * created", bound to the operator's ServiceAccount. With the operator's own token (deploy/'s RBAC,
 * which allows every one of these requests):
 * - writing a Service, ConfigMap, Deployment or HTTPRoute without modelship's managed-by label, or
 *   changing or deleting one that lacks it, is refused by the policy;
 * - any write in kube-system is refused;
 * - writes to objects labelled as modelship's go through, and another user is not bound at all;
 * and the operator, running under the policy, takes a model through a first deploy, a canary and a
 * change of router without one write refused.
 * The policy and binding are deploy/'s, renamed for this run, with the ServiceAccount of the test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeHttp } from '../../src/k8s/kube-http.js';
import { clusterEnv, repoRoot } from '../harness/env.js';
import { kubectl, tempNamespace, waitFor } from '../harness/kube.js';
import { auditLogSize, auditWrites } from '../harness/audit.js';
import {
  canaryModelDeployment,
  endSuite,
  getMd,
  modelVersion,
  apply,
  waitReady,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { Kube, operatorAt, operatorIdentity, type Identity } from '../harness/faults.js';

const kube = new Kube();
const runDir = clusterEnv().runDir;
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let who: Identity;
let http: KubeHttp;
let op: Operator | undefined;
const suffix = Math.random().toString(36).slice(2, 8);
const policyName = `modelship-operator-writes-${suffix}`;
const until = waiter(
  () => ns.name,
  () => op,
);

interface Doc {
  kind: string;
  metadata: { name: string };
  spec: { policyName?: string; matchConditions?: Array<{ name: string; expression: string }> };
}

/** deploy/'s policy and binding, renamed, bound to `username`. */
function policyFor(username: string): Doc[] {
  const docs = loadAll(readFileSync(join(repoRoot, 'deploy', '06-admission-policy.yaml'), 'utf8')) as Doc[];
  const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy')!;
  const binding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding')!;
  const cond = policy.spec.matchConditions!.find((c) => c.name === 'operator-service-account')!;
  if (!cond.expression.includes('system:serviceaccount:modelship-system:modelship'))
    throw new Error(
      `deploy/06-admission-policy.yaml no longer keys on deploy/'s ServiceAccount: ${cond.expression}`,
    );
  cond.expression = cond.expression.replace('system:serviceaccount:modelship-system:modelship', username);
  policy.metadata.name = policyName;
  binding.metadata.name = policyName;
  binding.spec.policyName = policyName;
  return [policy, binding];
}

const managed = { 'app.kubernetes.io/managed-by': 'modelship' };

function service(name: string, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels },
    spec: { selector: { app: name }, ports: [{ port: 80 }] },
  };
}

/**
 * A request with the operator's token, made the way the operator makes it (server-side apply for
 * creates and changes, merge patch, delete); resolves with the HTTP code (2xx) or the ApiError's.
 */
async function asOperator(
  method: 'APPLY' | 'PATCH' | 'DELETE',
  path: string,
  body?: object,
): Promise<{ code: number; message: string }> {
  try {
    if (method === 'APPLY') {
      const name = (body as { metadata: { name: string } }).metadata.name;
      await http.request('PATCH', `${path}/${name}`, {
        query: { fieldManager: 'modelship', force: true },
        body,
        contentType: 'application/apply-patch+yaml',
      });
      return { code: 200, message: '' };
    }
    await http.request(method, path, {
      ...(body ? { body } : {}),
      ...(method === 'PATCH' ? { contentType: 'application/merge-patch+json' } : {}),
    });
    return { code: 200, message: '' };
  } catch (err) {
    if (err instanceof ApiError) return { code: err.code, message: err.message };
    throw err;
  }
}

const refusedByPolicy = (r: { code: number; message: string }) =>
  r.code === 403 && r.message.includes(policyName);

beforeAll(async () => {
  ns = await tempNamespace('e2e-vap');
  who = await operatorIdentity(kube, ns.name);
  const kc = new KubeConfig();
  kc.loadFromFile(who.kubeconfig);
  http = new KubeHttp(kc);
  await kube.ok(
    ['apply', '-f', '-'],
    policyFor(who.user)
      .map((d) => JSON.stringify(d))
      .join('\n'),
  );
  // The policy takes effect once the apiserver's admission plugin has loaded it.
  await waitFor(
    'the policy to refuse the operator an unlabelled ConfigMap',
    async () => {
      const r = await asOperator('APPLY', `/api/v1/namespaces/${ns.name}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `probe-${Date.now()}` },
      });
      return refusedByPolicy(r);
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
}, 60_000);

afterAll(async () => {
  await endSuite('e2e-vap', ns, op ? [op] : []);
  await kubectl([
    'delete',
    `validatingadmissionpolicybinding/${policyName}`,
    `validatingadmissionpolicy/${policyName}`,
    '--ignore-not-found',
  ]);
  await who?.remove();
}, 120_000);

test("the operator's account cannot create, change or delete an object without modelship's label", async () => {
  const base = `/api/v1/namespaces/${ns.name}/services`;
  expect(refusedByPolicy(await asOperator('APPLY', base, service('plain')))).toBe(true);
  expect(
    refusedByPolicy(
      await asOperator('APPLY', `/api/v1/namespaces/${ns.name}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'plain' },
      }),
    ),
  ).toBe(true);
  expect(
    refusedByPolicy(
      await asOperator('APPLY', `/apis/gateway.networking.k8s.io/v1/namespaces/${ns.name}/httproutes`, {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'plain' },
        spec: { rules: [{}] },
      }),
    ),
  ).toBe(true);

  // Someone else's Service (made by the admin): the operator may neither change nor delete it ...
  await kube.ok(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(service('users')));
  expect(refusedByPolicy(await asOperator('PATCH', `${base}/users`, { metadata: { labels: managed } }))).toBe(
    true,
  );
  expect(refusedByPolicy(await asOperator('DELETE', `${base}/users`))).toBe(true);
  expect(await kube.get(ns.name, 'service', 'users')).toBeDefined();

  // ... while its own objects go through, as long as they keep the label.
  expect(await asOperator('APPLY', base, service('ours', managed))).toEqual({ code: 200, message: '' });
  expect((await asOperator('PATCH', `${base}/ours`, { metadata: { labels: { team: 'x' } } })).code).toBe(200);
  expect(
    refusedByPolicy(
      await asOperator('PATCH', `${base}/ours`, {
        metadata: { labels: { 'app.kubernetes.io/managed-by': null } },
      }),
    ),
  ).toBe(true);
  expect((await asOperator('DELETE', `${base}/ours`)).code).toBe(200);
});

test("the operator's account cannot write in kube-system, even what would carry its label", async () => {
  const r = await asOperator('APPLY', '/api/v1/namespaces/kube-system/configmaps', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `modelship-probe-${suffix}`, labels: managed },
  });
  expect(refusedByPolicy(r)).toBe(true);
});

test('another user is not bound by the policy', async () => {
  await kube.ok(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(service('admins')));
  await kube.ok(['delete', 'service', 'admins', '-n', ns.name]);
});

test('the operator under the policy: first deploy, canary, router change, not one write refused', async () => {
  const from = auditLogSize(runDir);
  for (const v of ['1.0.0', '1.1.0']) await apply(ns.name, modelVersion('vap', v));
  op = operatorAt(who.kubeconfig, [ns.name]);
  const gateway = { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } };
  await apply(
    ns.name,
    canaryModelDeployment({ name: 'vap', version: '1.0.0', steps: [{ setWeight: 50 }], traffic: gateway }),
  );
  await waitReady(ns.name, 'vap');
  // A new version and, at the same time, the plain Service router: the HTTPRoute is deleted.
  await apply(ns.name, canaryModelDeployment({ name: 'vap', version: '1.1.0', steps: [{ setWeight: 50 }] }));
  await until(
    'vap promoted to 1.1.0 behind the plain Service, its HTTPRoute gone',
    async () => {
      const s = (await getMd(ns.name, 'vap')).status;
      const route = await kube.get(ns.name, 'httproutes.gateway.networking.k8s.io', 'vap');
      return s?.stableVersion === '1.1.0' && s.phase === 'Healthy' && !route;
    },
    { timeoutMs: 90_000, md: 'vap' },
  );
  const writes = auditWrites(runDir, who.user, { fromByte: from, namespace: ns.name });
  // The policy saw every kind of write the operator makes: creates and updates (apply), patches
  // (the old revision's size), the HTTPRoute's deletion.
  expect(writes.some((w) => w.resource === 'httproutes' && w.verb === 'delete' && (w.code ?? 0) < 300)).toBe(
    true,
  );
  expect(writes.filter((w) => (w.code ?? 0) === 403)).toEqual([]);
  expect(op.lines(policyName)).toEqual([]);
}, 150_000);
