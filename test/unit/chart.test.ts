// What ships the operator, checked without a cluster: the chart's CRDs are the repository's, byte for
// byte; the plain manifests in deploy/ grant exactly the API access the operator uses (no Secrets, no
// wildcards) and run it the way the restricted Pod Security Standard demands; their variants agree
// with each other; and the image's entry point exists after the build and starts.
// The chart's rendering, lint and an install into a real cluster are in test/integration/helm.test.ts;
// that the ClusterRole is enough, and that less is not, in test/e2e/least-privilege.test.ts.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, loadAll } from 'js-yaml';
import { FLAGS } from '../../src/cli/options.js';
import { OPERATOR_ACCESS, accessOf as access } from '../harness/rbac.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        terminationGracePeriodSeconds?: number;
        securityContext?: Record<string, unknown>;
        containers: Container[];
      };
    };
  };
}

function docs(path: string): K8sObject[] {
  return (loadAll(read(path)) as Array<K8sObject | null>).filter((d): d is K8sObject => !!d);
}
function only<T extends K8sObject>(path: string, kind: string): T {
  const found = docs(path).filter((d) => d.kind === kind);
  if (found.length !== 1) throw new Error(`${path}: expected one ${kind}, found ${found.length}`);
  return found[0] as T;
}

const clusterRole = only<K8sObject & { rules: PolicyRule[] }>('deploy/02-rbac.yaml', 'ClusterRole');
const deployment = only<Deployment>('deploy/04-deployment.yaml', 'Deployment');
const container = deployment.spec.template.spec.containers[0]!;

describe('the chart carries the repository CRDs', () => {
  test('charts/modelship/crds/ holds exactly the files of crds/, byte for byte', () => {
    const list = (dir: string) =>
      readdirSync(join(ROOT, dir))
        .filter((f) => /\.ya?ml$/.test(f))
        .sort();
    const hint =
      'crds/ is the single source of the schemas and the chart ships a copy: after changing crds/, ' +
      'run `npm run chart:sync-crds` and commit both';
    expect({ files: list('charts/modelship/crds'), hint }).toEqual({ files: list('crds'), hint });
    for (const f of list('crds')) {
      const same = read(`crds/${f}`) === read(`charts/modelship/crds/${f}`);
      expect({ file: f, identical: same, hint }).toEqual({ file: f, identical: true, hint });
    }
  });
});

describe('deploy/: RBAC', () => {
  test('the ClusterRole grants exactly the access the operator uses', () => {
    expect(access(clusterRole.rules)).toEqual(OPERATOR_ACCESS);
  });

  test('no Secrets, no wildcards, no names in the cluster-wide rules', () => {
    for (const r of clusterRole.rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
      expect(r.resources).not.toContain('secrets');
      expect(r.resourceNames).toBeUndefined();
    }
  });

  test('the ClusterRoleBinding binds that ClusterRole to the Deployment’s ServiceAccount', () => {
    const binding = only<K8sObject & { roleRef: { kind: string; name: string }; subjects: object[] }>(
      'deploy/02-rbac.yaml',
      'ClusterRoleBinding',
    );
    const sa = only<K8sObject>('deploy/01-serviceaccount.yaml', 'ServiceAccount');
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: clusterRole.metadata.name });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(deployment.metadata.namespace).toBe(sa.metadata.namespace);
  });

  test('leader election may get/update only its own Lease, in the operator’s namespace', () => {
    const role = only<K8sObject & { rules: PolicyRule[] }>('deploy/03-leader-election.yaml', 'Role');
    expect(role.metadata.namespace).toBe(deployment.metadata.namespace);
    const leaseName = /^--leader-election-name=(.+)$/.exec(
      container.args!.find((a) => a.startsWith('--leader-election-name=')) ?? '',
    )?.[1];
    expect(leaseName).toBeDefined();
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [leaseName],
        verbs: ['get', 'update'],
      },
    ]);
  });

  test('the single-namespace variant has the same rules, in a Role bound to the same account', () => {
    const role = only<K8sObject & { rules: PolicyRule[] }>('deploy/namespaced/01-role.yaml', 'Role');
    const binding = only<K8sObject & { roleRef: object; subjects: object[] }>(
      'deploy/namespaced/01-role.yaml',
      'RoleBinding',
    );
    expect(role.rules).toEqual(clusterRole.rules);
    expect(binding.metadata.namespace).toBe(role.metadata.namespace);
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'modelship', namespace: deployment.metadata.namespace },
    ]);
  });
});

describe('deploy/: the operator Deployment', () => {
  test('the single-namespace Deployment is the cluster-wide one plus --namespaces=<the Role’s namespace>', () => {
    const role = only<K8sObject>('deploy/namespaced/01-role.yaml', 'Role');
    const namespaced = only<Deployment>('deploy/namespaced/02-deployment.yaml', 'Deployment');
    const expected = structuredClone(deployment);
    expected.spec.template.spec.containers[0]!.args!.push(`--namespaces=${role.metadata.namespace}`);
    expect(namespaced).toEqual(expected);
  });

  test('two replicas with leader election, health and metrics on one port', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(container.args).toContain('--leader-elect');
    const listen = container.args!.find((a) => a.startsWith('--listen='));
    const port = Number(listen?.split(':').pop());
    expect(container.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
    // https: /metrics on the same port is served to authorized tokens only (--metrics-auth=kubernetes).
    expect(container.args!.some((a) => a.startsWith('--metrics-auth='))).toBe(false);
    expect(FLAGS['metrics-auth']!.default).toBe('kubernetes');
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTPS' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http', scheme: 'HTTPS' });
    const svc = only<K8sObject & { spec: { ports: object[]; selector: object } }>(
      'deploy/05-service.yaml',
      'Service',
    );
    expect(svc.spec.ports).toEqual([{ name: 'metrics', port, targetPort: 'http', protocol: 'TCP' }]);
    expect(deployment.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
  });

  test('every flag the manifests pass is one the operator knows', () => {
    const namespaced = only<Deployment>('deploy/namespaced/02-deployment.yaml', 'Deployment');
    for (const d of [deployment, namespaced])
      for (const arg of d.spec.template.spec.containers[0]!.args ?? []) {
        const name = /^--([a-z0-9-]+)/.exec(arg)?.[1];
        expect({ arg, known: !!name && name in FLAGS }).toEqual({ arg, known: true });
      }
  });

  test('POD_NAMESPACE comes from the downward API (the Lease’s namespace)', () => {
    expect(container.env).toContainEqual({
      name: 'POD_NAMESPACE',
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    });
  });

  test('the pod meets the restricted Pod Security Standard', () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.securityContext!.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const ns = only<K8sObject>('deploy/00-namespace.yaml', 'Namespace');
    expect(ns.metadata.name).toBe(deployment.metadata.namespace);
    for (const mode of ['enforce', 'audit', 'warn'])
      expect(ns.metadata.labels?.[`pod-security.kubernetes.io/${mode}`]).toBe('restricted');
  });

  test('requests and limits are set; the heap fits under the memory limit', () => {
    const r = container.resources!;
    expect(Object.keys(r.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(r.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
    const mi = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]);
    const heap = Number(
      /--max-old-space-size=(\d+)/.exec(
        container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '',
      )?.[1],
    );
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThan(mi(r.limits!.memory!));
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(0);
  });

  test('the image is the released one: the package version, and the chart’s appVersion and repository', () => {
    const pkg = JSON.parse(read('package.json')) as { version: string };
    const chart = load(read('charts/modelship/Chart.yaml')) as { appVersion: string; version: string };
    const values = load(read('charts/modelship/values.yaml')) as { image: { repository: string } };
    expect(container.image).toBe(`ghcr.io/modelship/modelship:${pkg.version}`);
    expect(chart.appVersion).toBe(pkg.version);
    expect(container.image).toBe(`${values.image.repository}:${chart.appVersion}`);
  });

  test('nothing of the operator’s own carries the label it selects its children by', () => {
    // The operator caches objects labelled app.kubernetes.io/managed-by=modelship as its children
    // (src/controllers/caches.ts); its own pods among them would be reconciled as model revisions.
    const files = [
      ...readdirSync(join(ROOT, 'deploy')).map((f) => `deploy/${f}`),
      ...readdirSync(join(ROOT, 'deploy/namespaced')).map((f) => `deploy/namespaced/${f}`),
      ...readdirSync(join(ROOT, 'deploy/extras')).map((f) => `deploy/extras/${f}`),
    ].filter((f) => f.endsWith('.yaml'));
    for (const f of files)
      for (const d of docs(f)) {
        const labels = [d.metadata.labels, (d as Partial<Deployment>).spec?.template?.metadata?.labels];
        for (const l of labels) expect(l?.['app.kubernetes.io/managed-by']).not.toBe('modelship');
      }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .reduce<string[][]>((acc, line) => {
      if (/^FROM\s/i.test(line)) acc.push([]);
      acc[acc.length - 1]?.push(line.trim());
      return acc;
    }, []);
  const runtime = stages[stages.length - 1]!;
  const build = stages[0]!;

  test('builds with npm ci, npm run build and a production prune; runs as a numeric non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runs = build.filter((l) => l.startsWith('RUN ')).join(' && ');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build\b/);
    expect(runs).toMatch(/npm prune --omit=dev\b/);
    const user = runtime.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/);
    // The Deployment's runAsUser is the image's user.
    expect(user!.slice(5).split(':')[0]).toBe(
      String(deployment.spec.template.spec.securityContext!.runAsUser),
    );
  });

  test('the build stage has what `npm run build` runs (hack/node.sh, the tsconfigs), and .dockerignore admits it', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: { build: string } };
    expect(pkg.scripts.build).toMatch(/^bash hack\/node\.sh tsc -p tsconfig\.build\.json$/);
    const copied = build
      .filter((l) => l.startsWith('COPY '))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .filter((f) => !f.startsWith('--'));
    const admitted = read('.dockerignore')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1));
    for (const f of [
      'hack/node.sh',
      'tsconfig.build.json',
      'tsconfig.json',
      'package.json',
      'package-lock.json',
    ])
      expect({ f, copied: copied.includes(f), admitted: admitted.includes(f) }).toEqual({
        f,
        copied: true,
        admitted: true,
      });
    // hack/node.sh must work on its own in the image (nothing else of hack/ is copied).
    expect(read('hack/node.sh')).not.toMatch(/^\s*(\.|source)\s/m);
  });

  test('builds on node:<N>-bookworm and runs on distroless nodejs<N>-debian12: N is the Node LTS hack/node.sh pins', () => {
    const pinned = /^NODE_VERSION="\$\{MODELSHIP_NODE_VERSION:-(\d+)\.\d+\.\d+\}"$/m.exec(
      read('hack/node.sh'),
    )?.[1];
    expect(pinned).toBeDefined();
    // Even majors are the LTS lines; Node 24 is the newest with a distroless image today.
    expect(Number(pinned) % 2).toBe(0);
    const from = (stage: string[]): string => stage[0]!.split(/\s+/)[1]!;
    // Both Debian 12 (bookworm): the build stage's native modules, if any, link the runtime's libc.
    expect(from(build)).toBe(`node:${pinned}-bookworm`);
    expect(from(runtime)).toBe(`gcr.io/distroless/nodejs${pinned}-debian12:nonroot`);
  });

  test('what a pod runs (ENTRYPOINT, then the container args in place of CMD) starts the operator, for deploy/ and the chart', () => {
    // Rebuild the runtime stage's /app from what it copies out of the build stage, with this
    // checkout's build (into a temporary directory, so dist/ of a running test is not touched).
    const pkg = JSON.parse(read('package.json')) as { scripts: { build: string } };
    // process.execPath is the node hack/node.sh chose: the npm scripts run jest through it.
    const tsconfig = /^bash hack\/node\.sh tsc -p (\S+)$/.exec(pkg.scripts.build)?.[1];
    if (!tsconfig)
      throw new Error(
        `this test runs "bash hack/node.sh tsc -p <file>" as the build; the build script is now ${JSON.stringify(pkg.scripts.build)}: update the test`,
      );
    const workdir = runtime
      .filter((l) => l.startsWith('WORKDIR '))
      .pop()
      ?.slice(8);
    expect(workdir).toBe('/app');
    const tmp = mkdtempSync(join(tmpdir(), 'modelship-image-'));
    try {
      const app = join(tmp, 'app');
      mkdirSync(app);
      const outDir = join(app, 'dist');
      const tsc = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, tsconfig), '--outDir', outDir],
        {
          encoding: 'utf8',
        },
      );
      expect({ status: tsc.status, out: tsc.stdout + tsc.stderr }).toEqual({ status: 0, out: '' });
      // What the runtime stage copies from the build stage's /app, staged from this checkout.
      const staged: Record<string, (dest: string) => void> = {
        'package.json': (dest) => copyFileSync(join(ROOT, 'package.json'), dest),
        node_modules: (dest) => symlinkSync(join(ROOT, 'node_modules'), dest, 'dir'),
        dist: () => undefined,
      };
      for (const line of runtime.filter((l) => l.startsWith('COPY '))) {
        const m = /^COPY --from=\S+ \/app\/(\S+) \.\/(\S+)$/.exec(line);
        if (!m || m[1] !== m[2] || !staged[m[1]!])
          throw new Error(`the runtime stage has "${line}", which this test does not know how to stage`);
        staged[m[1]!]!(join(app, m[1]!));
      }
      const exec = (keyword: string): string[] =>
        JSON.parse(/^\S+ (\[.*\])$/.exec(runtime.find((l) => l.startsWith(`${keyword} `))!)![1]!) as string[];
      // The base image's node (distroless: /nodejs/bin/node), then the script: container args are
      // the operator's flags.
      const entrypoint = exec('ENTRYPOINT');
      expect(entrypoint).toEqual(['/nodejs/bin/node', 'dist/main.js']);
      expect(exec('CMD')).toEqual([]);
      expect(existsSync(join(app, entrypoint[1]!))).toBe(true);
      const env = Object.fromEntries(
        runtime
          .filter((l) => l.startsWith('ENV '))
          .map((l) => /^ENV (\w+)=(.*)$/.exec(l)!.slice(1, 3) as [string, string]),
      );
      expect(env.NODE_OPTIONS).toBe('--max-semi-space-size=2');
      // The operator's container in every manifest that runs it: its args replace CMD (Kubernetes
      // never replaces ENTRYPOINT unless `command` is set, which none does). Each must parse; with
      // --help appended the operator prints its usage and exits 0 instead of starting.
      const charts = ['test/golden/helm/default.yaml', 'test/golden/helm/namespaced.yaml'];
      const manifests = [
        'deploy/04-deployment.yaml',
        'deploy/namespaced/02-deployment.yaml',
        ...charts,
      ].flatMap((f) =>
        docs(f)
          .filter((d): d is Deployment => d.kind === 'Deployment')
          .map((d) => ({ f, c: d.spec.template.spec.containers.find((x) => x.name === 'operator')! })),
      );
      expect(manifests.length).toBeGreaterThanOrEqual(4);
      for (const { f, c } of manifests) {
        expect({ f, command: c.command }).toEqual({ f, command: undefined });
        // A container's NODE_OPTIONS replaces the image's whole: it must repeat the image's flags
        // (the young-generation size the footprint figures depend on).
        const podNodeOptions = c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
        const flags = (podNodeOptions ?? env.NODE_OPTIONS ?? '').split(/\s+/);
        for (const flag of (env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean))
          expect({ f, NODE_OPTIONS: podNodeOptions, has: flags.includes(flag) }).toEqual({
            f,
            NODE_OPTIONS: podNodeOptions,
            has: true,
          });
        // Run with the pod's NODE_OPTIONS: node refuses a flag it does not know there.
        const run = spawnSync(process.execPath, [...entrypoint.slice(1), ...(c.args ?? []), '--help'], {
          cwd: app,
          encoding: 'utf8',
          timeout: 30000,
          env: {
            ...process.env,
            ...env,
            ...(podNodeOptions !== undefined ? { NODE_OPTIONS: podNodeOptions } : {}),
          },
        });
        expect({ f, status: run.status, stderr: run.stderr }).toEqual({ f, status: 0, stderr: '' });
        expect(run.stdout).toContain('Usage: modelship');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 180000);
});
