// Cohorts and shadow traffic in the planner: table tests of a cohort-only rollout, a mirror and a
// router that cannot do either, and property tests of the safety rules over generated histories.
import fc from 'fast-check';
import type { ModelDeploymentSpecStrategyCanary } from '../../api/index.js';
import type { Fault } from '../../../test/unit/sim.js';
import { World, hashOf } from '../../../test/unit/sim.js';

const cohorts: ModelDeploymentSpecStrategyCanary['cohorts'] = [
  { headers: [{ name: 'x-cohort', value: 'beta' }] },
];

function world(canary: ModelDeploymentSpecStrategyCanary, exactWeights = true): World {
  const w = new World({
    spec: { version: '1.0.0', replicas: 3, strategy: { type: 'Canary', canary } },
    exactWeights,
    readyAfterMs: 1000,
  });
  w.reconcile();
  w.advance(2000);
  w.reconcile();
  w.reconcile();
  expect(w.status.phase).toBe('Healthy');
  return w;
}

function settle(w: World, ms = 2000): void {
  w.reconcile();
  w.advance(ms);
  w.reconcile();
  w.reconcile();
}

test('a cohort-only rollout: the canary runs one pod at weight 0, the cohorts reach it, a promotion ends it', () => {
  const w = world({ steps: [{ pause: {} }], cohorts });
  w.setSpec({ version: '1.1.0' });
  w.reconcile();
  // Not serving yet: no cohort route to a canary without a serving pod.
  expect(w.plans.at(-1)!.cohort).toBeUndefined();
  expect(w.status.cohort).toBeUndefined();
  settle(w);
  const plan = w.plans.at(-1)!;
  expect(plan.revisions.find((r) => r.hash === hashOf('1.1.0'))?.replicas).toBe(1);
  expect(plan.weights).toEqual([
    { revision: hashOf('1.0.0'), version: '1.0.0', weight: 100 },
    { revision: hashOf('1.1.0'), version: '1.1.0', weight: 0 },
  ]);
  expect(plan.cohort).toEqual({ revision: hashOf('1.1.0'), version: '1.1.0' });
  expect(w.status.cohort).toEqual({ revision: hashOf('1.1.0'), version: '1.1.0' });
  expect(w.status.phase).toBe('Paused');

  w.requests = { promote: 'p1' };
  settle(w);
  settle(w);
  expect(w.status.phase).toBe('Healthy');
  expect(w.status.stableVersion).toBe('1.1.0');
  expect(w.plans.at(-1)!.cohort).toBeUndefined();
  expect(w.status.cohort).toBeUndefined();
});

test('a mirror: copies go to the canary, which stays at weight 0 in the table and in status.traffic', () => {
  const w = world({ steps: [{ pause: {} }, { setWeight: 50 }, { pause: {} }], mirror: { percent: 30 } });
  w.setSpec({ version: '1.1.0' });
  settle(w);
  expect(w.plans.at(-1)!.mirror).toEqual({ revision: hashOf('1.1.0'), version: '1.1.0', percent: 30 });
  expect(w.status.mirror).toEqual({ revision: hashOf('1.1.0'), version: '1.1.0', percent: 30 });
  expect(w.status.traffic).toEqual([
    { revision: hashOf('1.0.0'), version: '1.0.0', weight: 100 },
    { revision: hashOf('1.1.0'), version: '1.1.0', weight: 0 },
  ]);
  w.requests = { promote: 'p1' };
  settle(w, 5000);
  // At the setWeight step the mirror goes on beside the weight; the weight is the step's alone.
  expect(w.status.traffic?.find((t) => t.revision === hashOf('1.1.0'))?.weight).toBe(50);
  expect(w.status.mirror?.percent).toBe(30);
});

test('a canary that fails loses its cohorts and mirror in the same reconcile as its weight', () => {
  const w = world({ steps: [{ pause: {} }], cohorts, mirror: { percent: 10 } });
  w.faults['1.1.0'] = 'unready-later';
  w.unreadyAfterMs = 8000;
  w.setSpec({ version: '1.1.0' });
  settle(w);
  expect(w.status.cohort?.version).toBe('1.1.0');
  // Unready: it keeps the cohorts through the grace (as a weight would), then is reverted.
  for (let i = 0; i < 10 && w.status.phase !== 'RolledBack'; i++) settle(w, 2000);
  expect(w.status.phase).toBe('RolledBack');
  expect(w.plans.at(-1)!.cohort).toBeUndefined();
  expect(w.plans.at(-1)!.mirror).toBeUndefined();
  expect(w.status.cohort).toBeUndefined();
  expect(w.status.mirror).toBeUndefined();
});

test.each([
  ['cohorts', { steps: [{ pause: {} }], cohorts }, 'CohortsUnsupported'],
  ['mirror', { steps: [{ pause: {} }], mirror: { percent: 5 } }, 'MirrorUnsupported'],
] as Array<[string, ModelDeploymentSpecStrategyCanary, string]>)(
  '%s on a router that cannot: a condition with the reason, and stable keeps everything',
  (_n, canary, reason) => {
    const w = world({ steps: [{ pause: {} }] }, false);
    w.setSpec({ version: '1.1.0', strategy: { type: 'Canary', canary } });
    settle(w);
    const plan = w.plans.at(-1)!;
    expect(plan.weights).toEqual([{ revision: hashOf('1.0.0'), version: '1.0.0', weight: 100 }]);
    expect(plan.revisions.map((r) => [r.hash, r.replicas])).toEqual([[hashOf('1.0.0'), 3]]);
    expect(plan.cohort).toBeUndefined();
    expect(plan.mirror).toBeUndefined();
    const ready = w.status.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason });
    expect(ready?.message).toMatch(/gatewayApi or istio/);
  },
);

// Generated histories with cohorts and a mirror: the safety rules of plan.property.test.ts, and
// those of this file's targets.
const faults: Fault[] = ['none', 'none', 'crashloop', 'never-ready', 'unready-later'];
type Action =
  | { kind: 'advance'; ms: number }
  | { kind: 'version'; version: string }
  | { kind: 'fault'; version: string; fault: Fault }
  | { kind: 'request'; which: 'promote' | 'abort' | 'retry' };
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 100, max: 20_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('version' as const),
      version: fc.constantFrom('1.0.0', '1.1.0', '1.2.0'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      version: fc.constantFrom('1.1.0', '1.2.0'),
      fault: fc.constantFrom(...faults),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      which: fc.constantFrom('promote' as const, 'abort' as const, 'retry' as const),
    }),
  },
);
const canary: fc.Arbitrary<ModelDeploymentSpecStrategyCanary> = fc.record({
  steps: fc.array(
    fc.oneof(
      fc.record({ setWeight: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ pause: fc.oneof(fc.constant({}), fc.record({ duration: fc.constantFrom('1s', '5s') })) }),
    ),
    { maxLength: 4 },
  ),
  cohorts: fc.option(fc.constant(cohorts), { nil: undefined }),
  mirror: fc.option(fc.record({ percent: fc.integer({ min: 1, max: 100 }) }), { nil: undefined }),
  scaleDownDelaySeconds: fc.constantFrom(0, 5),
});

test('over generated histories: weights sum to 100, cohorts and mirror only reach a healthy serving canary, a mirror adds no weight', () => {
  fc.assert(
    fc.property(canary, fc.array(action, { minLength: 5, maxLength: 30 }), (c, actions) => {
      const w = new World({
        spec: {
          version: '1.0.0',
          replicas: 3,
          strategy: { type: 'Canary', canary: c, progressDeadlineSeconds: 10 },
        },
        readyAfterMs: 800,
      });
      let token = 0;
      const check = (before: typeof w.status) => {
        const plan = w.plans.at(-1)!;
        expect(plan.weights.reduce((a, x) => a + x.weight, 0)).toBe(100);
        const s = w.status;
        for (const target of [plan.cohort, plan.mirror]) {
          if (!target) continue;
          const latest = s.history?.filter((h) => h.revision === target.revision).at(-1)?.result;
          expect({ target: target.revision, stable: s.stableRevision, latest, phase: s.phase }).toEqual({
            target: s.canaryRevision,
            stable: expect.not.stringMatching(`^${target.revision}$`),
            // A revision that failed is known bad; one aborted in an earlier attempt may be tried again.
            latest: expect.not.stringMatching(/^(RolledBack|Failed)$/),
            phase: expect.not.stringMatching(/^Degraded$/),
          });
          // A serving pod, or routed before (it keeps the route through the unready grace).
          const rev = w.input().revisions.find((r) => r.hash === target.revision);
          const routed = [before.cohort?.revision, before.mirror?.revision].includes(target.revision);
          expect({ serving: rev?.pods.some((p) => p.inService), routed }).not.toEqual({
            serving: false,
            routed: false,
          });
        }
        if (plan.mirror) {
          // The candidate's weight is its step's weight: the mirror adds none.
          expect(plan.weights.find((x) => x.revision === plan.mirror!.revision)?.weight ?? 0).toBe(
            s.canaryWeight ?? 0,
          );
          expect(s.traffic).toEqual(
            plan.weights.map((x) => expect.objectContaining({ revision: x.revision, weight: x.weight })),
          );
        }
        expect(s.cohort).toEqual(plan.cohort);
        expect(s.mirror).toEqual(plan.mirror);
      };
      w.reconcile();
      check({});
      for (const a of actions) {
        const before = w.status;
        if (a.kind === 'advance') w.advance(a.ms);
        else if (a.kind === 'version') w.setSpec({ version: a.version });
        else if (a.kind === 'fault') w.faults[a.version] = a.fault;
        else w.requests = { ...w.requests, [a.which]: `t${token++}` };
        w.reconcile();
        check(before);
      }
    }),
    { numRuns: 200, seed: Number(process.env.FC_SEED ?? 20261204) },
  );
});
