// The pre-traffic gates in the simulated world: no user traffic reaches a revision before its
// checks passed; a failed check reverts the way a readiness failure does; a check in flight holds;
// BeforePromotion gates hold the promotion only.
import fc from 'fast-check';
import { hashOf, World, type SimGates } from '../../../test/unit/sim.js';

const steps = [{ setWeight: 25 }, { pause: { duration: '10s' } }];

function serving(strategy: object = { type: 'Canary', canary: { steps } }): World {
  const w = new World({ spec: { version: '1.0.0', strategy } });
  expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
  return w;
}

/** Every plan in which `version` had a share of the traffic. */
const trafficTo = (w: World, version: string) =>
  w.plans.filter((p) => p.weights.some((x) => x.version === version && x.weight > 0));

describe('pre-traffic gates', () => {
  test('a failed smoke test reverts before the canary gets any traffic: RolledBack, lastRollback, Warning', () => {
    const w = serving();
    w.gates = { '1.1.0': { beforeTraffic: 'Failed', pendingMs: 2000 } };
    w.setSpec({ version: '1.1.0' });
    expect(w.runUntil((x) => x.status.phase === 'RolledBack', 60_000)).toBe(true);
    expect(trafficTo(w, '1.1.0')).toHaveLength(0);
    expect(w.status.lastRollback).toMatchObject({
      reason: 'SmokeTestFailed',
      from: { version: '1.1.0' },
      to: { version: '1.0.0' },
    });
    expect(w.status.lastRollback?.message).toContain('the pre-traffic checks of version 1.1.0');
    expect(w.revisions.get(hashOf('1.1.0'))?.replicas).toBe(0);
    expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'SmokeTestFailed' });
    expect(w.status.history?.at(-1)).toMatchObject({
      version: '1.1.0',
      result: 'RolledBack',
      reason: 'SmokeTestFailed',
    });
    const warnings = w.plans.flatMap((p) => p.events).filter((e) => e.type === 'Warning');
    expect(warnings.map((e) => e.reason)).toEqual(['RolledBack']);
    // The verdict that reverted it stays on record in the reconciles after the revert.
    w.runUntil(() => false, 5_000);
    expect(w.status.gates).toMatchObject({ revision: hashOf('1.1.0'), beforeTraffic: { result: 'Failed' } });
  });

  test('a check in flight holds at weight 0 (reason GatesPending), then a pass moves traffic and is recorded', () => {
    const w = serving();
    w.gates = { '1.1.0': { beforeTraffic: 'Passed', pendingMs: 20_000 } };
    w.setSpec({ version: '1.1.0' });
    expect(w.runUntil((x) => x.condition('Progressing')?.reason === 'GatesPending', 30_000)).toBe(true);
    // Ready and in the endpoints, but no traffic while the probe runs.
    expect(w.servingOf('1.1.0')).toBeGreaterThan(0);
    expect(w.weightOf('1.1.0')).toBe(0);
    expect(w.status.gates?.beforeTraffic?.result).toBe('Pending');
    expect(w.runUntil((x) => x.weightOf('1.1.0') === 25, 30_000)).toBe(true);
    expect(w.status.gates?.beforeTraffic?.result).toBe('Passed');
    expect(w.runUntil((x) => x.status.stableVersion === '1.1.0' && x.status.phase === 'Healthy')).toBe(true);
  });

  test('the error code of another gate is the revert reason (InterfaceMismatch, GateFailed)', () => {
    for (const reason of ['InterfaceMismatch', 'GateFailed']) {
      const w = serving();
      w.gates = { '1.1.0': { beforeTraffic: 'Failed', reason } };
      w.setSpec({ version: '1.1.0' });
      expect(w.runUntil((x) => x.status.phase === 'RolledBack', 60_000)).toBe(true);
      expect(w.status.lastRollback?.reason).toBe(reason);
      expect(trafficTo(w, '1.1.0')).toHaveLength(0);
    }
  });

  test('a held webhook holds without reverting; the canary stays at weight 0 until it passes', () => {
    const w = serving();
    w.gates = { '1.1.0': { beforeTraffic: 'Held' } };
    w.setSpec({ version: '1.1.0' });
    w.runUntil(() => false, 60_000);
    expect(trafficTo(w, '1.1.0')).toHaveLength(0);
    expect(w.status.phase).toBe('Progressing');
    expect(w.status.canaryVersion).toBe('1.1.0');
    w.gates = { '1.1.0': { beforeTraffic: 'Passed' } };
    expect(w.runUntil((x) => x.weightOf('1.1.0') === 25, 10_000)).toBe(true);
  });

  test('BeforePromotion gates hold the promotion only', () => {
    const w = serving();
    w.gates = { '1.1.0': { beforePromotion: 'Held' } };
    w.setSpec({ version: '1.1.0' });
    w.runUntil(() => false, 60_000);
    expect(w.weightOf('1.1.0')).toBe(25);
    expect(w.status.stableVersion).toBe('1.0.0');
    w.gates = { '1.1.0': { beforePromotion: 'Passed' } };
    expect(w.runUntil((x) => x.status.stableVersion === '1.1.0', 30_000)).toBe(true);
  });

  test('blue-green: no switch and no promote request taken before the checks pass', () => {
    const w = serving({ type: 'BlueGreen', blueGreen: { autoPromotionEnabled: false } });
    w.gates = { '1.1.0': { beforeTraffic: 'Passed', pendingMs: 15_000 } };
    w.setSpec({ version: '1.1.0' });
    expect(w.runUntil((x) => x.servingOf('1.1.0') > 0, 30_000)).toBe(true);
    w.requests = { promote: 't1' };
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(0);
    expect(w.status.acknowledged?.promote).toBeUndefined();
    expect(w.runUntil((x) => x.weightOf('1.1.0') === 100, 30_000)).toBe(true);
    expect(w.status.acknowledged?.promote).toBe('t1');
  });

  test('property: traffic reaches a non-stable revision only after its BeforeTraffic verdict passed', () => {
    const outcome = fc.constantFrom<SimGates['beforeTraffic']>('Passed', 'Failed', 'Held');
    fc.assert(
      fc.property(
        fc.constantFrom(
          { type: 'Canary', canary: { steps } },
          { type: 'Canary', canary: { steps: [] } },
          { type: 'BlueGreen', blueGreen: { autoPromotionEnabled: true, autoPromotionSeconds: 1 } },
        ),
        fc.array(
          fc.record({
            version: fc.constantFrom('1.1.0', '1.2.0', '1.0.0'),
            result: outcome,
            pendingMs: fc.integer({ min: 0, max: 8000 }),
            waitMs: fc.integer({ min: 500, max: 30_000 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (strategy, actions) => {
          const w = serving(strategy);
          const passedBefore = new Set<string>();
          w.gates = {};
          for (const a of actions) {
            w.gates[a.version] = { beforeTraffic: a.result, pendingMs: a.pendingMs };
            w.setSpec({ version: a.version });
            for (let t = 0; t < a.waitMs; t += 500) {
              const stable = w.status.stableRevision;
              const plan = w.reconcile();
              const input = w.inputs.at(-1)!;
              if (input.gates?.beforeTraffic?.result === 'Passed') passedBefore.add(input.gates.revision);
              for (const x of plan.weights)
                if (x.weight > 0 && x.revision !== stable && w.gates[x.version])
                  expect(passedBefore.has(x.revision)).toBe(true);
              w.advance(500);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

test('cohorts and a mirror reach the canary only once its pre-traffic checks passed; a failed check withholds them', () => {
  const canary = {
    steps: [{ pause: {} }],
    cohorts: [{ headers: [{ name: 'x-cohort', value: 'beta' }] }],
    mirror: { percent: 10 },
  };
  const w = new World({ spec: { version: '1.0.0', replicas: 3, strategy: { type: 'Canary', canary } } });
  expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
  w.gates = {
    '1.1.0': { beforeTraffic: 'Passed', pendingMs: 10_000 },
    '1.2.0': { beforeTraffic: 'Failed', pendingMs: 2000 },
  };
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.servingOf('1.1.0') > 0, 30_000)).toBe(true);
  w.reconcile();
  expect(w.status.gates?.beforeTraffic?.result).toBe('Pending');
  expect(w.plans.at(-1)!.cohort).toBeUndefined();
  expect(w.plans.at(-1)!.mirror).toBeUndefined();
  expect(w.runUntil((x) => x.plans.at(-1)!.cohort !== undefined, 30_000)).toBe(true);
  expect(w.status.gates?.beforeTraffic?.result).toBe('Passed');
  expect(w.plans.at(-1)!.mirror?.revision).toBe(hashOf('1.1.0'));

  w.setSpec({ version: '1.2.0' });
  // A cohort-only rollout (no weight step) consults no gate in the step loop: the failed check
  // withholds the cohorts and mirror, but does not revert (a follow-up).
  w.runUntil(() => false, 30_000);
  expect(w.status.gates?.beforeTraffic?.result).toBe('Failed');
  const to120 = w.plans.filter((p) => p.cohort?.version === '1.2.0' || p.mirror?.version === '1.2.0');
  expect(to120).toEqual([]);
});
