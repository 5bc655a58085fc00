/**
 * A canary's whole life through the Gateway API router, against the real apiserver and the built
 * operator: a first deploy, a canary that walks its steps (watched on the HTTPRoute, so every weight
 * table the operator applied is seen, not just the ones a poll happens to catch), a promotion, two
 * failed rollouts (a crash loop, acted on at once; pods that never get Ready, acted on at the progress
 * deadline) that are reverted to the last healthy revision, and a return to the first version that
 * reuses its revision.
 */
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import {
  FAULT,
  GROUP_VERSION,
  Recorder,
  apply,
  condition,
  current,
  getMd,
  getObject,
  httpRouteWeights,
  modelVersion,
  paths,
  podReadyAt,
  promote,
  revisionOf,
  revisions,
  routeWeights,
  sameWeights,
  TEST_TIMEOUT_MS,
  sleep,
  startE2EOperator,
  waitReady,
  waiter,
  waitingReason,
  weightHistory,
  type Fault,
  type Operator,
  type Weights,
  endSuite,
} from '../harness/e2e.js';

const MD = 'clf';
const REPLICAS = 2;

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

/** The ModelDeployment as its owner writes it; the fault annotation only where a test asks for it. */
function clf(version: string, opts: { fault?: Fault; progressDeadlineSeconds?: number } = {}): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: 'clf',
      version,
      replicas: REPLICAS,
      ...(opts.fault ? { pod: { annotations: { [FAULT]: opts.fault } } } : {}),
      strategy: {
        type: 'Canary',
        canary: {
          steps: [{ setWeight: 25 }, { pause: { duration: '2s' } }, { setWeight: 50 }, { pause: {} }],
          scaleDownDelaySeconds: 0,
        },
        ...(opts.progressDeadlineSeconds ? { progressDeadlineSeconds: opts.progressDeadlineSeconds } : {}),
      },
      traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
    },
  };
}

/** Ready pods a weight needs with exact weights: the canary is sized for its share, at least one pod. */
const podsFor = (weight: number): number => Math.max(1, Math.ceil((REPLICAS * weight) / 100));

async function recordRoute(): Promise<Recorder<{ metadata?: { name?: string } }>> {
  return Recorder.start(paths.httpRoutes(ns.name));
}
async function recordPods(): Promise<Recorder<V1Pod>> {
  return Recorder.start<V1Pod>(paths.pods(ns.name), `modelship.io/deployment=${MD}`);
}
/** When each pod of a revision first turned Ready, by the pod's own Ready condition. */
function readyTimes(pods: Recorder<V1Pod>, hash: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of pods.events) {
    if (e.object.metadata?.labels?.['modelship.io/revision'] !== hash) continue;
    const t = podReadyAt(e.object);
    const name = e.object.metadata!.name!;
    const prev = out.get(name);
    if (t !== undefined && (prev === undefined || t < prev)) out.set(name, t);
  }
  return out;
}
const tables = (rec: Recorder<{ metadata?: { name?: string } }>) =>
  weightHistory(rec, MD, (o) => httpRouteWeights(o as Parameters<typeof httpRouteWeights>[0], MD));

// Recorded by the first test, checked by the last: going back to 1.0.0 must find this revision.
let first: { hash: string; uid: string };
let h11: string;
let hCrash: string;

beforeAll(async () => {
  ns = await tempNamespace('e2e-rollout');
  op = startE2EOperator(ns.name);
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await apply(ns.name, modelVersion('clf', v));
});
afterAll(() => endSuite('rollout', ns, op ? [op] : []), TEST_TIMEOUT_MS);

test(
  'a first deploy of 1.0.0 becomes Ready with its children named, labelled and owned',
  async () => {
    await apply(ns.name, clf('1.0.0'));
    await waitReady(ns.name, MD);
    const md = await until('status of generation 1 with stable 1.0.0', async () => {
      const m = await getMd(ns.name, MD);
      return current(m) && m.status?.stableVersion === '1.0.0' && m;
    });
    const s = md.status!;
    expect(s.phase).toBe('Healthy');
    expect(s.stableRevision).toMatch(/^[a-z0-9]{10}$/);
    const hash = s.stableRevision!;
    // Recorded as a first deploy that became Ready (not as a status found lost: reason Recovered).
    expect(s.history).toEqual([
      expect.objectContaining({ revision: hash, version: '1.0.0', result: 'Promoted', reason: 'Ready' }),
    ]);

    const rev = await revisionOf(ns.name, MD, hash);
    expect(rev).toMatchObject({ name: `${MD}-${hash}`, version: '1.0.0', replicas: REPLICAS });
    const ownedBy = { apiVersion: GROUP_VERSION, kind: 'ModelDeployment', name: MD, uid: md.metadata!.uid };
    const labels = {
      'app.kubernetes.io/managed-by': 'modelship',
      'modelship.io/deployment': MD,
      'modelship.io/revision': hash,
    };
    for (const kind of ['deployment', 'service', 'configmap']) {
      const o = await getObject<KubernetesObject>(ns.name, kind, `${MD}-${hash}`);
      expect({ kind, labels: o?.metadata?.labels, owners: o?.metadata?.ownerReferences }).toMatchObject({
        kind,
        labels,
        owners: [expect.objectContaining(ownedBy)],
      });
    }
    const stable = await getObject<KubernetesObject>(ns.name, 'service', MD);
    expect(stable?.metadata?.ownerReferences).toEqual([expect.objectContaining(ownedBy)]);
    const route = await getObject<KubernetesObject & { spec: { parentRefs: Array<{ name: string }> } }>(
      ns.name,
      'httproutes.gateway.networking.k8s.io',
      MD,
    );
    expect(route?.metadata?.ownerReferences).toEqual([expect.objectContaining(ownedBy)]);
    expect(route?.spec.parentRefs.map((p) => p.name)).toEqual(['gw']);
    expect(await routeWeights(ns.name, MD)).toEqual({ [hash]: 100 });
    first = { hash, uid: rev!.uid };
  },
  TEST_TIMEOUT_MS,
);

test(
  'a canary to 1.1.0 passes through 75/25 and 50/50, waits at the pause, and finishes after a promote',
  async () => {
    const route = await recordRoute();
    const pods = await recordPods();
    await apply(ns.name, clf('1.1.0'));

    const paused = await until(
      'the canary paused at 50/50 (step 3, the pause without duration)',
      async () => {
        const m = await getMd(ns.name, MD);
        const c = m.status?.canaryRevision;
        return (
          current(m) &&
          !!c &&
          m.status?.currentStepIndex === 3 &&
          sameWeights(await routeWeights(ns.name, MD), { [first.hash]: 50, [c]: 50 }) &&
          m
        );
      },
      { md: MD, timeoutMs: 45000 },
    );
    h11 = paused.status!.canaryRevision!;
    expect(h11).not.toBe(first.hash);
    expect(paused.status).toMatchObject({
      phase: 'Paused',
      stableRevision: first.hash,
      stableVersion: '1.0.0',
      canaryVersion: '1.1.0',
      canaryWeight: 50,
    });
    expect(condition(paused.status, 'Ready')?.status).toBe('False');

    // A pause without duration holds until promoted.
    await sleep(2500);
    const still = await getMd(ns.name, MD);
    expect(still.status).toMatchObject({ currentStepIndex: 3, canaryWeight: 50, stableRevision: first.hash });
    expect(await routeWeights(ns.name, MD)).toEqual({ [first.hash]: 50, [h11]: 50 });

    await promote(ns.name, MD);
    await until(
      'stable 1.1.0 with all traffic',
      async () => {
        const m = await getMd(ns.name, MD);
        return (
          m.status?.stableRevision === h11 &&
          condition(m.status, 'Ready')?.status === 'True' &&
          sameWeights(await routeWeights(ns.name, MD), { [h11]: 100 })
        );
      },
      { md: MD },
    );
    await waitReady(ns.name, MD);
    const done = await getMd(ns.name, MD);
    expect(done.status).toMatchObject({ phase: 'Healthy', stableRevision: h11, stableVersion: '1.1.0' });
    expect(done.status?.canaryRevision ?? '').toBe('');
    // scaleDownDelaySeconds 0: the previous stable goes to 0 and stays as a history revision.
    await until(
      '1.0.0 scaled to 0 and kept',
      async () => (await revisionOf(ns.name, MD, first.hash))?.replicas === 0,
      {
        md: MD,
      },
    );
    await route.stop();
    await pods.stop();
    expect(route.error).toBeUndefined();
    expect(pods.error).toBeUndefined();

    // Every table the operator applied, in order: weights sum to 100 over the two revisions, and the
    // canary's share only grows, through exactly the steps' weights.
    const seen = tables(route);
    for (const t of seen) {
      expect(Object.keys(t.weights).every((h) => h === first.hash || h === h11)).toBe(true);
      expect(Object.values(t.weights).reduce((a, b) => a + b, 0)).toBe(100);
    }
    const canaryShares = seen.map((t) => t.weights[h11] ?? 0).filter((w, i, a) => i === 0 || w !== a[i - 1]);
    expect(canaryShares).toEqual([0, 25, 50, 100]);

    // The canary never had a share before enough of its pods were Ready. Ready times come from the
    // pods' own Ready condition (whole seconds, rounded down), so a late watch event cannot fail this.
    const readyAt = readyTimes(pods, h11);
    const early = seen
      .filter((t) => (t.weights[h11] ?? 0) > 0)
      .map((t) => ({
        weights: t.weights,
        readyCanaryPods: [...readyAt.values()].filter((r) => r <= t.at).length,
        needed: podsFor(t.weights[h11]!),
      }))
      .filter((v) => v.readyCanaryPods < v.needed);
    expect(early).toEqual([]);
  },
  TEST_TIMEOUT_MS,
);

test(
  'a crash-looping 1.2.0 is reverted to 1.1.0 within 10 s of its first CrashLoopBackOff',
  async () => {
    const route = await recordRoute();
    const pods = await recordPods();
    const deps = await Recorder.start<V1Deployment>(paths.deployments(ns.name));
    const before = (await revisions(ns.name, MD)).length;
    await apply(ns.name, clf('1.2.0', { fault: 'crashloop' }));

    const md = await until(
      'a rollback from 1.2.0',
      async () => {
        const m = await getMd(ns.name, MD);
        return (
          current(m) &&
          m.status?.phase === 'RolledBack' &&
          m.status.lastRollback?.from?.version === '1.2.0' &&
          m
        );
      },
      { md: MD, timeoutMs: 45000 },
    );
    hCrash = md.status!.lastRollback!.from!.revision!;
    await until(
      'the 1.2.0 revision at 0 replicas',
      async () => (await revisionOf(ns.name, MD, hCrash))?.replicas === 0,
      {
        md: MD,
      },
    );
    await Promise.all([route.stop(), pods.stop(), deps.stop()]);
    expect([route.error, pods.error, deps.error]).toEqual([undefined, undefined, undefined]);

    // The clock starts when a pod of 1.2.0 first shows CrashLoopBackOff (seen on the pod watch).
    const crash = pods.events.find(
      (e) =>
        e.object.metadata?.labels?.['modelship.io/revision'] === hCrash &&
        waitingReason(e.object) === 'CrashLoopBackOff',
    );
    expect(crash).toBeDefined();
    const t0 = crash!.at;
    // The HTTPRoute all on 1.1.0 at or after t0 (its state at t0, or the first change after it).
    // A crash-looping pod is never Ready, so the canary never got a share and this is usually 0 ms;
    // the revert itself is timed by the Deployment going to 0 replicas, below.
    const seen = tables(route);
    const atT0 = [...seen].reverse().find((t) => t.at <= t0);
    const allOnStable = (w: Weights) => sameWeights(w, { [h11]: 100 });
    const routeBack =
      atT0 && allOnStable(atT0.weights) ? t0 : seen.find((t) => t.at >= t0 && allOnStable(t.weights))?.at;
    expect(routeBack).toBeDefined();
    // The revert as the world shows it: the crashing revision's Deployment set to 0 replicas.
    const scaledDown = deps
      .of(`${MD}-${hCrash}`)
      .find((e) => e.at >= t0 && e.object.spec?.replicas === 0)?.at;
    expect(scaledDown).toBeDefined();
    process.stderr.write(
      `rollout.test crashloop: CrashLoopBackOff first seen at t0; HTTPRoute all on 1.1.0 at t0+${routeBack! - t0} ms; ` +
        `1.2.0 Deployment at 0 replicas at t0+${scaledDown! - t0} ms\n`,
    );
    expect(routeBack! - t0).toBeLessThan(10000);
    expect(scaledDown! - t0).toBeLessThan(10000);
    // 1.2.0 never had a share of the traffic.
    for (const t of seen) expect(t.weights[hCrash] ?? 0).toBe(0);

    const s = md.status!;
    expect(s.lastRollback).toMatchObject({
      from: { revision: hCrash, version: '1.2.0' },
      to: { revision: h11, version: '1.1.0' },
      reason: 'CrashLoopBackOff',
    });
    expect(s.lastRollback?.message).toBeTruthy();
    expect(s).toMatchObject({ stableRevision: h11, stableVersion: '1.1.0' });
    expect(s.traffic?.filter((t) => t.weight > 0)).toEqual([
      { revision: h11, version: '1.1.0', weight: 100 },
    ]);
    expect(condition(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
    expect(condition(s, 'Ready')?.status).toBe('False');
    expect(await routeWeights(ns.name, MD)).toEqual({ [h11]: 100 });

    const events = JSON.parse(
      await kubectlOk([
        'get',
        'events',
        '-n',
        ns.name,
        '--field-selector',
        `involvedObject.name=${MD},reason=RolledBack`,
        '-o',
        'json',
      ]),
    ) as { items: Array<{ type: string; involvedObject: { kind: string } }> };
    expect(events.items.length).toBeGreaterThanOrEqual(1);
    expect(events.items[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'ModelDeployment' } });

    // Kept for inspection, at 0; the stable keeps its full size.
    expect(await revisionOf(ns.name, MD, hCrash)).toMatchObject({ version: '1.2.0', replicas: 0 });
    expect(await revisionOf(ns.name, MD, h11)).toMatchObject({ replicas: REPLICAS, readyReplicas: REPLICAS });

    // Not retried while the spec stays as it is.
    await sleep(3000);
    const later = await getMd(ns.name, MD);
    expect(later.status?.phase).toBe('RolledBack');
    expect(
      later.status?.history?.filter((h) => h.revision === hCrash && h.result === 'RolledBack'),
    ).toHaveLength(1);
    expect(await revisionOf(ns.name, MD, hCrash)).toMatchObject({ replicas: 0 });
    expect((await revisions(ns.name, MD)).length).toBe(before + 1);
  },
  TEST_TIMEOUT_MS,
);

test(
  'a never-Ready 1.2.0 is reverted at its progress deadline (8 s) with ProgressDeadlineExceeded',
  async () => {
    const route = await recordRoute();
    const pods = await recordPods();
    const applied = Date.now();
    await apply(ns.name, clf('1.2.0', { fault: 'never-ready', progressDeadlineSeconds: 8 }));

    const md = await until(
      'a rollback for ProgressDeadlineExceeded',
      async () => {
        const m = await getMd(ns.name, MD);
        const r = m.status?.lastRollback;
        return current(m) && r?.reason === 'ProgressDeadlineExceeded' && r.from?.revision !== hCrash && m;
      },
      { md: MD, timeoutMs: 60000 },
    );
    const s = md.status!;
    const hNever = s.lastRollback!.from!.revision!;
    expect([first.hash, h11, hCrash]).not.toContain(hNever);
    expect(s.lastRollback).toMatchObject({
      from: { version: '1.2.0' },
      to: { revision: h11, version: '1.1.0' },
      reason: 'ProgressDeadlineExceeded',
    });
    // Not before the deadline: it counts from the step's start, which is after the apply.
    expect(new Date(s.lastRollback!.time!).getTime() - applied).toBeGreaterThanOrEqual(7000);
    expect(s.phase).toBe('RolledBack');
    expect(condition(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'ProgressDeadlineExceeded' });
    await until(
      'the never-Ready revision at 0 replicas',
      async () => (await revisionOf(ns.name, MD, hNever))?.replicas === 0,
      {
        md: MD,
      },
    );
    expect(await routeWeights(ns.name, MD)).toEqual({ [h11]: 100 });
    await route.stop();
    await pods.stop();
    expect(route.error).toBeUndefined();
    // The fault took effect: pods of the revision existed and none was ever Ready.
    const podsOfNever = pods.events.filter(
      (e) => e.object.metadata?.labels?.['modelship.io/revision'] === hNever,
    );
    expect(podsOfNever.length).toBeGreaterThan(0);
    expect(podsOfNever.every((e) => podReadyAt(e.object) === undefined)).toBe(true);
    // ...and they never had traffic.
    for (const t of tables(route)) expect(t.weights[hNever] ?? 0).toBe(0);
  },
  TEST_TIMEOUT_MS,
);

test(
  'going back to 1.0.0 reuses the first revision and becomes Ready',
  async () => {
    await apply(ns.name, clf('1.0.0'));
    await until(
      'the rollout back to 1.0.0 paused at its last step',
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && m.status?.canaryVersion === '1.0.0' && m.status.currentStepIndex === 3 && m;
      },
      { md: MD, timeoutMs: 45000 },
    );
    expect((await getMd(ns.name, MD)).status?.canaryRevision).toBe(first.hash);
    await promote(ns.name, MD);
    await until(
      'stable 1.0.0 again',
      async () => {
        const m = await getMd(ns.name, MD);
        return (
          current(m) &&
          m.status?.stableRevision === first.hash &&
          condition(m.status, 'Ready')?.status === 'True'
        );
      },
      { md: MD },
    );
    await waitReady(ns.name, MD);
    const md = await getMd(ns.name, MD);
    expect(md.status).toMatchObject({ phase: 'Healthy', stableRevision: first.hash, stableVersion: '1.0.0' });
    expect(await routeWeights(ns.name, MD)).toEqual({ [first.hash]: 100 });
    // The same Deployment, not a new one with the same name; 1.1.0 goes to 0 (scaleDownDelaySeconds 0).
    const revs = await until(
      'every revision but 1.0.0 at 0 replicas',
      async () => {
        const r = await revisions(ns.name, MD);
        return r.every((x) => x.hash === first.hash || x.replicas === 0) && r;
      },
      { md: MD },
    );
    expect(revs.find((r) => r.hash === first.hash)).toMatchObject({ uid: first.uid, replicas: REPLICAS });
    expect(revs.filter((r) => r.version === '1.0.0')).toHaveLength(1);

    const story = (md.status?.history ?? [])
      .filter((h) => h.result !== 'Superseded')
      .map((h) => [h.revision, h.result, h.result === 'RolledBack' ? h.reason : ''].join(' '));
    expect(story).toEqual([
      `${first.hash} Promoted `,
      `${h11} Promoted `,
      `${hCrash} RolledBack CrashLoopBackOff`,
      expect.stringMatching(/^[a-z0-9]{10} RolledBack ProgressDeadlineExceeded$/),
      `${first.hash} Promoted `,
    ]);
  },
  TEST_TIMEOUT_MS,
);
