/**
 * The Helm chart (charts/modelship), with a helm built from source (hack/tools/helm.sh): it lints
 * clean; what it renders is what the golden files under test/golden/helm/ show (reviewers see every
 * change as a diff; refresh with `npm run golden:helm`); its default rendering grants the same access
 * and runs the same pod as deploy/; --include-crds carries the repository's CRDs; the values schema
 * refuses what would not work; and it installs into the real local cluster, in a namespace that
 * enforces the restricted Pod Security Standard, with the access it should have and no more, and
 * uninstalls without leaving cluster-wide objects behind. deploy/, the same install without Helm, is
 * applied with kubectl the same way.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';
import { FLAGS } from '../../src/cli/options.js';
import { clusterEnv, repoRoot } from '../harness/env.js';
import { kubectl, kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';

const CHART = join(repoRoot, 'charts', 'modelship');
const GOLDEN_DIR = join(repoRoot, 'test', 'golden', 'helm');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  rules?: unknown[];
}

let helmBin: string;
let helmHome: string;

/** Runs helm with a private config/cache (the user's repositories and plugins stay out of it). */
function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(helmBin, args, {
      env: {
        ...process.env,
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_DATA_HOME: join(helmHome, 'data'),
        KUBECONFIG: clusterEnv().kubeconfig,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const parse = (yaml: string): K8sObject[] =>
  (loadAll(yaml) as Array<K8sObject | null>).filter((d): d is K8sObject => !!d);
const find = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0]!;
};
const deployDocs = (file: string): K8sObject[] => parse(readFileSync(join(repoRoot, 'deploy', file), 'utf8'));

beforeAll(() => {
  // Builds helm from the Go module proxy the first time (a few minutes), then prints the cached path.
  helmBin = execFileSync('bash', [join(repoRoot, 'hack', 'tools', 'helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  helmHome = mkdtempSync(join(tmpdir(), 'modelship-helm-'));
}, 900000);
afterAll(() => {
  if (helmHome) rmSync(helmHome, { recursive: true, force: true });
});

// ---- static: lint, golden renderings, schema ----------------------------------------------------

/** Rendered cases: release, namespace and values file (under test/golden/helm/) -> golden file. */
const CASES = [
  { name: 'default', release: 'modelship', namespace: 'modelship-system', values: undefined },
  { name: 'namespaced', release: 'ms', namespace: 'ops', values: 'namespaced.values.yaml' },
];

function renderArgs(c: (typeof CASES)[number]): string[] {
  return [
    'template',
    c.release,
    CHART,
    '--namespace',
    c.namespace,
    ...(c.values ? ['--values', join(GOLDEN_DIR, c.values)] : []),
  ];
}

test('helm lint --strict is clean, with the default values and with every option used', async () => {
  for (const c of CASES) {
    const values = c.values ? ['--values', join(GOLDEN_DIR, c.values)] : [];
    const r = await helm(['lint', CHART, '--strict', '--namespace', c.namespace, ...values]);
    expect({ case: c.name, code: r.code, problems: r.stdout.match(/^.*\[(WARNING|ERROR)\].*$/gm) }).toEqual({
      case: c.name,
      code: 0,
      problems: null,
    });
  }
});

describe('golden renderings (npm run golden:helm to refresh, then review the diff)', () => {
  test.each(CASES)('helm template, $name', async (c) => {
    const rendered = await helmOk(renderArgs(c));
    const header =
      `# helm template ${c.release} charts/modelship --namespace ${c.namespace}` +
      (c.values ? ` --values test/golden/helm/${c.values}` : '') +
      '\n# Generated by test/integration/helm.test.ts: do not edit; run `npm run golden:helm` and review the diff.\n';
    const file = join(GOLDEN_DIR, `${c.name}.yaml`);
    if (UPDATE) {
      writeFileSync(file, header + rendered);
      return;
    }
    if (!existsSync(file)) throw new Error(`${file} does not exist: run \`npm run golden:helm\``);
    const golden = readFileSync(file, 'utf8');
    // A plain toBe prints the whole manifest; the first differing line says what changed.
    const g = golden.split('\n');
    const a = (header + rendered).split('\n');
    const i = g.findIndex((line, n) => line !== a[n]);
    const first = i < 0 && g.length === a.length ? undefined : i < 0 ? g.length : i;
    expect({
      file: `test/golden/helm/${c.name}.yaml`,
      firstDifference:
        first === undefined ? undefined : { line: first + 1, golden: g[first], rendered: a[first] },
      hint: 'if the change is intended: npm run golden:helm',
    }).toEqual({
      file: `test/golden/helm/${c.name}.yaml`,
      firstDifference: undefined,
      hint: 'if the change is intended: npm run golden:helm',
    });
  });

  test('every golden case is listed here (no stale golden files)', () => {
    const files = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.yaml') && !f.endsWith('.values.yaml'));
    expect(files.sort()).toEqual(CASES.map((c) => `${c.name}.yaml`).sort());
  });
});

describe('the default rendering is deploy/, as a chart', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = parse(await helmOk(renderArgs(CASES[0]!)));
  });

  test('the same ClusterRole rules and leader election rules', () => {
    expect(find(objs, 'ClusterRole').rules).toEqual(find(deployDocs('02-rbac.yaml'), 'ClusterRole').rules);
    expect(find(objs, 'Role').rules).toEqual(find(deployDocs('03-leader-election.yaml'), 'Role').rules);
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const file = kind === 'RoleBinding' ? '03-leader-election.yaml' : '02-rbac.yaml';
      const { subjects, roleRef } = find(objs, kind) as K8sObject & { subjects: unknown; roleRef: unknown };
      expect({ kind, subjects, roleRef }).toEqual({
        kind,
        subjects: (find(deployDocs(file), kind) as unknown as { subjects: unknown }).subjects,
        roleRef: (find(deployDocs(file), kind) as unknown as { roleRef: unknown }).roleRef,
      });
    }
  });

  test('the same pod, but for flags the chart spells out at their defaults', () => {
    type Pod = { containers: Array<{ args: string[] } & Record<string, unknown>> } & Record<string, unknown>;
    const podOf = (d: K8sObject) => structuredClone((d.spec as { template: { spec: Pod } }).template.spec);
    const chart = podOf(find(objs, 'Deployment'));
    const plain = podOf(find(deployDocs('04-deployment.yaml'), 'Deployment'));
    const chartArgs = chart.containers[0]!.args;
    const plainArgs = plain.containers[0]!.args;
    for (const a of plainArgs) expect(chartArgs).toContain(a);
    for (const a of chartArgs.filter((x) => !plainArgs.includes(x))) {
      const [, name, value] = /^--([a-z-]+)=(.*)$/.exec(a) ?? [];
      expect({ arg: a, default: FLAGS[name!]?.default }).toEqual({ arg: a, default: value });
    }
    chart.containers[0]!.args = [];
    plain.containers[0]!.args = [];
    expect(chart).toEqual(plain);
    expect((find(objs, 'Deployment').spec as { replicas: number }).replicas).toBe(
      (find(deployDocs('04-deployment.yaml'), 'Deployment').spec as { replicas: number }).replicas,
    );
  });

  test('the same metrics Service', () => {
    expect(find(objs, 'Service').spec).toEqual(find(deployDocs('05-service.yaml'), 'Service').spec);
  });

  test('no label that would make the operator take its own objects for its children', () => {
    for (const o of objs) expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
  });
});

test('--include-crds renders both CRDs exactly as in crds/', async () => {
  const objs = parse(await helmOk(['template', 'x', CHART, '--include-crds']));
  const crds = objs.filter((o) => o.kind === 'CustomResourceDefinition');
  const expected = readdirSync(join(repoRoot, 'crds'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parse(readFileSync(join(repoRoot, 'crds', f), 'utf8')));
  expect(crds.map((c) => c.metadata.name).sort()).toEqual([
    'modeldeployments.modelship.io',
    'modelversions.modelship.io',
  ]);
  for (const e of expected) expect(find(crds, 'CustomResourceDefinition', e.metadata.name)).toEqual(e);
  // Without the flag, templates only: Helm installs crds/ itself, before the templates.
  const plain = parse(await helmOk(['template', 'x', CHART]));
  expect(plain.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
});

test.each([
  [['--set', 'replicaCount=3'], /additional properties 'replicaCount' not allowed/],
  [['--set', 'logLevel=verbose'], /logLevel/],
  [['--set', 'unreadyGrace=10'], /unreadyGrace/],
  [['--set', 'watchNamespaces[0]=Not_A_Namespace'], /watchNamespaces/],
  [['--set', 'leaderElection.enabled=false'], /replicas > 1 needs leaderElection.enabled=true/],
  [
    ['--set', 'metrics.service.enabled=false', '--set', 'metrics.serviceMonitor.enabled=true'],
    /needs metrics.service.enabled/,
  ],
])('the chart refuses %j', async (set, message) => {
  const r = await helm(['template', 'x', CHART, ...set]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(message);
});

test('one replica without leader election renders, without the election flags or Role', async () => {
  const objs = parse(
    await helmOk(['template', 'x', CHART, '--set', 'replicas=1', '--set', 'leaderElection.enabled=false']),
  );
  const args = (
    find(objs, 'Deployment').spec as { template: { spec: { containers: Array<{ args: string[] }> } } }
  ).template.spec.containers[0]!.args;
  expect(args.filter((a) => a.startsWith('--leader-elect'))).toEqual([]);
  expect(objs.filter((o) => o.kind === 'Role')).toEqual([]);
});

// ---- installed into the real cluster ------------------------------------------------------------

const canI = async (sa: string, ...args: string[]): Promise<string> =>
  (await kubectl(['auth', 'can-i', `--as=${sa}`, ...args])).stdout.trim();

describe('helm install into the local cluster', () => {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let watched: Awaited<ReturnType<typeof tempNamespace>> | undefined;
  const release = `ms-${randomBytes(3).toString('hex')}`;
  const full = `${release}-modelship`;
  const installed: Array<{ release: string; namespace: string }> = [];

  beforeAll(async () => {
    ns = await tempNamespace('helm');
    // As deploy/00-namespace.yaml: a pod that does not meet "restricted" is refused at admission.
    await kubectlOk([
      'label',
      'namespace',
      ns.name,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/enforce-version=latest',
    ]);
  });
  afterAll(async () => {
    for (const i of installed) await helm(['uninstall', i.release, '--namespace', i.namespace, '--wait']);
    await ns?.remove();
    await watched?.remove();
  });

  test('installs (CRDs skipped: the global setup applied them) and its two replicas become Ready', async () => {
    const out = await helmOk([
      'install',
      release,
      CHART,
      '--namespace',
      ns.name,
      '--skip-crds',
      '--wait',
      '--timeout',
      '90s',
    ]);
    installed.push({ release, namespace: ns.name });
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain(`It watches every namespace, with the ClusterRole ${full}.`);
    // The pods were admitted by the restricted policy and kwok made them Ready (nothing runs).
    const pods = await waitFor('2 Ready operator pods', async () => {
      const r = JSON.parse(
        await kubectlOk([
          'get',
          'pods',
          '-n',
          ns.name,
          '-l',
          `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`,
          '-o',
          'json',
        ]),
      ) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> };
      const ready = r.items.filter((p) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length === 2 && r.items;
    });
    expect(pods).toHaveLength(2);
  });

  test('the objects exist: ServiceAccount, RBAC, Deployment, metrics Service', async () => {
    for (const [kind, name, namespaced] of [
      ['serviceaccount', full, true],
      ['deployment', full, true],
      ['service', `${full}-metrics`, true],
      ['role', `${full}-leader-election`, true],
      ['rolebinding', `${full}-leader-election`, true],
      ['clusterrole', full, false],
      ['clusterrolebinding', full, false],
    ] as const) {
      const r = await kubectl(['get', kind, name, ...(namespaced ? ['-n', ns.name] : []), '-o', 'name']);
      expect({ kind, name, found: r.code === 0 }).toEqual({ kind, name, found: true });
    }
    const d = JSON.parse(await kubectlOk(['get', 'deployment', full, '-n', ns.name, '-o', 'json'])) as {
      spec: { template: { spec: { serviceAccountName: string; containers: Array<{ image: string }> } } };
      status: { readyReplicas?: number };
    };
    expect(d.spec.template.spec.serviceAccountName).toBe(full);
    expect(d.spec.template.spec.containers[0]!.image).toBe('ghcr.io/modelship/modelship:0.1.0');
    expect(d.status.readyReplicas).toBe(2);
  });

  test('the account has the operator’s access and no more', async () => {
    const sa = `system:serviceaccount:${ns.name}:${full}`;
    expect(await canI(sa, 'list', 'modeldeployments.modelship.io', '--all-namespaces')).toBe('yes');
    expect(await canI(sa, 'patch', 'deployments.apps', '-n', 'default')).toBe('yes');
    expect(await canI(sa, 'patch', 'modeldeployments.modelship.io', '-n', 'default')).toBe('no');
    expect(await canI(sa, 'get', 'secrets', '-n', ns.name)).toBe('no');
    expect(await canI(sa, 'list', 'secrets', '--all-namespaces')).toBe('no');
    expect(await canI(sa, 'update', `leases.coordination.k8s.io/${full}`, '-n', ns.name)).toBe('yes');
    expect(await canI(sa, 'update', 'leases.coordination.k8s.io/someone-else', '-n', ns.name)).toBe('no');
    expect(await canI(sa, 'create', 'leases.coordination.k8s.io', '-n', 'default')).toBe('no');
  });

  test('with watchNamespaces, Roles in those namespaces and no cluster-wide rights', async () => {
    watched = await tempNamespace('helm-watched');
    const rel = `${release}-ns`;
    const fullNs = `${rel}-modelship`;
    const out = await helmOk([
      'install',
      rel,
      CHART,
      '--namespace',
      ns.name,
      '--skip-crds',
      '--set',
      `watchNamespaces={${watched.name}}`,
      '--set',
      'replicas=1',
    ]);
    installed.push({ release: rel, namespace: ns.name });
    expect(out).toContain(`It watches only these namespaces, with a Role in each: ${watched.name}.`);
    expect((await kubectl(['get', 'role', fullNs, '-n', watched.name])).code).toBe(0);
    expect((await kubectl(['get', 'clusterrole', fullNs])).code).not.toBe(0);
    const sa = `system:serviceaccount:${ns.name}:${fullNs}`;
    expect(await canI(sa, 'watch', 'modelversions.modelship.io', '-n', watched.name)).toBe('yes');
    expect(await canI(sa, 'watch', 'modelversions.modelship.io', '-n', 'default')).toBe('no');
    expect(await canI(sa, 'list', 'pods', '--all-namespaces')).toBe('no');
    const d = JSON.parse(await kubectlOk(['get', 'deployment', fullNs, '-n', ns.name, '-o', 'json'])) as {
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    expect(d.spec.template.spec.containers[0]!.args).toContain(`--namespaces=${watched.name}`);
  });

  test('helm uninstall removes everything it made, cluster-wide objects included', async () => {
    for (const i of installed.splice(0))
      await helmOk(['uninstall', i.release, '--namespace', i.namespace, '--wait', '--timeout', '60s']);
    for (const [kind, namespaced] of [
      ['deployment', true],
      ['serviceaccount', true],
      ['role', true],
      ['clusterrole', false],
      ['clusterrolebinding', false],
    ] as const) {
      const r = await kubectl(['get', kind, full, ...(namespaced ? ['-n', ns.name] : []), '-o', 'name']);
      expect({ kind, gone: r.code !== 0 && /NotFound|not found/.test(r.stderr) }).toEqual({
        kind,
        gone: true,
      });
    }
    const left = await kubectlOk([
      'get',
      'clusterroles,clusterrolebindings',
      '-l',
      `app.kubernetes.io/instance in (${release},${release}-ns)`,
      '-o',
      'name',
    ]);
    expect(left.trim()).toBe('');
    // The CRDs were not the release's to remove.
    expect((await kubectl(['get', 'crd', 'modeldeployments.modelship.io'])).code).toBe(0);
  });
});

describe('kubectl apply -f deploy/ (no Helm), renamed to a namespace of its own', () => {
  const id = randomBytes(3).toString('hex');
  const ns = `deploy-${id}`;
  const clusterName = `modelship-deploy-${id}`;

  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
    await kubectl([
      'delete',
      `clusterrole/${clusterName}`,
      `clusterrolebinding/${clusterName}`,
      '--ignore-not-found',
    ]);
  });

  test('applies, passes the restricted policy its namespace enforces, and its two replicas become Ready', async () => {
    const files = readdirSync(join(repoRoot, 'deploy'))
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    const objs = files
      .flatMap((f) =>
        parse(readFileSync(join(repoRoot, 'deploy', f), 'utf8').replaceAll('modelship-system', ns)),
      )
      .map((o) => {
        if (o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding') return o;
        const renamed = { ...o, metadata: { ...o.metadata, name: clusterName } } as K8sObject & {
          roleRef?: { name: string };
        };
        if (renamed.roleRef) renamed.roleRef = { ...renamed.roleRef, name: clusterName };
        return renamed;
      });
    expect(objs.map((o) => o.kind)).toEqual([
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'Service',
    ]);
    const r = await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const labels = JSON.parse(
      await kubectlOk(['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels}']),
    ) as Record<string, string>;
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const rollout = await kubectl(['rollout', 'status', 'deployment/modelship', '-n', ns, '--timeout=60s']);
    expect({ code: rollout.code, stderr: rollout.stderr }).toEqual({ code: 0, stderr: '' });
    const sa = `system:serviceaccount:${ns}:modelship`;
    expect(await canI(sa, 'watch', 'modeldeployments.modelship.io', '--all-namespaces')).toBe('yes');
    expect(await canI(sa, 'get', 'secrets', '-n', ns)).toBe('no');
    expect(await canI(sa, 'update', 'leases.coordination.k8s.io/modelship', '-n', ns)).toBe('yes');
  });
});

// The header of a values file for the golden cases names what it exercises.
test('the namespaced golden case exercises every option the chart has', () => {
  const values = load(readFileSync(join(GOLDEN_DIR, 'namespaced.values.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  const defaults = load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const unused = Object.keys(defaults).filter((k) => !(k in values));
  expect(unused).toEqual([]);
});
