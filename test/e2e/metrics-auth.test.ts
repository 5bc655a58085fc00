/**
 * /metrics names tenants (namespaces, ModelDeployments, versions). With --metrics-auth=kubernetes
 * (the default) the operator serves it over https and only to a bearer token that the apiserver
 * authenticates (TokenReview) and authorizes for `get` on /metrics (SubjectAccessReview); the probes'
 * /healthz and /readyz stay open. The operator runs as an account with deploy/'s RBAC only (the
 * ClusterRole of 02-rbac.yaml, the Lease Role, and 07-metrics-auth.yaml's review rights), so this
 * also shows those rights are enough. Scrapers: one ServiceAccount bound to deploy/'s
 * modelship-metrics-reader ClusterRole, one bound to nothing. Before, anyone who reached the port
 * read every tenant's names.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { repoRoot } from '../harness/env.js';
import { Kube, operatorIdentity, type Identity } from '../harness/faults.js';
import { kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';
import { startOperator, type RunningOperator } from '../harness/operator.js';

const kube = new Kube();
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let who: Identity;
let op: RunningOperator;
const tokens: Record<'reader' | 'nobody', string> = { reader: '', nobody: '' };
/** Cluster-scoped objects this file makes, removed in afterAll. */
const cluster: string[] = [];

interface Doc {
  kind: string;
  metadata: { name: string };
  roleRef?: { name: string };
}
const metricsRbac = (
  loadAll(readFileSync(join(repoRoot, 'deploy', '07-metrics-auth.yaml'), 'utf8')) as Doc[]
).filter(Boolean);
const clusterRole = (name: string): Doc =>
  metricsRbac.find((d) => d.kind === 'ClusterRole' && d.metadata.name === name)!;

/** deploy/07-metrics-auth.yaml's ClusterRole `name` under a unique name, bound to `sa` in the test namespace. */
async function bind(name: string, sa: string): Promise<void> {
  const unique = `${name}-${ns.name}-${sa}`;
  await kube.ok(['apply', '-f', '-'], JSON.stringify({ ...clusterRole(name), metadata: { name: unique } }));
  await kube.ok([
    'create',
    'clusterrolebinding',
    unique,
    `--clusterrole=${unique}`,
    `--serviceaccount=${ns.name}:${sa}`,
  ]);
  cluster.push(`clusterrole/${unique}`, `clusterrolebinding/${unique}`);
}

beforeAll(async () => {
  ns = await tempNamespace('e2e-metrics-auth');
  who = await operatorIdentity(kube, ns.name);
  await bind('modelship-metrics-auth', 'modelship');
  for (const sa of ['reader', 'nobody'] as const) {
    await kubectlOk(['create', 'serviceaccount', sa, '-n', ns.name]);
    tokens[sa] = (await kubectlOk(['create', 'token', sa, '-n', ns.name, '--duration=1h'])).trim();
  }
  await bind('modelship-metrics-reader', 'reader');
  // As the image runs it, but as this account; the harness's --metrics-auth=none is overridden.
  op = startOperator(['--kubeconfig', who.kubeconfig, '--namespaces', ns.name, '--metrics-auth=kubernetes']);
  await waitFor('the server address', async () => op.address());
}, 60000);
afterAll(async () => {
  await op?.stop();
  await who?.remove();
  for (const o of cluster) await kube.run(['delete', o, '--ignore-not-found']);
  await ns?.remove();
});

function get(
  path: string,
  token?: string,
  scheme: 'https' | 'http' = 'https',
): Promise<{ status: number; body: string; error?: string }> {
  const [host, port] = [op.address()!.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(op.address()!)![1])];
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  return new Promise((resolve) => {
    const done = (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req =
      scheme === 'https'
        ? // The certificate is self-signed: not verified, as a Prometheus with insecureSkipVerify.
          https.get({ host, port, path, headers, rejectUnauthorized: false }, done)
        : http.get({ host, port, path, headers }, done);
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
  });
}

test('the probes’ endpoints need no token', async () => {
  await waitFor('readyz 200', async () => (await get('/readyz')).status === 200, { timeoutMs: 30000 });
  expect((await get('/healthz')).status).toBe(200);
  expect(op.output()).toContain('"scheme":"https"');
});

test('/metrics without a token, or with one the apiserver rejects: 401', async () => {
  const none = await get('/metrics');
  expect(none.status).toBe(401);
  expect(none.body).toContain('bearer token');
  expect((await get('/metrics', 'not-a-token')).status).toBe(401);
  expect(none.body).not.toContain('modelship_');
});

test('/metrics for an account that may not get /metrics: 403, naming it', async () => {
  const r = await get('/metrics', tokens.nobody);
  expect(r.status).toBe(403);
  expect(r.body).toContain(`system:serviceaccount:${ns.name}:nobody may not get /metrics`);
});

test('/metrics for an account bound to modelship-metrics-reader: the metrics', async () => {
  const r = await get('/metrics', tokens.reader);
  expect(r.status).toBe(200);
  expect(r.body).toContain('modelship_leader 1');
});

test('nothing is served in clear', async () => {
  const r = await get('/metrics', tokens.reader, 'http');
  expect(r.status === 200 && r.body.includes('modelship_')).toBe(false);
});
