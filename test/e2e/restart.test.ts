/**
 * The operator keeps no rollout state of its own: killed with SIGKILL in the middle of a canary (at
 * a pause that waits for a promote), a new operator process picks the rollout up from the
 * ModelDeployment's status and the children it finds: same stable and canary revisions, no new
 * revision, the step and its start time as they were, the traffic split untouched, and the
 * remaining steps run after promotes. The HTTPRoute is watched throughout, so a moment of reset
 * traffic would be seen even if it was repaired at once.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  Recorder,
  apply,
  condition,
  current,
  getMd,
  httpRouteWeights,
  modelVersion,
  paths,
  promote,
  revisions,
  routeWeights,
  sameWeights,
  TEST_TIMEOUT_MS,
  sleep,
  startE2EOperator,
  waitReady,
  waiter,
  weightHistory,
  type Operator,
  endSuite,
} from '../harness/e2e.js';

const MD = 'ranker';
const operators: Operator[] = [];
const op = (): Operator | undefined => operators[operators.length - 1];

let ns: Awaited<ReturnType<typeof tempNamespace>>;
const until = waiter(() => ns.name, op);

function ranker(version: string, name = MD): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name },
    spec: {
      model: 'ranker',
      version,
      replicas: 2,
      strategy: {
        type: 'Canary',
        canary: {
          steps: [
            { setWeight: 20 },
            { pause: { duration: '1s' } },
            { setWeight: 40 },
            { pause: {} },
            { setWeight: 60 },
            { pause: {} },
            { setWeight: 80 },
          ],
          scaleDownDelaySeconds: 0,
        },
      },
      traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
    },
  };
}

beforeAll(async () => {
  ns = await tempNamespace('e2e-restart');
  operators.push(startE2EOperator(ns.name));
  for (const v of ['1.0.0', '1.1.0']) await apply(ns.name, modelVersion('ranker', v));
});
afterAll(() => endSuite('restart', ns, operators), TEST_TIMEOUT_MS);

test(
  'a rollout survives SIGKILL of the operator at a pause and finishes under a new one',
  async () => {
    await apply(ns.name, ranker('1.0.0'));
    await waitReady(ns.name, MD);
    const stable = (await getMd(ns.name, MD)).status!.stableRevision!;

    const route = await Recorder.start<KubernetesObject>(paths.httpRoutes(ns.name));
    await apply(ns.name, ranker('1.1.0'));
    const atPause = await until(
      'the canary at step 3 (pause without duration), 60/40',
      async () => {
        const m = await getMd(ns.name, MD);
        const c = m.status?.canaryRevision;
        return (
          current(m) &&
          !!c &&
          m.status?.currentStepIndex === 3 &&
          sameWeights(await routeWeights(ns.name, MD), { [stable]: 60, [c]: 40 }) &&
          m
        );
      },
      { md: MD, timeoutMs: 45000 },
    );
    const canary = atPause.status!.canaryRevision!;
    const before = await revisions(ns.name, MD);
    expect(before.map((r) => r.hash).sort()).toEqual([stable, canary].sort());

    // SIGKILL: no shutdown hook runs, nothing is flushed.
    const killed = operators[0]!;
    expect(await killed.stop('SIGKILL')).toBeNull();
    expect(killed.proc.signalCode).toBe('SIGKILL');
    operators.push(startE2EOperator(ns.name));

    // A second ModelDeployment applied after the restart: once it is Ready, the new operator has
    // synced its caches and reconciled (the first reconcile covers every ModelDeployment it lists).
    await apply(ns.name, ranker('1.0.0', 'probe'));
    await waitReady(ns.name, 'probe', 60);
    await sleep(2000);

    const resumed = await getMd(ns.name, MD);
    expect(resumed.status).toMatchObject({
      stableRevision: stable,
      stableVersion: '1.0.0',
      canaryRevision: canary,
      canaryVersion: '1.1.0',
      canaryWeight: 40,
      currentStepIndex: 3,
      currentStepStartedAt: atPause.status!.currentStepStartedAt,
      phase: 'Paused',
    });
    expect(await routeWeights(ns.name, MD)).toEqual({ [stable]: 60, [canary]: 40 });
    const after = await revisions(ns.name, MD);
    expect(after.map((r) => [r.hash, r.uid]).sort()).toEqual(before.map((r) => [r.hash, r.uid]).sort());

    // The rest of the steps, under the new operator.
    await promote(ns.name, MD);
    await until(
      'step 5 (the second pause), 40/60',
      async () => {
        const m = await getMd(ns.name, MD);
        return (
          m.status?.currentStepIndex === 5 &&
          sameWeights(await routeWeights(ns.name, MD), { [stable]: 40, [canary]: 60 })
        );
      },
      { md: MD },
    );
    await promote(ns.name, MD);
    await until(
      'stable 1.1.0',
      async () => {
        const m = await getMd(ns.name, MD);
        return m.status?.stableRevision === canary && condition(m.status, 'Ready')?.status === 'True';
      },
      { md: MD },
    );
    await waitReady(ns.name, MD);
    expect(await routeWeights(ns.name, MD)).toEqual({ [canary]: 100 });
    const final = await revisions(ns.name, MD);
    expect(final.map((r) => [r.hash, r.uid]).sort()).toEqual(before.map((r) => [r.hash, r.uid]).sort());
    const done = await getMd(ns.name, MD);
    expect(done.status?.history?.filter((h) => h.revision === canary).map((h) => h.result)).toEqual([
      'Promoted',
    ]);

    // What the HTTPRoute went through from the start of the canary: the canary's share only grew,
    // with no step back across the restart. Every weight a pause holds (20, 40, 60) was applied;
    // 80 need not be: a last setWeight is done as soon as the canary has the pods for it (it already
    // has both at 60%), and the same reconcile goes on to promote.
    await route.stop();
    expect(route.error).toBeUndefined();
    const shares = weightHistory(route, MD, (o) =>
      httpRouteWeights(o as Parameters<typeof httpRouteWeights>[0], MD),
    )
      .map((t) => t.weights[canary] ?? 0)
      .filter((w, i, a) => i === 0 || w !== a[i - 1]);
    expect(shares.filter((w) => w !== 80)).toEqual([0, 20, 40, 60, 100]);
    expect(shares).toEqual([...shares].sort((a, b) => a - b));
  },
  TEST_TIMEOUT_MS,
);
