// Metric analysis in the rollout state machine, over the simulated world (test/unit/sim.ts), whose
// Prometheus says what a test wants per version: the canary is judged while it carries traffic,
// reverted when a check fails, held (never promoted) without evidence, and the promoted revision is
// judged during its bake time.
import fc from 'fast-check';
import { hashOf, World, type SimMetrics } from '../../../test/unit/sim.js';
import type { ModelDeploymentSpecStrategyAnalysisCheck } from '../../api/index.js';

const STEPS = [
  { setWeight: 25 },
  { pause: { duration: '10s' } },
  { setWeight: 50 },
  { pause: { duration: '10s' } },
];
const CHECKS: ModelDeploymentSpecStrategyAnalysisCheck[] = [
  { name: 'errors', builtin: 'ErrorRate', threshold: 0.05, minSamples: 20 },
  { name: 'latency', builtin: 'MeanLatency', threshold: 100, minSamples: 20 },
  { name: 'vs-stable', builtin: 'LatencyVsStable', threshold: 1.2, minSamples: 20 },
];

function world(analysis: object = {}, extra: object = {}): World {
  const w = new World({
    spec: {
      version: '1.0.0',
      strategy: {
        type: 'Canary',
        canary: { steps: STEPS, scaleDownDelaySeconds: 0 },
        analysis: { interval: '2s', checks: CHECKS, ...analysis },
        ...extra,
      },
    },
  });
  w.metrics['1.0.0'] = { requests: 100, errorRate: 0, latencyMs: 40 };
  expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
  return w;
}

const roll = (w: World, version: string, m: SimMetrics): void => {
  w.metrics[version] = m;
  w.setSpec({ version });
};

test('a good canary is promoted with every check passing, recorded in the history and status', () => {
  const w = world();
  roll(w, '1.1.0', { requests: 100, errorRate: 0.01, latencyMs: 42 });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  expect(w.status.phase).toBe('Healthy');
  expect(w.status.analysis).toMatchObject({ revision: hashOf('1.1.0'), stage: 'Succeeded' });
  expect(w.status.analysis!.summary).toBe(
    'errors=0.01 <= 0.05 Pass, latency=42 <= 100 Pass, vs-stable=1.05 <= 1.2 Pass',
  );
  expect(w.status.history!.at(-1)!.message).toContain('analysis passed: errors=0.01 <= 0.05 Pass');
  expect(w.condition('AnalysisPassing')).toMatchObject({ status: 'True', reason: 'AnalysisSucceeded' });
});

test('each step that carried traffic ends only after a passing evaluation taken after it began', () => {
  const w = world();
  roll(w, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 40 });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  const canary = hashOf('1.1.0');
  // Every plan that moved past a step at weight > 0 had a measurement of all checks after that step began.
  const starts = w.plans
    .map((p) => p.status)
    .filter((s) => s.canaryRevision === canary)
    .map((s) => Date.parse(s.currentStepStartedAt!));
  const evaluations = w.measured.filter((m) => m.input.target.revision === canary).map((m) => m.at);
  for (const s of new Set(starts.slice(1))) expect(evaluations.some((t) => t > s)).toBe(true);
});

test('a latency regression is reverted with reason AnalysisFailed, the values and thresholds in the message', () => {
  const w = world();
  roll(w, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 150 });
  expect(w.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
  expect(w.status.lastRollback).toMatchObject({
    from: { version: '1.1.0' },
    to: { version: '1.0.0' },
    reason: 'AnalysisFailed',
  });
  expect(w.status.lastRollback!.message).toBe(
    `analysis of version 1.1.0 (revision ${hashOf('1.1.0')}) failed: check latency failed 1/1: mean latency 150ms > 100ms over 30s, 100 samples; ` +
      'check vs-stable failed 1/1: mean latency 150ms vs stable 40ms: ratio 3.75 > 1.2 over 30s, 100 samples',
  );
  expect(w.weightOf('1.0.0')).toBe(100);
  expect(w.revisions.get(hashOf('1.1.0'))!.replicas).toBe(0);
  expect(
    w.plans.flatMap((p) => p.events).some((e) => e.type === 'Warning' && e.reason === 'RolledBack'),
  ).toBe(true);
  expect(w.status.analysis!.stage).toBe('Failed');
  expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'AnalysisFailed' });
  // It stays reverted: the failed version is not tried again on its own.
  w.advance(60_000);
  w.reconcile();
  expect(w.status.stableVersion).toBe('1.0.0');
  expect(w.weightOf('1.1.0')).toBe(0);
});

test('failureLimit: two failed evaluations are tolerated, the third reverts; the count survives in the status', () => {
  const w = world({ checks: [{ name: 'errors', builtin: 'ErrorRate', threshold: 0.05, failureLimit: 3 }] });
  roll(w, '1.1.0', { requests: 100, errorRate: 0.2, latencyMs: 40 });
  const failures: number[] = [];
  expect(
    w.runUntil((x) => {
      const f = x.status.analysis?.checks?.[0]?.failures;
      if (f !== undefined && failures.at(-1) !== f) failures.push(f);
      return x.status.phase === 'RolledBack';
    }),
  ).toBe(true);
  expect(failures).toEqual([0, 1, 2, 3].filter((n) => n >= failures[0]!));
  expect(w.status.lastRollback!.message).toContain('check errors failed 3/3');
});

test('too few samples: the canary holds at its weight and is never promoted, nor reverted', () => {
  const w = world();
  roll(w, '1.1.0', { requests: 5, errorRate: 0, latencyMs: 40 });
  w.runUntil(() => false, 120_000);
  expect(w.status.canaryVersion).toBe('1.1.0');
  expect(w.status.stableVersion).toBe('1.0.0');
  expect(w.weightOf('1.1.0')).toBe(25);
  expect(w.condition('Progressing')).toMatchObject({ status: 'True', reason: 'AnalysisInconclusive' });
  expect(w.condition('AnalysisPassing')).toMatchObject({ status: 'Unknown', reason: 'AnalysisInconclusive' });
  expect(w.status.history!.some((h) => h.version === '1.1.0')).toBe(false);
  // Enough data later: it goes on.
  w.metrics['1.1.0'] = { requests: 100, errorRate: 0, latencyMs: 40 };
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
});

test('Prometheus unreachable or refusing the query: hold with a condition saying so, never promote, never revert', () => {
  for (const mode of ['down', 'refuses'] as const) {
    const w = world();
    roll(w, '1.1.0', { requests: 100, errorRate: 0.5, latencyMs: 500 });
    w.prometheus = mode;
    w.runUntil(() => false, 120_000);
    expect(w.status).toMatchObject({ stableVersion: '1.0.0', canaryVersion: '1.1.0', phase: 'Progressing' });
    const reason = mode === 'down' ? 'PrometheusUnavailable' : 'AnalysisQueryFailed';
    expect(w.condition('AnalysisPassing')).toMatchObject({ status: 'False', reason });
    expect(w.condition('Progressing')).toMatchObject({ reason });
    expect(w.condition('Degraded')?.status).toBe('False');
    // One Warning Event when the hold began, not one per reconcile.
    expect(w.plans.flatMap((p) => p.events).filter((e) => e.reason === reason)).toHaveLength(1);
    // Back: the evidence (a bad version here) decides.
    w.prometheus = 'up';
    expect(w.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
  }
});

test('no Prometheus configured (no --prometheus-url): hold with reason PrometheusNotConfigured', () => {
  const w = world();
  roll(w, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 40 });
  w.prometheus = 'unconfigured';
  w.runUntil(() => false, 60_000);
  expect(w.status).toMatchObject({ stableVersion: '1.0.0', canaryVersion: '1.1.0' });
  expect(w.condition('AnalysisPassing')).toMatchObject({
    status: 'False',
    reason: 'PrometheusNotConfigured',
  });
  expect(w.condition('Ready')?.message).toContain('no Prometheus is configured');
});

test('comparison with stable: 1.5x slower fails whatever the absolute latency; as fast passes even when slow', () => {
  const slow = world({}, {});
  slow.metrics['1.0.0'] = { requests: 100, errorRate: 0, latencyMs: 400 };
  // An absolute latency check would fail both; only the comparison is used here.
  slow.setSpec({
    strategy: {
      type: 'Canary',
      canary: { steps: STEPS, scaleDownDelaySeconds: 0 },
      analysis: { interval: '2s', checks: [CHECKS[2]!] },
    } as never,
  });
  roll(slow, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 400 });
  expect(slow.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  slow.metrics['1.1.0'] = { requests: 100, errorRate: 0, latencyMs: 400 };
  roll(slow, '1.2.0', { requests: 100, errorRate: 0, latencyMs: 600 });
  expect(slow.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
  expect(slow.status.lastRollback!.message).toContain('ratio 1.5 > 1.2');
});

test('bake time: the previous revision stays warm; a regression within it sends the traffic back', () => {
  const w = world({ bakeTime: '60s' });
  roll(w, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 40 });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  expect(w.status.analysis).toMatchObject({
    stage: 'Bake',
    revision: hashOf('1.1.0'),
    baseline: hashOf('1.0.0'),
  });
  expect(w.status.warmRevisions?.map((v) => v.revision)).toEqual([hashOf('1.0.0')]);
  expect(w.revisions.get(hashOf('1.0.0'))!.replicas).toBe(4);
  w.advance(5000);
  w.reconcile();
  w.metrics['1.1.0'] = { requests: 100, errorRate: 0, latencyMs: 300 };
  expect(w.runUntil((x) => x.status.phase === 'RolledBack', 20_000)).toBe(true);
  expect(w.status).toMatchObject({
    stableVersion: '1.0.0',
    lastRollback: { from: { version: '1.1.0' }, to: { version: '1.0.0' }, reason: 'AnalysisFailed' },
  });
  expect(w.weightOf('1.0.0')).toBe(100);
  expect(w.revisions.get(hashOf('1.1.0'))!.replicas).toBe(0);
  expect(w.status.history!.filter((h) => h.version === '1.1.0').map((h) => h.result)).toEqual([
    'Promoted',
    'RolledBack',
  ]);
});

test('bake time over without a failure: the analysis succeeds and the previous revision is scaled down', () => {
  const w = world({ bakeTime: '20s' });
  roll(w, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 40 });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  expect(w.runUntil((x) => x.status.analysis?.stage === 'Succeeded', 30_000)).toBe(true);
  w.reconcile();
  expect(w.revisions.get(hashOf('1.0.0'))!.replicas).toBe(0);
  expect(w.status.phase).toBe('Healthy');
  // Settled: nothing more to evaluate, no requeue for it.
  const p = w.reconcile();
  expect(p.requeueAfterMs).toBeUndefined();
});

test('a spec without analysis has no analysis status and no AnalysisPassing condition', () => {
  const w = new World({ spec: { version: '1.0.0', strategy: { type: 'Canary', canary: { steps: STEPS } } } });
  expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
  w.setSpec({ version: '1.1.0' });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  expect(w.status.analysis).toBeUndefined();
  expect(w.condition('AnalysisPassing')).toBeUndefined();
});

test('property: never promoted unless every check passed with enough samples after the last step began; never reverted by analysis without a real failure', () => {
  const metrics = fc.record({
    requests: fc.constantFrom(0, 5, 50, 200),
    errorRate: fc.constantFrom(0, 0.01, 0.1),
    latencyMs: fc.constantFrom(20, 40, 45, 90, 300),
  });
  const event = fc.oneof(
    fc.record({ kind: fc.constant('metrics' as const), m: metrics }),
    fc.record({
      kind: fc.constant('prometheus' as const),
      mode: fc.constantFrom<'up' | 'down' | 'refuses'>('up', 'down', 'refuses'),
    }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 200, max: 8000 }) }),
  );
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (events) => {
      const w = world();
      roll(w, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 40 });
      for (const e of events) {
        if (e.kind === 'metrics') w.metrics['1.1.0'] = e.m;
        else if (e.kind === 'prometheus') w.prometheus = e.mode;
        else w.advance(e.ms);
        w.reconcile();
        const promoted = w.status.stableVersion === '1.1.0';
        const reverted = w.status.lastRollback?.from?.version === '1.1.0';
        if (promoted) {
          // The evidence it was let go on: every check passed, with enough samples.
          const records = w.status.analysis!.checks!;
          expect(records.map((r) => r.name).sort()).toEqual(['errors', 'latency', 'vs-stable']);
          for (const r of records) {
            expect(r.verdict).toBe('Pass');
            expect(r.samples).toBeGreaterThanOrEqual(20);
          }
          return;
        }
        if (reverted) {
          expect(w.status.lastRollback!.reason).toBe('AnalysisFailed');
          // Some measurement of the canary really was beyond a threshold, with enough samples.
          const bad = w.measured.some(({ input }) =>
            Object.entries(input.results).some(([name, m]) => {
              if (!m.ok || Math.min(...m.samples.map((x) => x ?? 0)) < 20) return false;
              const c = CHECKS.find((x) => x.name === name)!;
              const v =
                name === 'errors'
                  ? m.values[0]! / m.values[1]!
                  : name === 'latency'
                    ? m.values[0]! / m.values[1]! / 1000
                    : m.values[0]! / m.values[1]! / (m.values[2]! / m.values[3]!);
              return v > c.threshold;
            }),
          );
          expect(bad).toBe(true);
          return;
        }
      }
    }),
    { numRuns: 150 },
  );
});

test('taking analysis out of the spec mid-canary ends it (Stopped) and the canary goes on without it', () => {
  const w = world();
  roll(w, '1.1.0', { requests: 5, errorRate: 0, latencyMs: 40 });
  w.runUntil(() => false, 20_000);
  expect(w.condition('Progressing')?.reason).toBe('AnalysisInconclusive');
  w.setSpec({ strategy: { type: 'Canary', canary: { steps: STEPS, scaleDownDelaySeconds: 0 } } });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  expect(w.status.analysis?.stage).toBe('Stopped');
  expect(w.condition('AnalysisPassing')).toBeUndefined();
});

test('autoRollback off: a failed check halts the canary where it is (Degraded, AnalysisFailed) until an abort', () => {
  const w = world({}, { autoRollback: false });
  roll(w, '1.1.0', { requests: 100, errorRate: 0.3, latencyMs: 40 });
  expect(w.runUntil((x) => x.condition('Degraded')?.reason === 'AnalysisFailed')).toBe(true);
  const weight = w.weightOf('1.1.0');
  expect(weight).toBeGreaterThan(0);
  w.metrics['1.1.0'] = { requests: 100, errorRate: 0, latencyMs: 40 };
  w.runUntil(() => false, 30_000);
  // The failure stays visible (it is in the status), the canary neither promoted nor reverted.
  expect(w.status).toMatchObject({ phase: 'Degraded', stableVersion: '1.0.0', canaryVersion: '1.1.0' });
  expect(w.weightOf('1.1.0')).toBe(weight);
  w.requests = { abort: 'a1' };
  expect(w.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
  expect(w.weightOf('1.0.0')).toBe(100);
});

test('blue-green: the bake time after the switch judges the new revision and goes back on a regression', () => {
  const w = new World({
    spec: {
      version: '1.0.0',
      strategy: {
        type: 'BlueGreen',
        blueGreen: { scaleDownDelaySeconds: 0 },
        analysis: { interval: '2s', bakeTime: '60s', checks: CHECKS },
      },
    },
  });
  w.metrics['1.0.0'] = { requests: 100, errorRate: 0, latencyMs: 40 };
  expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
  roll(w, '1.1.0', { requests: 100, errorRate: 0, latencyMs: 40 });
  expect(w.runUntil((x) => x.status.stableVersion === '1.1.0')).toBe(true);
  expect(w.status.analysis).toMatchObject({ stage: 'Bake', baseline: hashOf('1.0.0') });
  // Only the checks that need no stable traffic run during the bake.
  w.advance(3000);
  w.reconcile();
  expect(w.status.analysis!.checks!.map((c) => c.name).sort()).toEqual(['errors', 'latency']);
  w.metrics['1.1.0'] = { requests: 100, errorRate: 0.5, latencyMs: 40 };
  expect(w.runUntil((x) => x.status.phase === 'RolledBack', 20_000)).toBe(true);
  expect(w.status.lastRollback).toMatchObject({ to: { version: '1.0.0' }, reason: 'AnalysisFailed' });
  expect(w.weightOf('1.0.0')).toBe(100);
});
