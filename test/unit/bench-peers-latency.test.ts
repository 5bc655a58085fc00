// The pure parts of bench/peers-latency.ts: the query every tool runs and the per-run summary.
import { describe, expect, it } from '@jest/globals';
import { meanLatencyQuery, summarizeLatency, type LatencyTrial } from '../../bench/peers-latency.js';

describe('meanLatencyQuery', () => {
  it('divides the duration by the successes, in ms, and reads 0 under the minimum of samples', () => {
    const q = meanLatencyQuery('namespace="ns",app="peer"', '4s', 10);
    expect(q).toBe(
      '((sum(increase(nv_inference_request_duration_us{namespace="ns",app="peer"}[4s])) / ' +
        'sum(increase(nv_inference_request_success{namespace="ns",app="peer"}[4s])) / 1000) and on() ' +
        '(((sum(increase(nv_inference_request_success{namespace="ns",app="peer"}[4s])) or vector(0)) + ' +
        '(sum(increase(nv_inference_request_failure{namespace="ns",app="peer"}[4s])) or vector(0))) >= 10)) ' +
        'or on() vector(0)',
    );
  });
});

const trial = (
  tool: LatencyTrial['tool'],
  settings: LatencyTrial['settings'],
  i: number,
  safeMs: number | null,
  error?: string,
): LatencyTrial => ({
  tool,
  settings,
  trial: i,
  namespace: `ns-${tool}-${i}`,
  safeMs,
  capMs: 100_000,
  visibleMs: null,
  verdictMs: null,
  ...(error ? { error } : {}),
});

describe('summarizeLatency', () => {
  it('gives medians, ranges and the ratio per run, a peer beyond the cap as a lower bound', () => {
    const rows = summarizeLatency([
      trial('modelship', 'tuned', 0, 4000),
      trial('modelship', 'tuned', 1, 2000),
      trial('modelship', 'tuned', 2, 6000),
      trial('argo-rollouts', 'tuned', 0, 8000),
      trial('argo-rollouts', 'tuned', 1, null),
      trial('argo-rollouts', 'tuned', 2, 12000),
    ]);
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    expect(r.peer).toBe('argo-rollouts');
    expect(r.modelship).toEqual({ n: 3, p50: 4000, min: 2000, max: 6000 });
    // 8000, 12000, beyond: the median is 12000; the maximum is beyond the cap.
    expect(r.other).toEqual({ n: 3, p50: 12000, min: 8000, max: null, overCap: 1 });
    expect(r.ratioOfMedians).toBe(3);
    expect(r.pairRatios).toEqual([
      { ratio: 2, lowerBound: false },
      { ratio: 50, lowerBound: true },
      { ratio: 2, lowerBound: false },
    ]);
  });

  it('has no ratio of medians when most of the peer is beyond the cap, and leaves out trials in error', () => {
    const rows = summarizeLatency([
      trial('modelship', 'defaults', 0, 20000),
      trial('modelship', 'defaults', 1, 30000, 'timed out'),
      trial('flagger', 'defaults', 0, null),
      trial('flagger', 'defaults', 1, null),
      trial('flagger', 'defaults', 2, 90000),
    ]);
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    expect(r.modelship).toEqual({ n: 1, p50: 20000, min: 20000, max: 20000 });
    expect(r.other.p50).toBeNull();
    expect(r.ratioOfMedians).toBeNull();
    // Only trial 0 has a modelship trial to pair with.
    expect(r.pairRatios).toEqual([{ ratio: 5, lowerBound: true }]);
  });
});
