/**
 * The operator's RBAC is enough and not more. The ClusterRole of deploy/02-rbac.yaml (the chart
 * renders the same rules: test/integration/helm.test.ts) and the leader election Role of
 * deploy/03-leader-election.yaml are bound to a ServiceAccount in a temporary namespace; the operator
 * runs as that account alone (a kubeconfig holding only a TokenRequest token) and takes a model
 * through a canary to a promotion, with no request refused on the way. The same role without `patch`
 * on Deployments, bound to a second account, leaves a ModelDeployment that never becomes Ready and an
 * operator that says why (the apiserver's 403). Neither account can read Secrets. That the role grants
 * nothing beyond the calls the code makes is test/reliability/permissions.test.ts. And the role
 * without its traefik.io rule (an older ClusterRole) on a cluster that serves TraefikServices (Traefik
 * installed its CRDs): the kind is one only mirrorWith: TraefikService needs, so the operator starts
 * anyway, says so once, and takes a ModelDeployment to Ready.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeHttp } from '../../src/k8s/kube-http.js';
import { clusterScripts, repoRoot } from '../harness/env.js';
import { OPERATOR_ACCESS, accessOf } from '../harness/rbac.js';
import { kubectl, kubectlOk, kubeConfig, tempNamespace, writeTokenKubeconfig } from '../harness/kube.js';
import { startOperator } from '../harness/operator.js';
import type { ModelDeployment } from '../../src/api/index.js';
import {
  GROUP_VERSION,
  Recorder,
  apply,
  condition,
  current,
  getMd,
  getObject,
  modelVersion,
  paths,
  revisions,
  saveLog,
  sleep,
  waiter,
  withLines,
  type Operator,
} from '../harness/e2e.js';

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface RbacObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  rules?: PolicyRule[];
}

const MD = 'digits';
const LEASE = 'modelship';
const suffix = randomBytes(3).toString('hex');
/** Cluster-scoped objects this file makes, removed in afterAll. */
const clusterObjects: string[] = [];

function deployObject(file: string, kind: string): RbacObject {
  const docs = loadAll(readFileSync(join(repoRoot, 'deploy', file), 'utf8')) as RbacObject[];
  const o = docs.find((d) => d?.kind === kind);
  if (!o) throw new Error(`deploy/${file} has no ${kind}`);
  return o;
}

/** deploy/'s ClusterRole under another name, with `edit` applied to its rules. */
async function clusterRole(
  name: string,
  edit: (rules: PolicyRule[]) => PolicyRule[] = (r) => r,
): Promise<void> {
  const role = deployObject('02-rbac.yaml', 'ClusterRole');
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({ ...role, metadata: { name }, rules: edit(structuredClone(role.rules!)) }),
  );
  clusterObjects.push(`clusterrole/${name}`);
}

/**
 * A ServiceAccount in `ns` bound to the ClusterRole `role` (cluster-wide, as deploy/ binds it) and to
 * deploy/'s leader election Role (in `ns`, as its own namespace); returns a kubeconfig holding only a
 * token for it (TokenRequest API) and the apiserver address and CA of the admin kubeconfig.
 */
async function identity(
  ns: string,
  role: string,
  dir: string,
): Promise<{ user: string; kubeconfig: string }> {
  const sa = 'modelship';
  await kubectlOk(['create', 'serviceaccount', sa, '-n', ns]);
  const binding = `${role}-${ns}`;
  await kubectlOk([
    'create',
    'clusterrolebinding',
    binding,
    `--clusterrole=${role}`,
    `--serviceaccount=${ns}:${sa}`,
  ]);
  clusterObjects.push(`clusterrolebinding/${binding}`);
  const lease = deployObject('03-leader-election.yaml', 'Role');
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({ ...lease, metadata: { name: 'modelship-leader-election', namespace: ns } }),
  );
  await kubectlOk([
    'create',
    'rolebinding',
    'modelship-leader-election',
    '-n',
    ns,
    '--role=modelship-leader-election',
    `--serviceaccount=${ns}:${sa}`,
  ]);
  const token = (await kubectlOk(['create', 'token', sa, '-n', ns, '--duration=1h'])).trim();
  const file = writeTokenKubeconfig(join(dir, `${ns}.kubeconfig`), kubeConfig(), sa, token);
  return { user: `system:serviceaccount:${ns}:${sa}`, kubeconfig: file };
}

/** The operator as `kubeconfig`'s identity only, watching `ns` only, leading with its own Lease there. */
function operatorAs(kubeconfig: string, ns: string): Operator {
  // The harness passes the admin kubeconfig first; the last --kubeconfig wins (src/cli/options.ts).
  const op = startOperator([
    '--kubeconfig',
    kubeconfig,
    '--namespaces',
    ns,
    '--unready-grace',
    '2s',
    '--listen',
    '127.0.0.1:0',
    '--leader-elect',
    '--leader-election-namespace',
    ns,
    '--leader-election-name',
    LEASE,
  ]);
  return withLines(op);
}

function digits(version: string): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: 'digits',
      version,
      replicas: 2,
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }], scaleDownDelaySeconds: 0 },
      },
      traffic: { router: 'service' },
    },
  };
}

async function waitReady(ns: string, timeoutS = 60): Promise<void> {
  const r = await kubectl(['wait', '-n', ns, `md/${MD}`, '--for=condition=Ready', `--timeout=${timeoutS}s`]);
  if (r.code !== 0) throw new Error(`md/${MD} in ${ns} not Ready within ${timeoutS}s: ${r.stderr.trim()}`);
}

/**
 * Cleans a namespace up while its operator still runs: ModelVersions carry the in-use finalizer,
 * which only the operator removes (once nothing uses them), so a namespace deleted after its
 * operator stopped would stay Terminating; and the operator's own account lives in the namespace, so
 * deleting the namespace first would take its identity away mid-way. Returns whether the
 * ModelVersions were released in time; if not, their finalizers are dropped by hand so that nothing
 * is left behind.
 */
async function removeNamespace(ns: string, op: Operator | undefined): Promise<boolean> {
  await kubectl(['delete', 'modeldeployments,modelversions', '--all', '-n', ns, '--wait=false']);
  const released =
    (await kubectl(['wait', '--for=delete', 'modelversions', '--all', '-n', ns, '--timeout=45s'])).code === 0;
  await op?.stop();
  if (!released) {
    const mvs = await kubectl(['get', 'modelversions', '-n', ns, '-o', 'name']);
    for (const mv of mvs.stdout.split('\n').filter(Boolean))
      await kubectl(['patch', '-n', ns, mv, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  }
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
  return released;
}

let dir: string;
const operators: Operator[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelship-rbac-'));
});
afterAll(async () => {
  for (const o of operators) await o.stop();
  if (operators.length)
    process.stderr.write(`least-privilege.test operator logs: ${saveLog('least-privilege', operators)}\n`);
  for (const o of clusterObjects) await kubectl(['delete', o, '--ignore-not-found']);
  rmSync(dir, { recursive: true, force: true });
});

describe('with the ClusterRole of deploy/', () => {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let who: { user: string; kubeconfig: string };
  let op: Operator | undefined;
  let removed = false;
  const until = waiter(
    () => ns.name,
    () => op,
  );

  beforeAll(async () => {
    ns = await tempNamespace('e2e-rbac');
    const role = `modelship-e2e-${suffix}`;
    await clusterRole(role);
    who = await identity(ns.name, role, dir);
    for (const v of ['1.0.0', '1.1.0']) await apply(ns.name, modelVersion('digits', v));
    op = operatorAs(who.kubeconfig, ns.name);
    operators.push(op);
  });
  afterAll(async () => {
    if (ns && !removed) await removeNamespace(ns.name, op);
  });

  test('the operator, as that account alone, rolls out 1.0.0 and then promotes 1.1.0 through a canary', async () => {
    // The role is the contract of test/harness/rbac.ts (no verb beyond the calls the code makes),
    // so what follows shows that contract is enough.
    expect(accessOf(deployObject('02-rbac.yaml', 'ClusterRole').rules!)).toEqual(OPERATOR_ACCESS);
    await apply(ns.name, digits('1.0.0'));
    await waitReady(ns.name);
    await until(
      'stable 1.0.0',
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && m.status?.stableVersion === '1.0.0';
      },
      { md: MD },
    );

    const seen = await Recorder.start<ModelDeployment>(paths.modelDeployments(ns.name));
    await apply(ns.name, digits('1.1.0'));
    const done = await until(
      'stable 1.1.0, Ready, after the 50% step and the 2 s pause',
      async () => {
        const m = await getMd(ns.name, MD);
        return (
          current(m) &&
          m.status?.stableVersion === '1.1.0' &&
          condition(m.status, 'Ready')?.status === 'True' &&
          m
        );
      },
      { md: MD, timeoutMs: 60000 },
    );
    await waitReady(ns.name);
    await seen.stop();
    expect(seen.error).toBeUndefined();
    expect(done.status).toMatchObject({ phase: 'Healthy', stableVersion: '1.1.0' });
    // It went through the canary step (status written by this identity), not straight to 1.1.0.
    const canary = seen
      .of(MD)
      .map((e) => e.object.status)
      .find((st) => st?.canaryVersion === '1.1.0' && st.canaryWeight === 50 && st.stableVersion === '1.0.0');
    expect(canary).toBeDefined();
    // Both revisions were made by this identity, and the first scaled away (a merge patch).
    await until(
      '1.0.0 scaled to 0',
      async () => (await revisions(ns.name, MD)).find((r) => r.version === '1.0.0')?.replicas === 0,
      { md: MD },
    );
    const revs = await revisions(ns.name, MD);
    expect(revs.map((r) => r.version).sort()).toEqual(['1.0.0', '1.1.0']);
  });

  test('it led through its Lease, recorded Events, and was refused nothing', async () => {
    const lease = await getObject<{ spec: { holderIdentity?: string } }>(ns.name, 'lease', LEASE);
    expect(lease?.spec.holderIdentity).toBeTruthy();
    expect(op!.lines('became the leader')).toHaveLength(1);
    const events = await kubectlOk([
      'get',
      'events',
      '-n',
      ns.name,
      '--field-selector',
      `involvedObject.name=${MD},source=modelship`,
      '-o',
      'name',
    ]);
    expect(events.trim()).not.toBe('');
    // Any refusal (a reconcile retried, an Event not recorded, a watch that could not start) is logged.
    expect(op!.lines('forbidden', 5)).toEqual([]);
    expect(op!.lines(' 403 ', 5)).toEqual([]);
  });

  test('the account cannot read Secrets', async () => {
    const canI = async (...args: string[]) =>
      (await kubectl(['auth', 'can-i', `--as=${who.user}`, ...args])).stdout.trim();
    expect(await canI('get', 'secrets', '-n', ns.name)).toBe('no');
    expect(await canI('list', 'secrets', '--all-namespaces')).toBe('no');
    // And with its own token, as the operator would ask.
    const kc = new KubeConfig();
    kc.loadFromFile(who.kubeconfig);
    const err = await new KubeHttp(kc)
      .request('GET', `/api/v1/namespaces/${ns.name}/secrets`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(403);
    expect((err as ApiError).message).toContain(`User "${who.user}" cannot list resource "secrets"`);
  });

  test('deleting the ModelDeployment and the ModelVersions: the operator releases the versions', async () => {
    removed = true;
    const released = await removeNamespace(ns.name, op);
    expect({ released, refused: operators[0]!.lines('forbidden', 5) }).toEqual({
      released: true,
      refused: [],
    });
  });
});

describe('with that ClusterRole less `patch` on Deployments', () => {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let op: Operator | undefined;
  const until = waiter(
    () => ns.name,
    () => op,
  );

  beforeAll(async () => {
    ns = await tempNamespace('e2e-rbac-less');
    const role = `modelship-e2e-nopatch-${suffix}`;
    await clusterRole(role, (rules) =>
      rules.map((r) =>
        r.apiGroups.includes('apps') && r.resources.includes('deployments')
          ? { ...r, verbs: r.verbs.filter((v) => v !== 'patch') }
          : r,
      ),
    );
    const who = await identity(ns.name, role, dir);
    await apply(ns.name, modelVersion('digits', '1.0.0'));
    op = operatorAs(who.kubeconfig, ns.name);
    operators.push(op);
  });
  afterAll(async () => {
    if (ns) await removeNamespace(ns.name, op);
  });

  test('a fresh ModelDeployment never becomes Ready, and the operator logs the 403', async () => {
    await apply(ns.name, digits('1.0.0'));
    const refused = await until(
      'the operator to log that it may not patch the Deployment',
      async () => {
        const l = op!
          .lines(ns.name)
          .find((x) => / 403 /.test(x) && /deployments/.test(x) && /forbidden/.test(x));
        return l;
      },
      { md: MD, timeoutMs: 30000 },
    );
    expect(refused).toContain('cannot patch resource \\"deployments\\" in API group \\"apps\\"');
    expect(refused).toContain(`${ns.name}/${MD}`);
    // Retried with back-off, and still refused: nothing is running, nothing claims to be Ready.
    await sleep(5000);
    const md = await getMd(ns.name, MD);
    expect(condition(md.status, 'Ready')?.status ?? 'Unknown').not.toBe('True');
    expect(await revisions(ns.name, MD)).toEqual([]);
    const r = await kubectl(['wait', '-n', ns.name, `md/${MD}`, '--for=condition=Ready', '--timeout=3s']);
    expect(r.code).not.toBe(0);
    expect(op!.lines('403', 100).length).toBeGreaterThan(1);
  });
});

describe('with that ClusterRole less its traefik.io rule, on a cluster that serves TraefikServices', () => {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let op: Operator | undefined;

  beforeAll(async () => {
    await promisify(execFile)('bash', [join(clusterScripts, 'install-traefik-crds.sh')], {
      env: process.env,
    });
    ns = await tempNamespace('e2e-rbac-notraefik');
    const role = `modelship-e2e-notraefik-${suffix}`;
    await clusterRole(role, (rules) => rules.filter((r) => !r.apiGroups.includes('traefik.io')));
    const who = await identity(ns.name, role, dir);
    await apply(ns.name, modelVersion('digits', '1.0.0'));
    op = operatorAs(who.kubeconfig, ns.name);
    operators.push(op);
  }, 300_000);
  afterAll(async () => {
    if (ns) await removeNamespace(ns.name, op);
  });

  test('the operator starts without that kind, says so once, and a ModelDeployment becomes Ready', async () => {
    await apply(ns.name, digits('1.0.0'));
    await waitReady(ns.name, 90);
    const said = op!.lines('router kind served but not synced');
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('TraefikService');
    expect(op!.lines('caches synced')).toHaveLength(1);
  });
});
