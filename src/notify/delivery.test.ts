import { BoundedQueue, delivered, retryable, retryDelayMs } from './delivery.js';

test('what is retried: no answer, 408, 429, 5xx; not other statuses', () => {
  expect(retryable({ error: 'ECONNREFUSED' })).toBe(true);
  for (const status of [408, 429, 500, 502, 503]) expect(retryable({ status })).toBe(true);
  for (const status of [400, 401, 403, 404, 410, 413]) expect(retryable({ status })).toBe(false);
  expect(delivered({ status: 204 })).toBe(true);
  expect(delivered({ status: 302 })).toBe(false);
  expect(delivered({ error: 'x' })).toBe(false);
});

test('the back-off schedule doubles from the base up to the cap; jitter adds at most 20%', () => {
  const sink = { backoffMs: 1000, maxBackoffMs: 30_000 };
  expect([0, 1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(sink, n, () => 0))).toEqual([
    1000, 2000, 4000, 8000, 16000, 30000, 30000,
  ]);
  expect(retryDelayMs(sink, 0, () => 0.999)).toBeCloseTo(1199.8);
  expect(retryDelayMs(sink, 10, () => 0.999)).toBe(30000);
});

test('a full queue drops its oldest item and keeps its bound', () => {
  const q = new BoundedQueue<number>(3);
  expect([1, 2, 3].map((n) => q.push(n))).toEqual([undefined, undefined, undefined]);
  expect(q.push(4)).toBe(1);
  expect(q.push(5)).toBe(2);
  expect(q.length).toBe(3);
  expect(q.shift()).toBe(3);
  expect(q.clear()).toEqual([4, 5]);
  expect(q.length).toBe(0);
  expect(() => new BoundedQueue(0)).toThrow();
});
