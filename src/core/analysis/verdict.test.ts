import fc from 'fast-check';
import type { ModelDeployment } from '../../api/index.js';
import { DEFAULT_METRIC_LABELS, fillPlaceholders, planCheckQueries, type QueryContext } from './queries.js';
import { resolveAnalysis, type ResolvedCheck } from './spec.js';
import {
  analysisGate,
  analysisTarget,
  combineValues,
  dueChecks,
  failedChecks,
  formatValue,
  judgeCheck,
  type CheckRecord,
  type Measurement,
} from './verdict.js';

const check = (c: Partial<ResolvedCheck> = {}): ResolvedCheck => ({
  name: 'err',
  builtin: 'ErrorRate',
  threshold: 0.05,
  failWhen: 'Above',
  minSamples: 20,
  window: '30s',
  intervalMs: 10_000,
  failureLimit: 1,
  ...c,
});
const ok = (values: Array<number | undefined>, samples: Array<number | undefined>): Measurement => ({
  ok: true,
  values,
  samples,
});
const NOW = '2026-12-04T10:00:00.000Z';

describe('judgeCheck', () => {
  test.each([
    // [what, check, measurement, verdict, value, failures]
    ['error rate under the threshold passes', check(), ok([2, 100], [100]), 'Pass', '0.02', 0],
    ['error rate over it fails', check(), ok([6, 100], [100]), 'Fail', '0.06', 1],
    ['exactly at the threshold passes (fail when above)', check(), ok([5, 100], [100]), 'Pass', '0.05', 0],
    [
      'too few samples is inconclusive, whatever the value',
      check(),
      ok([9, 10], [10]),
      'Inconclusive',
      '0.9',
      0,
    ],
    ['no requests at all is no data', check(), ok([0, 0], [0]), 'Inconclusive', undefined, 0],
    [
      'an empty answer is no data',
      check(),
      ok([undefined, undefined], [undefined]),
      'Inconclusive',
      undefined,
      0,
    ],
    [
      'mean latency in ms from the microsecond sum',
      check({ builtin: 'MeanLatency', threshold: 50 }),
      ok([4_000_000, 100], [100]),
      'Pass',
      '40',
      0,
    ],
    [
      'a canary 1.5x slower than stable fails a 1.2 ratio',
      check({ builtin: 'LatencyVsStable', threshold: 1.2 }),
      ok([60_000 * 50, 50, 40_000 * 80, 80], [50, 80]),
      'Fail',
      '1.5',
      1,
    ],
    [
      'the comparison needs samples on both sides',
      check({ builtin: 'LatencyVsStable', threshold: 1.2 }),
      ok([60_000 * 50, 50, 40_000 * 5, 5], [50, 5]),
      'Inconclusive',
      '1.5',
      0,
    ],
    [
      'a custom query failing below its threshold',
      check({ builtin: undefined, query: 'x', threshold: 0.9, failWhen: 'Below' }),
      ok([0.8], [100]),
      'Fail',
      '0.8',
      1,
    ],
  ] as const)('%s', (_what, c, m, verdict, value, failures) => {
    const r = judgeCheck(c, m, undefined, NOW);
    expect(r.verdict).toBe(verdict);
    expect(r.value).toBe(value);
    expect(r.failures).toBe(failures);
    expect(r.evaluatedAt).toBe(NOW);
  });

  test('failures add up over evaluations (kept in the status), passes do not reset them', () => {
    let r: CheckRecord | undefined;
    r = judgeCheck(check(), ok([6, 100], [100]), r, NOW);
    r = judgeCheck(check(), ok([1, 100], [100]), r, NOW);
    r = judgeCheck(check(), ok([7, 100], [100]), r, NOW);
    expect(r.failures).toBe(2);
  });

  test('an error keeps the failure count and says why, with no value', () => {
    const prev = judgeCheck(check(), ok([6, 100], [100]), undefined, NOW);
    const r = judgeCheck(
      check(),
      { ok: false, reason: 'PrometheusUnavailable', message: 'ECONNREFUSED' },
      prev,
      NOW,
    );
    expect(r).toMatchObject({
      verdict: 'Error',
      reason: 'PrometheusUnavailable',
      failures: 1,
      message: 'ECONNREFUSED',
    });
    expect(r.value).toBeUndefined();
  });

  test('the message names the measured value, the threshold, the window and the samples', () => {
    const r = judgeCheck(check(), ok([6, 120], [120]), undefined, NOW);
    expect(r.message).toBe('error rate 0.05 <= 0.05 (6 of 120 requests failed over 30s), 120 samples');
    const f = judgeCheck(check(), ok([12, 120], [120]), undefined, NOW);
    expect(f.message).toBe('error rate 0.1 > 0.05 (12 of 120 requests failed over 30s), 120 samples');
  });

  test('property: never Pass or Fail with fewer samples than minSamples; Fail only beyond the threshold', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom<'Above' | 'Below'>('Above', 'Below'),
        fc.double({ min: 0, max: 1e3, noNaN: true }),
        (a, b, samples, minSamples, failWhen, threshold) => {
          const c = check({ builtin: 'MeanLatency', minSamples, failWhen, threshold });
          const r = judgeCheck(c, ok([a, b], [samples]), undefined, NOW);
          if (r.verdict === 'Pass' || r.verdict === 'Fail')
            expect(samples).toBeGreaterThanOrEqual(minSamples);
          const v = combineValues(c, [a, b]);
          if (r.verdict === 'Fail') expect(failWhen === 'Above' ? v! > threshold : v! < threshold).toBe(true);
          if (v === undefined) expect(r.verdict).toBe('Inconclusive');
        },
      ),
    );
  });
});

describe('analysisGate', () => {
  const checks = [check({ name: 'a' }), check({ name: 'b' })];
  const at = (iso: string, verdict: CheckRecord['verdict'], reason?: string): CheckRecord => ({
    name: '',
    verdict,
    evaluatedAt: iso,
    ...(reason ? { reason } : {}),
  });
  const since = Date.parse('2026-12-04T10:00:00Z');

  test('passes only when every check passed after the step began', () => {
    const later = '2026-12-04T10:00:05Z';
    expect(
      analysisGate(
        checks,
        [
          { ...at(later, 'Pass'), name: 'a' },
          { ...at(later, 'Pass'), name: 'b' },
        ],
        since,
      ),
    ).toBeUndefined();
    expect(
      analysisGate(
        checks,
        [
          { ...at(later, 'Pass'), name: 'a' },
          { ...at('2026-12-04T10:00:00Z', 'Pass'), name: 'b' },
        ],
        since,
      )?.reason,
    ).toBe('AnalysisPending');
    expect(analysisGate(checks, [{ ...at(later, 'Pass'), name: 'a' }], since)?.reason).toBe(
      'AnalysisPending',
    );
  });

  test('says why it holds: Prometheus first, then a refused query, then too little data', () => {
    const t = '2026-12-04T10:00:05Z';
    expect(
      analysisGate(
        checks,
        [
          { ...at(t, 'Inconclusive'), name: 'a' },
          { ...at(t, 'Error', 'PrometheusUnavailable'), name: 'b', message: 'ECONNREFUSED' },
        ],
        since,
      ),
    ).toEqual({
      reason: 'PrometheusUnavailable',
      message: 'analysis holds the rollout, Prometheus cannot be reached: b: ECONNREFUSED',
    });
    expect(
      analysisGate(
        checks,
        [
          { ...at(t, 'Error', 'QueryFailed'), name: 'a' },
          { ...at(t, 'Pass'), name: 'b' },
        ],
        since,
      )?.reason,
    ).toBe('AnalysisQueryFailed');
    expect(
      analysisGate(
        checks,
        [
          { ...at(t, 'Inconclusive'), name: 'a' },
          { ...at(t, 'Pass'), name: 'b' },
        ],
        since,
      )?.reason,
    ).toBe('AnalysisInconclusive');
  });
});

test('failedChecks: a check fails the revision once its failures reach failureLimit', () => {
  const c = check({ failureLimit: 2 });
  expect(failedChecks([c], [{ name: 'err', failures: 1 }])).toEqual([]);
  expect(failedChecks([c], [{ name: 'err', failures: 2, message: 'm' }])).toEqual([
    'check err failed 2/2: m',
  ]);
});

describe('what to evaluate and when', () => {
  const md = (
    status: ModelDeployment['status'],
    analysis: object = { interval: '2s', checks: [{ name: 'err', builtin: 'ErrorRate', threshold: 0.05 }] },
  ): ModelDeployment =>
    ({
      metadata: { name: 'm', namespace: 'ns' },
      spec: { model: 'm', version: '2', strategy: { type: 'Canary', analysis } },
      status,
    }) as ModelDeployment;
  const now = Date.parse('2026-12-04T10:00:00Z');

  test('a canary is judged only while it carries traffic, against the stable revision', () => {
    expect(
      analysisTarget(md({ stableRevision: 's', canaryRevision: 'c', canaryWeight: 0 }), now),
    ).toBeUndefined();
    expect(analysisTarget(md({ stableRevision: 's', canaryRevision: 'c', canaryWeight: 25 }), now)).toEqual({
      stage: 'Canary',
      revision: 'c',
      baseline: 's',
    });
    expect(analysisTarget(md({ stableRevision: 's' }), now)).toBeUndefined();
  });

  test('a promoted revision is judged during its bake time only', () => {
    const bake = { revision: 'c', baseline: 's', stage: 'Bake' as const, bakeUntil: '2026-12-04T10:01:00Z' };
    expect(analysisTarget(md({ stableRevision: 'c', analysis: bake }), now)).toEqual({
      stage: 'Bake',
      revision: 'c',
      baseline: 's',
    });
    expect(analysisTarget(md({ stableRevision: 'c', analysis: bake }), now + 60_000)).toBeUndefined();
    expect(analysisTarget(md({ stableRevision: 's', analysis: bake }), now)).toBeUndefined();
  });

  test('a check is due once its interval has passed since its last evaluation of the same target', () => {
    const m = md({ stableRevision: 's', canaryRevision: 'c', canaryWeight: 25 });
    const spec = resolveAnalysis(m)!;
    const target = analysisTarget(m, now)!;
    const status = {
      revision: 'c',
      stage: 'Canary' as const,
      checks: [{ name: 'err', evaluatedAt: new Date(now - 1500).toISOString() }],
    };
    expect(dueChecks(spec, status, target, now)).toEqual([]);
    expect(dueChecks(spec, status, target, now + 500).map((c) => c.name)).toEqual(['err']);
    // Records of another revision do not count.
    expect(dueChecks(spec, { ...status, revision: 'x' }, target, now).map((c) => c.name)).toEqual(['err']);
  });

  test('comparisons with stable do not run during the bake time (the previous revision serves nothing)', () => {
    const m = md(
      {
        stableRevision: 'c',
        analysis: { revision: 'c', baseline: 's', stage: 'Bake', bakeUntil: '2026-12-04T10:01:00Z' },
      },
      {
        checks: [
          { name: 'lat', builtin: 'MeanLatency', threshold: 100 },
          { name: 'cmp', builtin: 'LatencyVsStable', threshold: 1.2 },
        ],
      },
    );
    expect(
      dueChecks(resolveAnalysis(m)!, m.status!.analysis, analysisTarget(m, now)!, now).map((c) => c.name),
    ).toEqual(['lat']);
  });
});

describe('queries', () => {
  const ctx: QueryContext = {
    namespace: 'prod',
    deployment: 'scorer',
    model: 'scorer',
    version: '1.2.0',
    revision: 'abc',
    baseline: 'def',
    runtime: 'triton',
    labels: DEFAULT_METRIC_LABELS,
  };

  test('Triton built-ins read the metrics Triton exports, selected by the revision label', () => {
    const q = planCheckQueries(check(), ctx);
    expect(q).toEqual({
      values: [
        '(sum(increase(nv_inference_request_failure{namespace="prod",modelship_io_revision="abc"}[30s])) or vector(0))',
        '(sum(increase(nv_inference_request_success{namespace="prod",modelship_io_revision="abc"}[30s])) or vector(0)) + (sum(increase(nv_inference_request_failure{namespace="prod",modelship_io_revision="abc"}[30s])) or vector(0))',
      ],
      samples: [
        '(sum(increase(nv_inference_request_success{namespace="prod",modelship_io_revision="abc"}[30s])) or vector(0)) + (sum(increase(nv_inference_request_failure{namespace="prod",modelship_io_revision="abc"}[30s])) or vector(0))',
      ],
    });
    const cmp = planCheckQueries(check({ builtin: 'LatencyVsStable' }), ctx);
    expect('values' in cmp && cmp.values[2]).toBe(
      'sum(increase(nv_inference_request_duration_us{namespace="prod",modelship_io_revision="def"}[30s]))',
    );
  });

  test('TorchServe built-ins use its own metric names', () => {
    const q = planCheckQueries(check({ builtin: 'MeanLatency' }), { ...ctx, runtime: 'torchserve' });
    expect('values' in q && q.values).toEqual([
      'sum(increase(ts_inference_latency_microseconds{namespace="prod",modelship_io_revision="abc"}[30s]))',
      'sum(increase(ts_inference_requests_total{namespace="prod",modelship_io_revision="abc"}[30s]))',
    ]);
  });

  test('placeholders of a custom query; unknown ones are left for PromQL to refuse', () => {
    expect(
      fillPlaceholders(
        'histogram_quantile(0.5, sum by (le) (rate(score_bucket{ {{selector}} }[{{window}}]))) - histogram_quantile(0.5, sum by (le) (rate(score_bucket{ {{stableSelector}} }[{{window}}]))) {{nope}} "{{version}}"',
        ctx,
        '1m',
      ),
    ).toBe(
      'histogram_quantile(0.5, sum by (le) (rate(score_bucket{ namespace="prod",modelship_io_revision="abc" }[1m]))) - histogram_quantile(0.5, sum by (le) (rate(score_bucket{ namespace="prod",modelship_io_revision="def" }[1m]))) {{nope}} "1.2.0"',
    );
  });

  test('a comparison without a stable revision, or a built-in for an unknown runtime, cannot be planned', () => {
    expect(planCheckQueries(check({ builtin: 'LatencyVsStable' }), { ...ctx, baseline: undefined })).toEqual({
      error: 'no stable revision to compare with',
    });
    expect(planCheckQueries(check(), { ...ctx, runtime: 'vllm' })).toEqual({
      error: 'runtime vllm has no built-in checks: write a query',
    });
  });
});

test('formatValue keeps four significant digits', () => {
  expect([0, 0.05, 41.2549, 1.5, 123456, 0.00001234].map(formatValue)).toEqual([
    '0',
    '0.05',
    '41.25',
    '1.5',
    '123500',
    '0.00001234',
  ]);
});
