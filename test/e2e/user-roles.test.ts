/**
 * The roles for people and pipelines (deploy/08-user-roles.yaml) and the policy that holds a release
 * pipeline to spec.version (deploy/09-release-policy.yaml), on the real apiserver, with the tokens of
 * ServiceAccounts bound to each: the built-in view, edit and admin roles (which modelship's roles
 * aggregate into), modelship-release, and edit plus modelship-release. Each is asked twice: what
 * `kubectl auth can-i` answers, and what real requests do. A refusal reaches the plugin as one line.
 * The roles and policy are deploy/'s, renamed for this run (cluster-wide names must not collide).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { clusterEnv, repoRoot } from '../harness/env.js';
import {
  kubeConfig,
  kubectl,
  kubectlOk,
  run,
  tempNamespace,
  waitFor,
  writeTokenKubeconfig,
  type RunResult,
} from '../harness/kube.js';
import { GROUP_VERSION, modelVersion } from '../harness/e2e.js';

const suffix = Math.random().toString(36).slice(2, 8);
const MAIN = join(repoRoot, 'dist', 'plugin', 'main.js');
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let dir: string;
const made: string[] = [];

interface Doc {
  kind: string;
  metadata: { name: string };
  spec?: { policyName?: string };
}

/** deploy/'s user roles and release policy, renamed for this run. */
function deployDocs(): Doc[] {
  const docs = ['08-user-roles.yaml', '09-release-policy.yaml'].flatMap(
    (f) => loadAll(readFileSync(join(repoRoot, 'deploy', f), 'utf8')) as Doc[],
  );
  for (const d of docs) {
    d.metadata.name = `${d.metadata.name}-${suffix}`;
    if (d.spec?.policyName) d.spec.policyName = `${d.spec.policyName}-${suffix}`;
  }
  return docs;
}

/** Who is tested, and the ClusterRoles bound to it in the namespace. */
const SUBJECTS: Record<string, string[]> = {
  viewer: ['view'],
  editor: ['edit'],
  admin: ['admin'],
  pipeline: [`modelship-release-${suffix}`],
  'pipeline-editor': ['edit', `modelship-release-${suffix}`],
};
const kubeconfigs: Record<string, string> = {};

/** kubectl with `who`'s token; never throws on a non-zero exit. */
function as(who: string, args: string[], input?: string): Promise<RunResult> {
  return run(
    clusterEnv().kubectl,
    ['--kubeconfig', kubeconfigs[who]!, '-n', ns.name, ...args],
    input === undefined ? {} : { input },
  );
}

async function canI(who: string, verb: string, resource: string): Promise<boolean> {
  // `can-i VERB RESOURCE/NAME` reads a name after the slash: a subresource is a flag of its own.
  const [res, sub] = resource.split('/');
  const r = await as(who, ['auth', 'can-i', verb, res!, ...(sub ? [`--subresource=${sub}`] : [])]);
  return r.stdout.trim() === 'yes';
}

const md = (name: string, version = '1.0.0') => ({
  apiVersion: GROUP_VERSION,
  kind: 'ModelDeployment',
  metadata: { name },
  spec: { model: 'iris', version, replicas: 0, traffic: { router: 'service' } },
});

const patch = (who: string, target: string, body: object) =>
  as(who, ['patch', target, '--type=merge', '-p', JSON.stringify(body)]);
const refused = (r: RunResult) => r.code !== 0 && /forbidden|Forbidden/.test(r.stderr);
const refusedByPolicy = (r: RunResult) =>
  refused(r) && r.stderr.includes(`modelship-release-version-only-${suffix}`);

beforeAll(async () => {
  ns = await tempNamespace('e2e-roles');
  dir = mkdtempSync(join(tmpdir(), 'modelship-roles-'));
  const docs = deployDocs();
  await kubectlOk(['apply', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n'));
  made.push(...docs.map((d) => `${d.kind.toLowerCase()}/${d.metadata.name}`));
  const base = kubeConfig();
  for (const [who, roles] of Object.entries(SUBJECTS)) {
    await kubectlOk(['create', 'serviceaccount', who, '-n', ns.name]);
    for (const role of roles)
      await kubectlOk([
        'create',
        'rolebinding',
        `${who}-${role}`,
        '-n',
        ns.name,
        `--clusterrole=${role}`,
        `--serviceaccount=${ns.name}:${who}`,
      ]);
    const token = (await kubectlOk(['create', 'token', who, '-n', ns.name, '--duration=1h'])).trim();
    kubeconfigs[who] = writeTokenKubeconfig(join(dir, who), base, who, token);
  }
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(modelVersion('iris', '1.0.0')));
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(md('iris')));
  // The aggregation controller copies the rules into view/edit/admin; the admission plugin loads
  // the policy: both take a moment.
  await waitFor('view and edit to cover modelship.io', async () =>
    (await canI('viewer', 'list', 'modeldeployments.modelship.io')) &&
    (await canI('editor', 'delete', 'modelversions.modelship.io'))
      ? true
      : undefined,
  );
  await waitFor(
    'the release policy to refuse the pipeline a change of replicas',
    async () =>
      refusedByPolicy(
        await as('pipeline', [
          'patch',
          'modeldeployment/iris',
          '--dry-run=server',
          '--type=merge',
          '-p',
          '{"spec":{"replicas":3}}',
        ]),
      ),
    { timeoutMs: 30_000, intervalMs: 500 },
  );
}, 90_000);

afterAll(async () => {
  if (made.length) await kubectl(['delete', ...made, '--ignore-not-found']);
  await ns?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const MD = 'modeldeployments.modelship.io';
const MV = 'modelversions.modelship.io';

test('kubectl auth can-i: what each role may do', async () => {
  const asks: Array<[string, string]> = [
    ['get', MD],
    ['list', MV],
    ['watch', MD],
    ['create', MV],
    ['create', MD],
    ['patch', MD],
    ['update', MD],
    ['delete', MV],
    ['delete', MD],
    ['deletecollection', MV],
    ['patch', `${MD}/status`],
    ['patch', `${MV}/status`],
    ['update', `${MD}/scale`],
  ];
  const table: Record<string, string[]> = {};
  for (const who of Object.keys(SUBJECTS)) {
    table[who] = [];
    for (const [verb, res] of asks) if (await canI(who, verb, res)) table[who].push(`${verb} ${res}`);
  }
  const read = [`get ${MD}`, `list ${MV}`, `watch ${MD}`];
  const write = [
    `create ${MV}`,
    `create ${MD}`,
    `patch ${MD}`,
    `update ${MD}`,
    `delete ${MV}`,
    `delete ${MD}`,
    `deletecollection ${MV}`,
    `update ${MD}/scale`,
  ];
  expect(table).toEqual({
    viewer: read,
    editor: [...read, ...write],
    admin: [...read, ...write],
    // Creates versions and updates ModelDeployments (the policy holds that to spec.version);
    // deletes nothing, writes no status.
    pipeline: [...read, `create ${MV}`, `patch ${MD}`, `update ${MD}`],
    'pipeline-editor': [...read, ...write],
  });
});

test('the viewer reads, and every write is refused', async () => {
  expect((await as('viewer', ['get', 'modeldeployment', 'iris'])).code).toBe(0);
  expect((await as('viewer', ['get', 'modelversions'])).code).toBe(0);
  expect(
    refused(await as('viewer', ['apply', '-f', '-'], JSON.stringify(modelVersion('iris', '9.0.0')))),
  ).toBe(true);
  expect(refused(await patch('viewer', 'modeldeployment/iris', { spec: { version: '9.0.0' } }))).toBe(true);
  expect(refused(await as('viewer', ['delete', 'modelversion', 'iris-1.0.0']))).toBe(true);
});

test.each(['editor', 'admin'])(
  'the %s creates, changes and deletes both kinds, and writes no status',
  async (who) => {
    const v = who === 'editor' ? '2.0.0' : '3.0.0';
    expect((await as(who, ['apply', '-f', '-'], JSON.stringify(modelVersion('iris', v)))).code).toBe(0);
    expect((await as(who, ['apply', '-f', '-'], JSON.stringify(md(`${who}-md`)))).code).toBe(0);
    expect((await patch(who, `modeldeployment/${who}-md`, { spec: { version: v, replicas: 2 } })).code).toBe(
      0,
    );
    expect((await as(who, ['scale', `modeldeployment/${who}-md`, '--replicas=1'])).code).toBe(0);
    expect(
      refused(
        await as(who, [
          'patch',
          `modeldeployment/${who}-md`,
          '--subresource=status',
          '--type=merge',
          '-p',
          '{"status":{"phase":"Healthy"}}',
        ]),
      ),
    ).toBe(true);
    expect((await as(who, ['delete', `modeldeployment/${who}-md`])).code).toBe(0);
    expect((await as(who, ['delete', `modelversion/iris-${v}`])).code).toBe(0);
  },
);

test('the pipeline creates versions and changes spec.version, and nothing else', async () => {
  expect(
    (await as('pipeline', ['create', '-f', '-'], JSON.stringify(modelVersion('iris', '1.1.0')))).code,
  ).toBe(0);
  // A merge patch, and kubectl apply (which also rewrites its last-applied annotation).
  expect((await patch('pipeline', 'modeldeployment/iris', { spec: { version: '1.1.0' } })).code).toBe(0);
  const applied = await as('pipeline', ['apply', '-f', '-'], JSON.stringify(md('iris', '1.0.0')));
  expect(applied).toMatchObject({ code: 0 });
  const before = JSON.parse(await kubectlOk(['get', 'modeldeployment', 'iris', '-n', ns.name, '-o', 'json']));
  expect(before.spec).toMatchObject({ version: '1.0.0', replicas: 0 });

  // Everything else of the spec, and the metadata, is refused by the policy, naming it.
  for (const body of [
    { spec: { replicas: 2 } },
    { spec: { paused: true } },
    { spec: { revisionHistoryLimit: 0 } },
    { spec: { traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } } } },
    { spec: { version: '1.1.0', replicas: 5 } },
    { metadata: { labels: { team: 'x' } } },
    { metadata: { annotations: { 'modelship.io/promote': 'now' } } },
  ]) {
    const r = await patch('pipeline', 'modeldeployment/iris', body);
    expect({ body, refusedByPolicy: refusedByPolicy(r) }).toEqual({ body, refusedByPolicy: true });
  }
  // RBAC: no deletes, no new ModelDeployments, no status.
  expect(refused(await as('pipeline', ['delete', 'modelversion', 'iris-1.0.0']))).toBe(true);
  expect(refused(await as('pipeline', ['delete', 'modeldeployment', 'iris']))).toBe(true);
  expect(refused(await as('pipeline', ['create', '-f', '-'], JSON.stringify(md('other'))))).toBe(true);
  const after = JSON.parse(await kubectlOk(['get', 'modeldeployment', 'iris', '-n', ns.name, '-o', 'json']));
  expect(after.spec).toEqual(before.spec);
  expect(after.metadata.labels).toBeUndefined();
  expect(after.metadata.annotations).toEqual(before.metadata.annotations);
});

test('someone who is both an editor and the pipeline is not held to the pipeline’s limit', async () => {
  expect((await patch('pipeline-editor', 'modeldeployment/iris', { spec: { paused: true } })).code).toBe(0);
  expect((await patch('pipeline-editor', 'modeldeployment/iris', { spec: { paused: null } })).code).toBe(0);
  // And the admin who installed modelship (a wildcard rule) neither.
  expect(
    (
      await kubectl([
        'patch',
        'modeldeployment/iris',
        '-n',
        ns.name,
        '--type=merge',
        '-p',
        '{"spec":{"replicas":1}}',
      ])
    ).code,
  ).toBe(0);
});

test('the plugin turns a refusal into one line: RBAC (the viewer) and the release policy (the pipeline)', async () => {
  const plugin = (who: string, args: string[]) =>
    run(process.execPath, [MAIN, '--kubeconfig', kubeconfigs[who]!, '-n', ns.name, ...args]);
  for (const [who, args] of [
    ['viewer', ['rollback', 'iris', '--to', '1.1.0']],
    ['pipeline', ['pause', 'iris']],
    ['viewer', ['pause', 'iris']],
  ] as const) {
    const r = await plugin(who, [...args]);
    expect({ who, args, code: r.code, stdout: r.stdout }).toEqual({ who, args, code: 1, stdout: '' });
    const lines = r.stderr.trimEnd().split('\n');
    expect({ who, lines }).toEqual({ who, lines: [expect.any(String)] });
    expect(lines[0]).toMatch(
      who === 'viewer'
        ? /^modelship: not allowed to patch ModelDeployment "iris" .* cannot patch resource "modeldeployments" .*; ask for RBAC access or use another --context$/
        : new RegExp(
            `^modelship: refused to patch ModelDeployment "iris" in namespace "${ns.name}" by the admission policy modelship-release-version-only-${suffix}: the modelship-release role may change spec.version of ModelDeployment ${ns.name}/iris and nothing else of its spec; other changes need the edit role$`,
          ),
    );
  }
  // What the pipeline may do, it may do through the plugin too.
  const ok = await plugin('pipeline', ['rollback', 'iris', '--to', '1.1.0']);
  expect(ok.code).toBe(0);
  const spec = JSON.parse(
    await kubectlOk(['get', 'modeldeployment', 'iris', '-n', ns.name, '-o', 'json']),
  ).spec;
  expect(spec.version).toBe('1.1.0');
});
