/**
 * Retiring old versions, against the real apiserver and the built operator, with the plugin
 * (dist/plugin/main.js) as a process: a model rolled 1.0.0 -> 2.0.0 -> 3.0.0 with
 * revisionHistoryLimit 1, and a 4.0.0 that was never deployed. 3.0.0 serves; 2.0.0's revision is
 * kept scaled to zero for a rollback, so 2.0.0 is in use (it would not be on the old code, where
 * only a revision with pods held its version); 1.0.0's revision is gone. `kubectl modelship versions
 * iris --unused-for D` offers 4.0.0 and 1.0.0, oldest first, with the command that deletes them;
 * deleting them completes, while deleting 2.0.0 waits and says which ModelDeployment keeps it.
 * Nothing is deleted by the operator on its own, but a version that opted in (spec.retirement), once
 * nothing holds it and it has been idle for the time it gives; never one a kept revision uses.
 */
import { join } from 'node:path';
import type { ModelVersion } from '../../src/api/index.js';
import { clusterEnv, repoRoot } from '../harness/env.js';
import { kubectlOk, run, tempNamespace } from '../harness/kube.js';
import {
  TEST_TIMEOUT_MS,
  apply,
  canaryModelDeployment,
  condition,
  endSuite,
  getMd,
  getObject,
  modelVersion,
  sleep,
  startE2EOperator,
  waitReady,
  waiter,
  type Operator,
} from '../harness/e2e.js';

const MAIN = join(repoRoot, 'dist', 'plugin', 'main.js');
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);
const mv = (v: string) => getObject<ModelVersion>(ns.name, 'modelversion', `iris-${v}`);
const plugin = (args: string[]) =>
  run(process.execPath, [MAIN, '--kubeconfig', clusterEnv().kubeconfig, '-n', ns.name, ...args]);

beforeAll(async () => {
  ns = await tempNamespace('e2e-retire');
  for (const v of ['4.0.0', '1.0.0', '2.0.0', '3.0.0']) await apply(ns.name, modelVersion('iris', v));
  op = startE2EOperator(ns.name);
});
afterAll(() => endSuite('retire', ns, op ? [op] : []), TEST_TIMEOUT_MS);

const md = (version: string) =>
  canaryModelDeployment({
    name: 'iris',
    version,
    steps: [{ setWeight: 50 }],
    replicas: 1,
    spec: { revisionHistoryLimit: 1 },
  });

test(
  'after two rollouts: the serving version, the one a kept revision holds, and two nothing holds',
  async () => {
    for (const v of ['1.0.0', '2.0.0', '3.0.0']) {
      await apply(ns.name, md(v));
      await until(
        `iris serving ${v}`,
        async () => {
          const m = await getMd(ns.name, 'iris');
          return m.status?.stableVersion === v && m.status.phase === 'Healthy' && !m.status.canaryVersion;
        },
        { md: 'iris', timeoutMs: 60000 },
      );
      await waitReady(ns.name, 'iris');
    }
    const v2 = await until('2.0.0 held by the kept revision only', async () => {
      const m = await mv('2.0.0');
      return m?.status?.usedBy?.[0]?.reasons?.join() === 'KeptRevision' && m;
    });
    expect(v2.status?.usedBy).toEqual([{ name: 'iris', reasons: ['KeptRevision'] }]);
    expect(condition(v2.status, 'InUse')?.message).toMatch(
      /^used by ModelDeployment iris \(keeps revision \w+ scaled to zero for a rollback \(within revisionHistoryLimit\)\)$/,
    );
    const v1 = await until('1.0.0 held by nothing', async () => {
      const m = await mv('1.0.0');
      return m?.status?.usedByCount === 0 && condition(m.status, 'Serving')?.status === 'False' && m;
    });
    expect(condition(v1.status, 'InUse')).toMatchObject({ status: 'False', reason: 'NotInUse' });
    expect(v1.status?.lastServedAt).toBeDefined();
    const v4 = await mv('4.0.0');
    expect(v4?.status?.lastServedAt).toBeUndefined();
    expect(condition(v4?.status, 'Serving')?.reason).toBe('NeverServed');
  },
  TEST_TIMEOUT_MS,
);

test(
  'versions --unused-for lists what nothing holds, oldest first, with the command that deletes them',
  async () => {
    const r = await plugin(['versions', 'iris', '--unused-for', '0s']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^VERSION +NAME +LAST SERVED +IDLE +ARTIFACT$/);
    // 4.0.0 never served: idle since it was created, before 1.0.0 stopped serving.
    expect(lines[1]).toMatch(/^4\.0\.0 +iris-4\.0\.0 +never +\S+ +s3:\/\//);
    expect(lines[2]).toMatch(/^1\.0\.0 +iris-1\.0\.0 +\d{4}-\d\d-\d\dT\S+ +\S+ +s3:\/\//);
    expect(lines).toContain(`  kubectl delete modelversion -n ${ns.name} iris-4.0.0 iris-1.0.0`);
    expect(lines.at(-1)).toBe('Not listed: 2 in use.');

    const none = await plugin(['versions', 'iris', '--unused-for', '1000h']);
    expect(none.stdout.trimEnd().split('\n')).toEqual([
      `No version of model iris in namespace ${ns.name} is unused and idle for 1000h.`,
      'Not listed: 2 in use, 2 recently served.',
    ]);
    // The operator deleted nothing on its own.
    for (const v of ['1.0.0', '2.0.0', '3.0.0', '4.0.0']) expect(await mv(v)).toBeDefined();
  },
  TEST_TIMEOUT_MS,
);

test(
  'deleting what was listed completes; deleting the kept version waits and names its keeper',
  async () => {
    await kubectlOk(['delete', 'modelversion', '-n', ns.name, 'iris-4.0.0', 'iris-1.0.0', '--timeout=30s']);
    expect(await mv('4.0.0')).toBeUndefined();
    expect(await mv('1.0.0')).toBeUndefined();
    await kubectlOk(['delete', 'modelversion', '-n', ns.name, 'iris-2.0.0', '--wait=false']);
    const blocked = await until('2.0.0 DeletionBlocked', async () => {
      const m = await mv('2.0.0');
      return condition(m?.status, 'InUse')?.reason === 'DeletionBlocked' && m;
    });
    expect(condition(blocked.status, 'InUse')?.message).toContain(
      'used by ModelDeployment iris (keeps revision',
    );
  },
  TEST_TIMEOUT_MS,
);

/** A ModelVersion that opted in to automatic retirement after `idle`. */
const retiring = (model: string, version: string, idle: string) => ({
  ...modelVersion(model, version),
  spec: { ...modelVersion(model, version).spec, retirement: { deleteWhenIdleFor: idle } },
});

test(
  'spec.retirement: the operator deletes an idle version nothing holds, never one a kept revision uses',
  async () => {
    const rose = (version: string, limit: number) =>
      canaryModelDeployment({
        name: 'rose',
        version,
        steps: [{ setWeight: 50 }],
        replicas: 1,
        spec: { revisionHistoryLimit: limit },
      });
    const roseMv = (v: string) => getObject<ModelVersion>(ns.name, 'modelversion', `rose-${v}`);
    // rose names 1.0.0 before it exists, so the version is held from its first moment: a version idle
    // since its creation (never served) is retired as well, which is what 9.0.0 shows.
    await apply(ns.name, rose('1.0.0', 1));
    await apply(ns.name, retiring('rose', '1.0.0', '4s'));
    await apply(ns.name, modelVersion('rose', '2.0.0'));
    await apply(ns.name, retiring('rose', '9.0.0', '1s')); // never deployed
    for (const v of ['1.0.0', '2.0.0']) {
      await apply(ns.name, rose(v, 1));
      await until(
        `rose serving ${v}`,
        async () => {
          const m = await getMd(ns.name, 'rose');
          return m.status?.stableVersion === v && m.status.phase === 'Healthy' && !m.status.canaryVersion;
        },
        { md: 'rose', timeoutMs: 60000 },
      );
    }
    // Never deployed and idle since its creation: retired, with an Event that says why.
    await until('rose-9.0.0 retired', async () => (await roseMv('9.0.0')) === undefined, {
      timeoutMs: 30000,
    });
    const events = await kubectlOk([
      'get',
      'events',
      '-n',
      ns.name,
      '--field-selector',
      'involvedObject.name=rose-9.0.0,reason=Retired',
      '-o',
      'jsonpath={.items[*].message}',
    ]);
    expect(events).toContain('(spec.retirement): deleted; its artifact s3://');

    // 1.0.0 stopped serving at the promotion and is idle past its 4s, but rose keeps its revision at 0
    // for a rollback: it stays, for as long as the revision is kept.
    const held = await until('rose-1.0.0 held by the kept revision', async () => {
      const m = await roseMv('1.0.0');
      return m?.status?.usedBy?.[0]?.reasons?.join() === 'KeptRevision' && m;
    });
    await sleep(Math.max(0, Date.parse(held.status!.lastServedAt!) + 6000 - Date.now()));
    const still = await roseMv('1.0.0');
    expect(still?.metadata?.deletionTimestamp).toBeUndefined();
    expect(still?.status?.usedBy?.[0]?.reasons).toEqual(['KeptRevision']);
    expect(condition(still?.status, 'Serving')?.status).toBe('False');
    // 2.0.0 serves: it stays too.
    expect(await roseMv('2.0.0')).toBeDefined();

    // The revision goes (no history kept): nothing holds 1.0.0 any more, and it is retired.
    await apply(ns.name, rose('2.0.0', 0));
    await until('rose-1.0.0 retired', async () => (await roseMv('1.0.0')) === undefined, {
      md: 'rose',
      timeoutMs: 30000,
    });
    expect(await roseMv('2.0.0')).toBeDefined();
    // Versions that did not opt in are never deleted by the operator.
    for (const v of ['2.0.0', '3.0.0']) expect(await mv(v)).toBeDefined();
  },
  TEST_TIMEOUT_MS,
);
