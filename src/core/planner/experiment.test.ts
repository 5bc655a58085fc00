// Experiments in the planner: table tests over the simulated world (test/unit/sim.ts) of a 3-way
// experiment, its end (Rollback, PromoteIfWinner with each kind of winner), a version that fails,
// an arm without a ModelVersion, a router that cannot split by weight, and no metrics source.
import type { ModelDeploymentSpecStrategyExperiment } from '../../api/index.js';
import { World, hashOf } from '../../../test/unit/sim.js';

function world(experiment: ModelDeploymentSpecStrategyExperiment, exactWeights = true): World {
  const w = new World({
    spec: {
      version: '1.0.0',
      replicas: 4,
      strategy: { type: 'Experiment', experiment, progressDeadlineSeconds: 30 },
      traffic: { router: 'gatewayApi' },
    },
    exactWeights,
    readyAfterMs: 1000,
  });
  w.runUntil((x) => x.status.phase === 'Healthy');
  return w;
}

const threeWay: ModelDeploymentSpecStrategyExperiment = {
  weight: 30,
  arms: [{ version: '1.2.0', weight: 20 }],
  duration: '60s',
};

const split = (w: World) => Object.fromEntries(w.plans.at(-1)!.weights.map((x) => [x.version, x.weight]));

test('a 3-way experiment: each version at its weight once it serves, the comparison in status, then back to stable', () => {
  const w = world(threeWay);
  w.metrics = {
    '1.0.0': { requests: 500, errorRate: 0.02, latencyMs: 20 },
    '1.1.0': { requests: 300, errorRate: 0.01, latencyMs: 25 },
    '1.2.0': { requests: 200, errorRate: 0.03, latencyMs: 15 },
  };
  w.setSpec({ version: '1.1.0' });
  w.reconcile();
  // Nothing serves yet: the stable revision keeps everything, the others are listed at 0.
  expect(split(w)).toEqual({ '1.0.0': 100, '1.1.0': 0, '1.2.0': 0 });
  expect(w.status.experiment?.phase).toBe('Starting');
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Running', 10_000)).toBe(true);
  expect(split(w)).toEqual({ '1.0.0': 50, '1.1.0': 30, '1.2.0': 20 });
  expect(w.revisions.get(hashOf('1.1.0'))!.replicas).toBe(2); // ceil(4 * 30%)
  expect(w.revisions.get(hashOf('1.2.0'))!.replicas).toBe(1);
  expect(w.revisions.get(hashOf('1.0.0'))!.replicas).toBe(4);
  expect(w.condition('Progressing')?.reason).toBe('ExperimentRunning');
  // The comparison, measured every 10s.
  w.advance(10_000);
  w.reconcile();
  const x = w.status.experiment!;
  expect(x.arms!.map((a) => [a.role, a.version, a.weight, a.state, a.requests, a.errorRate])).toEqual([
    ['Stable', '1.0.0', 50, 'Serving', 500, '0.0200'],
    ['Challenger', '1.1.0', 30, 'Serving', 300, '0.0100'],
    ['Arm', '1.2.0', 20, 'Serving', 200, '0.0300'],
  ]);
  expect(x.endsAt).toBe(new Date(Date.parse(x.startedAt!) + 60_000).toISOString());
  expect(w.plans.at(-1)!.requeueAfterMs).toBeLessThanOrEqual(10_000);

  // The end: onEnd Rollback, so even the winning challenger is not promoted.
  expect(w.runUntil((y) => y.status.experiment?.phase === 'Concluded', 70_000, 1000)).toBe(true);
  expect(split(w)).toEqual({ '1.0.0': 100 });
  expect(w.status.stableVersion).toBe('1.0.0');
  expect(w.status.phase).toBe('Healthy');
  expect(w.condition('Ready')).toMatchObject({ status: 'True', reason: 'ExperimentConcluded' });
  expect(w.status.experiment!.winner).toEqual({
    revision: hashOf('1.1.0'),
    version: '1.1.0',
    role: 'Challenger',
    value: '0.0100',
  });
  expect(w.status.experiment!.result).toMatch(/1\.1\.0 \(challenger\) wins on ErrorRate/);
  expect(w.status.history!.slice(-2).map((h) => [h.version, h.result, h.reason])).toEqual([
    ['1.1.0', 'Concluded', 'ExperimentConcluded'],
    ['1.2.0', 'Concluded', 'ExperimentConcluded'],
  ]);
  // Settled: scaled to 0, the same status again, no event; the experiment does not start over.
  w.advance(60_000);
  w.reconcile();
  expect(w.revisions.get(hashOf('1.1.0'))!.replicas).toBe(0);
  const a = w.reconcile();
  const b = w.reconcile();
  expect(b.status).toEqual(a.status);
  expect(b.events).toEqual([]);
  expect(a.status.experiment!.phase).toBe('Concluded');
});

test('PromoteIfWinner: a winning challenger is promoted through the normal promotion', () => {
  const w = world({ ...threeWay, onEnd: 'PromoteIfWinner' });
  w.metrics = {
    '1.0.0': { requests: 500, errorRate: 0.02, latencyMs: 20 },
    '1.1.0': { requests: 300, errorRate: 0.0, latencyMs: 25 },
    '1.2.0': { requests: 200, errorRate: 0.01, latencyMs: 15 },
  };
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0', 120_000, 1000)).toBe(true);
  expect(w.status.phase).toBe('Healthy');
  expect(split(w)).toEqual({ '1.1.0': 100 });
  expect(w.status.history!.at(-1)).toMatchObject({ version: '1.1.0', result: 'Promoted' });
  expect(w.status.history!.find((h) => h.version === '1.2.0')).toMatchObject({ result: 'Concluded' });
  // The comparison stays on record after the promotion.
  expect(w.status.experiment).toMatchObject({ phase: 'Concluded', winner: { version: '1.1.0' } });
  expect(w.status.experiment!.result).toMatch(/1\.1\.0 promoted/);
});

test('PromoteIfWinner: an arm that wins is named, not promoted; no winner without enough requests', () => {
  const w = world({ ...threeWay, onEnd: 'PromoteIfWinner', decideBy: { metric: 'MeanLatency' } });
  w.metrics = {
    '1.0.0': { requests: 500, errorRate: 0, latencyMs: 20 },
    '1.1.0': { requests: 300, errorRate: 0, latencyMs: 25 },
    '1.2.0': { requests: 200, errorRate: 0, latencyMs: 15 },
  };
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Concluded', 120_000, 1000)).toBe(true);
  w.reconcile();
  expect(w.status.stableVersion).toBe('1.0.0');
  expect(split(w)).toEqual({ '1.0.0': 100 });
  expect(w.status.experiment!.winner).toMatchObject({ version: '1.2.0', role: 'Arm', value: '15.00ms' });
  expect(w.condition('Ready')?.message).toMatch(/set spec\.version to 1\.2\.0/);

  const few = world({ ...threeWay, onEnd: 'PromoteIfWinner', decideBy: { minSamples: 1000 } });
  few.setSpec({ version: '1.1.0' });
  expect(few.runUntil((x) => x.status.experiment?.phase === 'Concluded', 120_000, 1000)).toBe(true);
  few.reconcile();
  expect(few.status.experiment!.winner).toBeUndefined();
  expect(few.status.experiment!.result).toMatch(/no winner: no version served at least 1000 requests/);
  expect(few.status.stableVersion).toBe('1.0.0');
});

test('a version that fails gets weight 0 at once, its share goes to stable, and the others go on', () => {
  const w = world(threeWay);
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Running', 10_000)).toBe(true);
  w.faults['1.2.0'] = 'unready-later';
  w.unreadyAfterMs = 6000;
  // Unready after 6s: 1.2.0 keeps its weight through the grace (3s), then loses it in the reconcile
  // that fails it.
  let failedAt: number | undefined;
  for (let i = 0; i < 40 && failedAt === undefined; i++) {
    w.advance(500);
    const plan = w.reconcile();
    if (w.status.experiment!.arms!.find((a) => a.version === '1.2.0')!.state === 'Failed') {
      failedAt = i;
      expect(plan.weights.find((x) => x.version === '1.2.0')).toBeUndefined();
    }
  }
  expect(failedAt).toBeDefined();
  expect(split(w)).toEqual({ '1.0.0': 70, '1.1.0': 30 });
  expect(w.status.experiment!.phase).toBe('Running');
  expect(w.status.history!.at(-1)).toMatchObject({ version: '1.2.0', result: 'RolledBack' });
  expect(w.condition('Degraded')?.status).toBe('True');
  // It stays out for the rest of the experiment, even when its pods come back.
  w.faults['1.2.0'] = 'none';
  w.advance(5000);
  w.reconcile();
  expect(split(w)).toEqual({ '1.0.0': 70, '1.1.0': 30 });
});

test('a challenger that never gets ready fails at the progress deadline; the arm goes on', () => {
  const w = world(threeWay);
  w.faults['1.1.0'] = 'never-ready';
  w.setSpec({ version: '1.1.0' });
  w.runUntil((x) => x.status.experiment?.arms?.[1]?.state === 'Failed', 40_000, 1000);
  expect(split(w)).toEqual({ '1.0.0': 80, '1.2.0': 20 });
  expect(w.status.experiment!.arms![1]).toMatchObject({
    state: 'Failed',
    reason: 'ProgressDeadlineExceeded',
  });
});

test('an arm without a ModelVersion: ExperimentVersionNotFound, the stable revision untouched, nothing started', () => {
  const w = world(threeWay);
  w.missingVersions.add('1.2.0');
  w.setSpec({ version: '1.1.0' });
  const plan = w.reconcile();
  expect(plan.weights).toEqual([{ revision: hashOf('1.0.0'), version: '1.0.0', weight: 100 }]);
  expect(plan.revisions.map((r) => [r.version, r.replicas])).toEqual([['1.0.0', 4]]);
  expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'ExperimentVersionNotFound' });
  expect(w.condition('Degraded')?.message).toMatch(/arms\[0\] \(version 1\.2\.0\)/);
  // Once it exists, the experiment starts.
  w.missingVersions.delete('1.2.0');
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Running', 10_000)).toBe(true);
});

test('the plain Service router cannot hold fixed weights: ExperimentUnsupported, nothing moves', () => {
  const w = world(threeWay, false);
  w.setSpec({ version: '1.1.0' });
  const plan = w.reconcile();
  expect(plan.weights).toEqual([{ revision: hashOf('1.0.0'), version: '1.0.0', weight: 100 }]);
  expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'ExperimentUnsupported' });
});

test('no metrics source: status.experiment says so and there is no winner', () => {
  const w = world(threeWay);
  w.prometheus = 'unconfigured';
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Concluded', 120_000, 1000)).toBe(true);
  expect(w.status.experiment!.metrics).toMatch(/PrometheusNotConfigured/);
  expect(w.status.experiment!.winner).toBeUndefined();
  expect(w.status.experiment!.arms!.every((a) => a.requests === undefined)).toBe(true);
});

test('the spec changing mid-experiment ends it: back to stable, the other versions Superseded', () => {
  const w = world({ weight: 30, arms: [{ version: '1.2.0', weight: 20 }] });
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Running', 10_000)).toBe(true);
  expect(w.status.experiment!.endsAt).toBeUndefined(); // no duration: until the spec changes
  w.setSpec({ version: '1.0.0' });
  w.reconcile();
  expect(split(w)).toEqual({ '1.0.0': 100 });
  expect(w.status.experiment).toBeUndefined();
  expect(w.status.history!.slice(-2).map((h) => [h.version, h.result])).toEqual([
    ['1.1.0', 'Superseded'],
    ['1.2.0', 'Superseded'],
  ]);
});

test("a version that fails spec.analysis's checks on the experiment's numbers gets weight 0; the others go on", () => {
  const w = new World({
    spec: {
      version: '1.0.0',
      replicas: 4,
      strategy: {
        type: 'Experiment',
        experiment: threeWay,
        analysis: { checks: [{ name: 'errors', builtin: 'ErrorRate', threshold: 0.02, minSamples: 100 }] },
      },
      traffic: { router: 'gatewayApi' },
    },
    readyAfterMs: 1000,
  });
  w.runUntil((x) => x.status.phase === 'Healthy');
  w.metrics = {
    '1.0.0': { requests: 500, errorRate: 0.01, latencyMs: 20 },
    '1.1.0': { requests: 300, errorRate: 0.01, latencyMs: 20 },
    '1.2.0': { requests: 200, errorRate: 0.05, latencyMs: 20 },
  };
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.experiment?.arms?.[2]?.state === 'Failed', 30_000)).toBe(true);
  expect(split(w)).toEqual({ '1.0.0': 70, '1.1.0': 30 });
  expect(w.status.experiment!.arms![2]).toMatchObject({ reason: 'AnalysisFailed', errorRate: '0.0500' });
  expect(w.status.history!.at(-1)).toMatchObject({
    version: '1.2.0',
    result: 'RolledBack',
    reason: 'AnalysisFailed',
  });
  expect(w.status.history!.at(-1)!.message).toMatch(
    /failed analysis check errors \(ErrorRate\): 0\.05 > 0\.02 over 200 requests/,
  );
  expect(w.status.experiment!.phase).toBe('Running');
});

test('a concluded experiment runs again once the spec asks for the stable version and back', () => {
  const w = world(threeWay);
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Concluded', 120_000, 1000)).toBe(true);
  const first = w.status.experiment!.startedAt;
  w.setSpec({ version: '1.0.0' });
  w.reconcile();
  expect(w.status.experiment).toBeUndefined();
  w.advance(1000);
  w.setSpec({ version: '1.1.0' });
  w.reconcile();
  expect(w.status.experiment?.phase).toBe('Starting');
  expect(w.runUntil((x) => x.status.experiment?.phase === 'Running', 10_000)).toBe(true);
  expect(w.status.experiment!.startedAt).not.toBe(first);
  expect(split(w)).toEqual({ '1.0.0': 50, '1.1.0': 30, '1.2.0': 20 });
});
