/**
 * ModelVersion protection and resolution, against the real apiserver and the built operator. A
 * ModelVersion is in use while a ModelDeployment names it in its spec, serves it from one of its
 * revisions, or keeps a revision built from it (scaled to zero within revisionHistoryLimit, what a
 * rollback goes back to): moving spec.version away does not release the old version while its
 * revision is the stable one, nor once it is promoted away while the revision is kept; only once
 * the revision goes does a pending deletion complete. The Serving condition and lastServedAt follow
 * when a version starts and stops receiving traffic. A ModelDeployment naming a version that does
 * not exist says so and leaves what serves alone.
 */
import type { V1Service } from '@kubernetes/client-node';
import type { ModelVersion } from '../../src/api/index.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  apply,
  condition,
  current,
  getMd,
  getObject,
  modelVersion,
  promote,
  revisionOf,
  revisions,
  TEST_TIMEOUT_MS,
  sleep,
  startE2EOperator,
  waitReady,
  waiter,
  type Operator,
  endSuite,
} from '../harness/e2e.js';

// The ModelDeployment's name differs from the model's, so a message that names it is unambiguous.
const MD = 'iris-prod';
const FINALIZER = 'modelship.io/in-use-protection';
const V1 = 'iris-1.0.0';
const V2 = 'iris-2.0.0';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

function md(version: string, name = MD): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name },
    spec: {
      model: 'iris',
      version,
      replicas: 1,
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 50 }, { pause: {} }], scaleDownDelaySeconds: 0 },
      },
    },
  };
}

const mv = (name: string) => getObject<ModelVersion>(ns.name, 'modelversion', name);
const usedBy = (m: ModelVersion | undefined) => (m?.status?.usedBy ?? []).map((u) => u.name).sort();

let v1Revision: string;

beforeAll(async () => {
  ns = await tempNamespace('e2e-mv');
  op = startE2EOperator(ns.name);
  await apply(ns.name, modelVersion('iris', '1.0.0'));
  await apply(ns.name, modelVersion('iris', '2.0.0'));
});
afterAll(() => endSuite('modelversion', ns, op ? [op] : []), TEST_TIMEOUT_MS);

test(
  'every ModelVersion gets the in-use finalizer; usedBy lists the ModelDeployment that serves it',
  async () => {
    await apply(ns.name, md('1.0.0'));
    await waitReady(ns.name, MD);
    v1Revision = (await getMd(ns.name, MD)).status!.stableRevision!;

    const used = await until(
      `${V1} protected and used by ${MD}`,
      async () => {
        const m = await mv(V1);
        return m?.metadata?.finalizers?.includes(FINALIZER) && usedBy(m).includes(MD) && m;
      },
      { md: MD },
    );
    expect(usedBy(used)).toEqual([MD]);
    expect(used.status?.phase).toBe('InUse');
    // It serves: the Serving condition says through which revision, lastServedAt when it began.
    const serving = await until(`${V1} Serving`, async () => {
      const m = await mv(V1);
      return condition(m?.status, 'Serving')?.status === 'True' && m;
    });
    expect(condition(serving.status, 'Serving')?.message).toBe(
      `revision ${MD}/${v1Revision} receives traffic`,
    );
    expect(serving.status?.lastServedAt).toBeDefined();

    const unused = await until(`${V2} protected`, async () => {
      const m = await mv(V2);
      return m?.metadata?.finalizers?.includes(FINALIZER) && m;
    });
    expect(usedBy(unused)).toEqual([]);
    expect(unused.status?.phase ?? 'Available').toBe('Available');
    expect(unused.status?.lastServedAt).toBeUndefined();
    expect(condition(unused.status, 'Serving')).toMatchObject({ status: 'False', reason: 'NeverServed' });
  },
  TEST_TIMEOUT_MS,
);

test(
  'deleting a ModelVersion that is in use waits, and names the ModelDeployment that holds it',
  async () => {
    await kubectlOk(['delete', 'modelversion', V1, '-n', ns.name, '--wait=false']);
    const blocked = await until(
      `${V1} Terminating with InUse=True/DeletionBlocked`,
      async () => {
        const m = await mv(V1);
        const c = condition(m?.status, 'InUse');
        return (
          !!m?.metadata?.deletionTimestamp &&
          m.status?.phase === 'Terminating' &&
          c?.status === 'True' &&
          c.reason === 'DeletionBlocked' &&
          m
        );
      },
      { md: MD },
    );
    expect(condition(blocked.status, 'InUse')?.message).toContain(MD);
    expect(blocked.metadata?.finalizers).toContain(FINALIZER);

    // It stays, and the ModelDeployment keeps serving it as before.
    await sleep(2000);
    expect((await mv(V1))?.metadata?.deletionTimestamp).toBeDefined();
    const m = await getMd(ns.name, MD);
    expect(m.status).toMatchObject({ stableVersion: '1.0.0', stableRevision: v1Revision });
    expect(condition(m.status, 'Ready')?.status).toBe('True');
    expect(await revisionOf(ns.name, MD, v1Revision)).toMatchObject({ replicas: 1, readyReplicas: 1 });
  },
  TEST_TIMEOUT_MS,
);

test(
  'a rollout away does not release the old version while it still serves; the deletion completes once it does not',
  async () => {
    await apply(ns.name, md('2.0.0'));
    const paused = await until(
      'the canary to 2.0.0 paused at 50%',
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && m.status?.canaryVersion === '2.0.0' && m.status.currentStepIndex === 1 && m;
      },
      { md: MD, timeoutMs: 45000 },
    );
    expect(paused.status).toMatchObject({ stableRevision: v1Revision, stableVersion: '1.0.0' });
    await until(`${V2} used by ${MD}`, async () => usedBy(await mv(V2)).includes(MD), { md: MD });

    // The spec no longer names 1.0.0, but its revision is the stable one and serves: still in use.
    await sleep(2500);
    const held = await mv(V1);
    expect(held).toBeDefined();
    expect(usedBy(held)).toEqual([MD]);
    expect(condition(held?.status, 'InUse')).toMatchObject({ status: 'True', reason: 'DeletionBlocked' });
    expect(await revisionOf(ns.name, MD, v1Revision)).toMatchObject({ replicas: 1 });

    const promotedAt = Date.now();
    await promote(ns.name, MD);
    await waitReady(ns.name, MD);

    // Promoted: 1.0.0's revision is at 0 and has no traffic, but the ModelDeployment keeps it for a
    // rollback (revisionHistoryLimit, 3 by default): the version stays, and the condition says why.
    const kept = await until(
      `${V1} held only by the kept revision ${v1Revision}, no longer serving`,
      async () => {
        const m = await mv(V1);
        return (
          m?.status?.usedBy?.[0]?.reasons?.join() === 'KeptRevision' &&
          condition(m.status, 'Serving')?.status === 'False' &&
          m
        );
      },
      { md: MD, timeoutMs: 30000 },
    );
    const m = await getMd(ns.name, MD);
    expect(m.status).toMatchObject({ phase: 'Healthy', stableVersion: '2.0.0' });
    expect(m.status?.traffic?.filter((t) => t.weight > 0).map((t) => t.version)).toEqual(['2.0.0']);
    expect(await revisionOf(ns.name, MD, v1Revision)).toMatchObject({ replicas: 0 });
    await sleep(2000);
    expect((await mv(V1))?.metadata?.deletionTimestamp).toBeDefined();
    expect(condition(kept.status, 'InUse')).toMatchObject({
      status: 'True',
      reason: 'DeletionBlocked',
      message: expect.stringContaining(
        `used by ModelDeployment ${MD} (keeps revision ${v1Revision} scaled to zero for a rollback (within revisionHistoryLimit))`,
      ),
    });
    // It served until the promotion: lastServedAt is when it stopped, and the condition says so.
    const stopped = Date.parse(kept.status!.lastServedAt!);
    expect(stopped).toBeGreaterThanOrEqual(promotedAt - 1000);
    expect(condition(kept.status, 'Serving')).toMatchObject({
      reason: 'NotServing',
      message: `no revision built from this version has received traffic since ${kept.status!.lastServedAt}`,
    });
    const v2 = await until(`${V2} serving`, async () => {
      const x = await mv(V2);
      return condition(x?.status, 'Serving')?.status === 'True' && x;
    });
    expect(v2.status?.usedBy).toEqual([{ name: MD, reasons: ['SpecVersion', 'Stable', 'WarmRevision'] }]);
    expect(condition(v2.status, 'Serving')?.message).toContain(`revision ${MD}/`);

    // The ModelDeployment keeps no history any more: the revision goes, and the deletion completes.
    await kubectlOk([
      'patch',
      'modeldeployment',
      MD,
      '-n',
      ns.name,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { revisionHistoryLimit: 0 } }),
    ]);
    await until(`${V1} gone`, async () => (await mv(V1)) === undefined, { md: MD, timeoutMs: 30000 });
    expect((await revisions(ns.name, MD)).map((r) => r.hash)).not.toContain(v1Revision);
    expect(usedBy(await mv(V2))).toEqual([MD]);
  },
  TEST_TIMEOUT_MS,
);

test(
  'a ModelDeployment naming a missing version reports ModelVersionNotFound and leaves what serves alone',
  async () => {
    const serving = (await getMd(ns.name, MD)).status!.stableRevision!;
    const before = await revisionOf(ns.name, MD, serving);
    expect(before).toMatchObject({ version: '2.0.0', replicas: 1, readyReplicas: 1 });

    await apply(ns.name, md('3.0.0'));
    const missing = await until(
      'Ready=False/ModelVersionNotFound',
      async () => {
        const m = await getMd(ns.name, MD);
        const c = condition(m.status, 'Ready');
        return current(m) && c?.status === 'False' && c.reason === 'ModelVersionNotFound' && m;
      },
      { md: MD },
    );
    const message = condition(missing.status, 'Ready')!.message;
    expect(message).toContain('iris');
    expect(message).toContain('3.0.0');
    expect(missing.status).toMatchObject({ stableRevision: serving, stableVersion: '2.0.0' });

    // For a while: the serving Deployment keeps its replicas, the stable Service keeps selecting it,
    // no other revision gets pods.
    for (let i = 0; i < 6; i++) {
      const revs = await revisions(ns.name, MD);
      const svc = await getObject<V1Service>(ns.name, 'service', MD);
      expect({
        sample: i,
        serving: revs.find((r) => r.hash === serving)?.replicas,
        others: revs.filter((r) => r.hash !== serving && r.replicas > 0).map((r) => r.name),
        stableService: svc?.spec?.selector?.['modelship.io/revision'],
      }).toEqual({ sample: i, serving: 1, others: [], stableService: serving });
      const t = (await getMd(ns.name, MD)).status?.traffic?.filter((x) => x.weight > 0);
      expect(t).toEqual([expect.objectContaining({ revision: serving, weight: 100 })]);
      await sleep(500);
    }
    expect(usedBy(await mv(V2))).toEqual([MD]);

    // The version appears: the ModelDeployment picks it up without any change of its own.
    await apply(ns.name, modelVersion('iris', '3.0.0'));
    await until(
      'a rollout to 3.0.0',
      async () => {
        const m = await getMd(ns.name, MD);
        return (
          m.status?.canaryVersion === '3.0.0' &&
          condition(m.status, 'Ready')?.reason !== 'ModelVersionNotFound'
        );
      },
      { md: MD },
    );
  },
  TEST_TIMEOUT_MS,
);

test(
  'a new ModelDeployment naming a missing version reports ModelVersionNotFound and creates no revision',
  async () => {
    await apply(ns.name, md('9.9.9', 'ghost'));
    const m = await until(
      'ghost Ready=False/ModelVersionNotFound',
      async () => {
        const g = await getMd(ns.name, 'ghost');
        const c = condition(g.status, 'Ready');
        return current(g) && c?.status === 'False' && c.reason === 'ModelVersionNotFound' && g;
      },
      { md: 'ghost' },
    );
    expect(condition(m.status, 'Ready')?.message).toContain('9.9.9');
    expect(await revisions(ns.name, 'ghost')).toEqual([]);
  },
  TEST_TIMEOUT_MS,
);

test(
  'a TorchServe version says its server is archived upstream, and stays Ready to serve',
  async () => {
    await apply(ns.name, {
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelVersion',
      metadata: { name: 'reviews-1.0.0' },
      spec: {
        model: 'reviews',
        version: '1.0.0',
        runtime: 'torchserve',
        format: 'mar',
        storageUri: 's3://models/reviews/1.0.0/reviews.mar',
        digestPolicy: 'Unverified',
      },
    });
    const status = await until('reviews-1.0.0 validated', async () => (await mv('reviews-1.0.0'))?.status);
    const cond = (type: string) => status.conditions?.find((c) => c.type === type);
    expect(cond('Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(cond('RuntimeMaintained')).toMatchObject({ status: 'False', reason: 'UpstreamArchived' });
    expect(cond('RuntimeMaintained')?.message).toContain('archived upstream on 2025-08-07');
    // A Triton version carries no such condition.
    await apply(ns.name, modelVersion('plain', '1.0.0'));
    const triton = await until('plain-1.0.0 validated', async () => (await mv('plain-1.0.0'))?.status);
    expect(triton.conditions?.map((c) => c.type)).not.toContain('RuntimeMaintained');
  },
  TEST_TIMEOUT_MS,
);
