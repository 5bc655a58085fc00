import { computeBackoffMs } from './backoff.js';

test('doubles from the base and stops at the cap', () => {
  const opts = { baseMs: 100, maxMs: 1000 };
  expect([0, 1, 2, 3, 4, 5, 60, 5000].map((n) => computeBackoffMs(n, opts))).toEqual([
    100, 200, 400, 800, 1000, 1000, 1000, 1000,
  ]);
});

test('jitter adds up to its fraction of the delay and never passes the cap', () => {
  expect(computeBackoffMs(0, { baseMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 })).toBe(100);
  expect(computeBackoffMs(0, { baseMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999 })).toBeCloseTo(
    149.95,
  );
  expect(computeBackoffMs(9, { baseMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999 })).toBe(1000);
});
