import type { Clock } from './clock.js';
import { WorkQueue, type ReconcileHandler, type ReconcileResult, type RunResult } from './workqueue.js';

/**
 * A clock that moves only when told. advance() fires due timers in time order, and lets the queue's
 * microtasks and the handlers' awaits settle after each one, so a test sees exactly what happens at
 * each instant whatever the speed of the machine.
 */
class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  pending(): number {
    return this.timers.size;
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets every pending microtask and a few macrotask turns run (no wall-clock wait). */
async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A handler whose runs stay open until the test releases them, recording what ran and when. */
function gatedHandler(clock?: FakeClock) {
  const runs: string[] = [];
  const startedAt: number[] = [];
  const gates: Array<{ key: string; release: () => void }> = [];
  let active = 0;
  let maxActive = 0;
  const handler: ReconcileHandler = async (key) => {
    runs.push(key);
    startedAt.push(clock?.now() ?? 0);
    active++;
    maxActive = Math.max(maxActive, active);
    const gate = deferred();
    gates.push({ key, release: gate.resolve });
    await gate.promise;
    active--;
  };
  const release = async (key: string): Promise<void> => {
    const i = gates.findIndex((g) => g.key === key);
    if (i < 0) throw new Error(`no run of ${key} is waiting; running: ${gates.map((g) => g.key).join(',')}`);
    gates.splice(i, 1)[0]!.release();
    await settle();
  };
  return {
    handler,
    runs,
    startedAt,
    release,
    active: () => active,
    maxActive: () => maxActive,
    open: () => gates.map((g) => g.key),
  };
}

const quiet = { onError: () => {} };

describe('de-duplication', () => {
  test('a key already waiting is not queued twice', async () => {
    const q = new WorkQueue(quiet);
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    q.add('ns/a');
    expect(q.len()).toBe(2);
    const h = gatedHandler();
    q.run(h.handler, { concurrency: 1 });
    await settle();
    await h.release('ns/a');
    await h.release('ns/b');
    expect(h.runs).toEqual(['ns/a', 'ns/b']);
    expect(q.len()).toBe(0);
  });

  test('a key added many times while it runs runs exactly once more afterwards', async () => {
    const q = new WorkQueue(quiet);
    const h = gatedHandler();
    q.run(h.handler);
    q.add('ns/a');
    await settle();
    expect(h.open()).toEqual(['ns/a']);
    for (let i = 0; i < 50; i++) q.add('ns/a');
    // Not waiting in the queue (it is dirty, held back until the current run ends) ...
    expect(q.len()).toBe(0);
    await settle();
    // ... and not started a second time alongside the first.
    expect(h.runs).toEqual(['ns/a']);
    await h.release('ns/a');
    expect(h.runs).toEqual(['ns/a', 'ns/a']);
    await h.release('ns/a');
    await settle();
    expect(h.runs).toEqual(['ns/a', 'ns/a']);
    expect(h.maxActive()).toBe(1);
  });

  test('no key ever runs twice at once under a storm of adds, and no add is lost', async () => {
    // A deterministic pseudo-random storm: adds of five keys interleaved with handlers that take a
    // varying number of event-loop turns to finish.
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keys = ['ns/a', 'ns/b', 'ns/c', 'ns/d', 'ns/e'];
    const running = new Set<string>();
    let overlaps = 0;
    let tick = 0;
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let active = 0;
    const q = new WorkQueue(quiet);
    q.run(
      async (key) => {
        if (running.has(key)) overlaps++;
        running.add(key);
        active++;
        lastStart.set(key, ++tick);
        const turns = rand(4);
        for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
        running.delete(key);
        active--;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 2000; i++) {
      const key = keys[rand(keys.length)]!;
      q.add(key);
      lastAdd.set(key, ++tick);
      if (rand(5) === 0) await new Promise<void>((r) => setImmediate(r));
    }
    while (q.len() > 0 || active > 0) await settle(1);
    expect(overlaps).toBe(0);
    // Level-triggered guarantee: every key ran after the last time it was added.
    for (const key of keys) expect(lastStart.get(key)).toBeGreaterThan(lastAdd.get(key)!);
  });
});

describe('parallelism', () => {
  test('different keys run in parallel up to the bound and not beyond', async () => {
    const q = new WorkQueue(quiet);
    const h = gatedHandler();
    for (let i = 0; i < 10; i++) q.add(`ns/k${i}`);
    q.run(h.handler, { concurrency: 3 });
    await settle();
    expect(h.open()).toEqual(['ns/k0', 'ns/k1', 'ns/k2']);
    expect(q.len()).toBe(7);
    await h.release('ns/k1');
    expect(h.open()).toEqual(['ns/k0', 'ns/k2', 'ns/k3']);
    for (let i = 0; i < 10; i++) if (h.open().includes(`ns/k${i}`)) await h.release(`ns/k${i}`);
    while (h.open().length > 0) await h.release(h.open()[0]!);
    expect(h.runs).toHaveLength(10);
    expect(h.maxActive()).toBe(3);
  });

  test('the default bound is 4', async () => {
    const q = new WorkQueue(quiet);
    const h = gatedHandler();
    for (let i = 0; i < 6; i++) q.add(`ns/k${i}`);
    q.run(h.handler);
    await settle();
    expect(h.active()).toBe(4);
    expect(q.len()).toBe(2);
  });

  test('run() refuses a second call and a bound that is not a positive integer', () => {
    const q = new WorkQueue(quiet);
    expect(() => q.run(async () => {}, { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => q.run(async () => {}, { concurrency: 1.5 })).toThrow(/concurrency/);
    q.run(async () => {});
    expect(() => q.run(async () => {})).toThrow(/already/);
  });
});

describe('FIFO order', () => {
  test('keys are taken in the order they were added; a key re-added while running goes to the back', async () => {
    const q = new WorkQueue(quiet);
    const h = gatedHandler();
    q.run(h.handler, { concurrency: 1 });
    q.add('ns/a');
    await settle();
    q.add('ns/b');
    q.add('ns/c');
    q.add('ns/a'); // running: dirty, queued again only when its run ends
    q.add('ns/d');
    q.add('ns/b'); // already waiting: keeps its place
    for (let i = 0; i < 5; i++) await h.release(h.open()[0]!);
    expect(h.runs).toEqual(['ns/a', 'ns/b', 'ns/c', 'ns/d', 'ns/a']);
  });

  test('a key that keeps requeueing itself at once does not starve the others', async () => {
    const q = new WorkQueue(quiet);
    const runs: string[] = [];
    q.run(
      async (key): Promise<ReconcileResult> => {
        runs.push(key);
        return key === 'ns/hot' ? { requeueAfterMs: 0 } : undefined;
      },
      { concurrency: 1 },
    );
    q.add('ns/hot');
    q.add('ns/a');
    q.add('ns/b');
    await settle(4);
    // The event loop still turns (this await returned) and the key that came later gets its turn.
    q.add('ns/c');
    await settle(4);
    await q.shutdown();
    expect(runs.slice(0, 5)).toEqual(['ns/hot', 'ns/a', 'ns/b', 'ns/hot', 'ns/hot']);
    const c = runs.indexOf('ns/c');
    expect(c).toBeGreaterThan(0);
    expect(runs.slice(c - 1, c + 2)).toEqual(['ns/hot', 'ns/c', 'ns/hot']);
  });
});

/**
 * A queue with one worker on a fake clock, already running `ns/o0` (a high key), so the keys a test
 * adds next wait; `runEach(n, ms)` lets n runs take `ms` each, `at(key)` is when a key started.
 */
async function oneBusyWorker(lowEveryMs: number) {
  const clock = new FakeClock();
  const q = new WorkQueue({ ...quiet, clock, lowEveryMs });
  const h = gatedHandler(clock);
  q.run(h.handler, { concurrency: 1 });
  q.add('ns/o0');
  await settle();
  const runEach = async (n: number, ms: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await clock.advance(ms);
      await h.release(h.open()[0]!);
    }
  };
  const at = (k: string) => h.startedAt[h.runs.indexOf(k)];
  return { q, h, runEach, at };
}

describe('lanes: high before low before background', () => {
  test('keys of the high lane are taken before low ones, each lane in FIFO order', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    const h = gatedHandler(clock);
    q.run(h.handler, { concurrency: 1 });
    q.add('ns/n1', 'low');
    await settle();
    q.add('ns/n2', 'low');
    q.add('ns/n3', 'low');
    q.add('ns/o1'); // the default lane is high
    q.add('ns/o2', 'high');
    expect([q.len('low'), q.len('high'), q.len()]).toEqual([2, 2, 4]);
    for (let i = 0; i < 5; i++) await h.release(h.open()[0]!);
    expect(h.runs).toEqual(['ns/n1', 'ns/o1', 'ns/o2', 'ns/n2', 'ns/n3']);
  });

  test('a low key waits at most lowEveryMs while high keys keep every worker busy', async () => {
    const { q, h, runEach, at } = await oneBusyWorker(1000);
    q.add('ns/n1', 'low');
    q.add('ns/n2', 'low');
    for (let i = 1; i <= 8; i++) q.add(`ns/o${i}`);
    // Each run takes 300 ms: low keys are due at 1000 ms and 2000 ms after the last one taken.
    await runEach(11, 300);
    expect(h.runs.slice(0, 6)).toEqual(['ns/o0', 'ns/o1', 'ns/o2', 'ns/o3', 'ns/n1', 'ns/o4']);
    expect(at('ns/n1')).toBe(1200);
    expect(at('ns/n2')).toBe(2400);
    expect(h.runs.filter((k) => k.startsWith('ns/o'))).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => `ns/o${i}`),
    );
  });

  test('lowEveryMs 0 makes the lanes alternate while both have keys', async () => {
    const q = new WorkQueue({ ...quiet, lowEveryMs: 0, clock: new FakeClock() });
    const h = gatedHandler();
    q.run(h.handler, { concurrency: 1 });
    q.add('ns/o0');
    await settle();
    q.add('ns/n1', 'low');
    q.add('ns/n2', 'low');
    q.add('ns/o1');
    q.add('ns/o2');
    for (let i = 0; i < 5; i++) await h.release(h.open()[0]!);
    // n1 is due at once (none taken since the start), then whichever lane was not served last.
    expect(h.runs).toEqual(['ns/o0', 'ns/n1', 'ns/n2', 'ns/o1', 'ns/o2']);
    expect(() => new WorkQueue({ lowEveryMs: -1 })).toThrow(RangeError);
  });

  test('a high add moves a key waiting in low, keeping its wait; a low add never moves a key; no key runs twice', async () => {
    const clock = new FakeClock();
    const waited: Record<string, number> = {};
    const q = new WorkQueue({
      ...quiet,
      clock,
      observer: { onStart: (key, ms) => (waited[key] = ms) },
    });
    const h = gatedHandler(clock);
    q.run(h.handler, { concurrency: 1 });
    q.add('ns/busy');
    await settle();
    q.add('ns/a', 'low');
    q.add('ns/b', 'low');
    q.add('ns/c');
    await clock.advance(100);
    q.add('ns/b'); // moves to the back of high
    q.add('ns/c', 'low'); // stays in high
    expect([q.len('low'), q.len('high'), q.len()]).toEqual([1, 2, 3]);
    for (let i = 0; i < 4; i++) await h.release(h.open()[0]!);
    await settle();
    expect(h.runs).toEqual(['ns/busy', 'ns/c', 'ns/b', 'ns/a']);
    expect(h.open()).toEqual([]);
    expect(waited['ns/b']).toBe(100);
    expect(q.len()).toBe(0);
  });

  test('a key added while it runs is queued again in the most urgent lane of those adds', async () => {
    const q = new WorkQueue({ ...quiet, clock: new FakeClock() });
    const h = gatedHandler();
    q.run(h.handler, { concurrency: 1 });
    q.add('ns/a', 'low');
    await settle();
    q.add('ns/n', 'low');
    q.add('ns/a', 'low');
    q.add('ns/a'); // high wins
    q.add('ns/a', 'low');
    await h.release('ns/a');
    expect(h.runs).toEqual(['ns/a', 'ns/a']);
    expect(q.len('low')).toBe(1);
    await h.release('ns/a');
    expect(h.runs).toEqual(['ns/a', 'ns/a', 'ns/n']);
  });

  test('background keys wait until high and low are empty; a more urgent add moves one, a background add moves none', async () => {
    const q = new WorkQueue({ ...quiet, clock: new FakeClock() });
    const h = gatedHandler();
    q.run(h.handler, { concurrency: 1 });
    q.add('ns/busy');
    await settle();
    q.add('ns/r1', 'background');
    q.add('ns/r2', 'background');
    q.add('ns/r3', 'background');
    q.add('ns/n1', 'low');
    q.add('ns/o1');
    q.add('ns/r2', 'low'); // moves to the back of low
    q.add('ns/n1', 'background'); // stays in low
    q.add('ns/o1', 'background'); // stays in high
    expect([q.len('high'), q.len('low'), q.len('background'), q.len()]).toEqual([1, 2, 2, 5]);
    for (let i = 0; i < 6; i++) await h.release(h.open()[0]!);
    expect(h.runs).toEqual(['ns/busy', 'ns/o1', 'ns/n1', 'ns/r2', 'ns/r1', 'ns/r3']);
    expect(q.len()).toBe(0);
  });

  test('a background key waits at most lowEveryMs while high and low keys keep every worker busy', async () => {
    const { q, h, runEach, at } = await oneBusyWorker(1000);
    q.add('ns/r1', 'background');
    for (let i = 1; i <= 3; i++) q.add(`ns/n${i}`, 'low');
    for (let i = 1; i <= 6; i++) q.add(`ns/o${i}`);
    // Each run takes 400 ms. At 400 both lanes below high have waited less than 1000 ms; at 1200
    // both are due and the least urgent goes first, then low at the next take.
    await runEach(10, 400);
    expect(h.runs.slice(0, 6)).toEqual(['ns/o0', 'ns/o1', 'ns/o2', 'ns/r1', 'ns/n1', 'ns/o3']);
    expect(at('ns/r1')).toBe(1200);
    expect(at('ns/n1')).toBe(1600);
    // Nothing is left behind in any lane.
    expect([...h.runs].sort()).toEqual([
      'ns/n1',
      'ns/n2',
      'ns/n3',
      'ns/o0',
      'ns/o1',
      'ns/o2',
      'ns/o3',
      'ns/o4',
      'ns/o5',
      'ns/o6',
      'ns/r1',
    ]);
  });

  test('a requeue and a retry come back in the high lane, ahead of low keys', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock, backoff: { baseMs: 100 } });
    const runs: string[] = [];
    let failOnce = true;
    q.run(
      async (key): Promise<ReconcileResult> => {
        runs.push(key);
        if (key === 'ns/retry' && failOnce) {
          failOnce = false;
          throw new Error('boom');
        }
        if (key === 'ns/poll' && runs.filter((k) => k === key).length === 1) return { requeueAfterMs: 50 };
        // Every other run holds the worker until the test advances the clock.
        await new Promise<void>((r) => clock.setTimeout(r, 200));
        return undefined;
      },
      { concurrency: 1 },
    );
    q.add('ns/poll');
    q.add('ns/retry');
    await settle();
    for (let i = 0; i < 5; i++) q.add(`ns/n${i}`, 'low');
    await settle();
    await clock.advance(400);
    // poll (requeue 50 ms) and retry (back-off 100 ms) run before any low key after the first.
    expect(runs.slice(0, 4)).toEqual(['ns/poll', 'ns/retry', 'ns/n0', 'ns/poll']);
    await clock.advance(2000);
    expect(runs.slice(4, 6)).toEqual(['ns/retry', 'ns/n1']);
    await q.shutdown();
    expect(q.len()).toBe(0);
  });
});

describe('back-off', () => {
  test('failures back off exponentially per key up to the cap; onError gets the key', async () => {
    const clock = new FakeClock();
    const errors: Array<[string, string]> = [];
    const q = new WorkQueue({
      clock,
      backoff: { baseMs: 100, maxMs: 1000 },
      onError: (key, err) => errors.push([key, (err as Error).message]),
    });
    const starts: number[] = [];
    q.run(async (key) => {
      starts.push(clock.now());
      throw new Error(`boom ${key}`);
    });
    q.add('ns/a');
    await settle();
    await clock.advance(6000);
    // 0, +100, +200, +400, +800, then capped at +1000.
    expect(starts).toEqual([0, 100, 300, 700, 1500, 2500, 3500, 4500, 5500]);
    expect(q.retries('ns/a')).toBe(9);
    expect(errors[0]).toEqual(['ns/a', 'boom ns/a']);
    expect(errors).toHaveLength(9);
  });

  test('back-off is per key: one failing key does not delay another', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock, backoff: { baseMs: 100, maxMs: 10_000 } });
    const starts: Array<[string, number]> = [];
    q.run(async (key) => {
      starts.push([key, clock.now()]);
      if (key === 'ns/bad') throw new Error('bad');
    });
    q.add('ns/bad');
    await settle();
    await clock.advance(300);
    q.add('ns/good');
    await settle();
    expect(starts).toEqual([
      ['ns/bad', 0],
      ['ns/bad', 100],
      ['ns/bad', 300],
      ['ns/good', 300],
    ]);
    expect(q.retries('ns/good')).toBe(0);
  });

  test('success resets the back-off, and forget() resets it from outside', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock, backoff: { baseMs: 100, maxMs: 10_000 } });
    let failing = true;
    const starts: number[] = [];
    q.run(async () => {
      starts.push(clock.now());
      if (failing) throw new Error('x');
    });
    q.add('ns/a');
    await settle();
    await clock.advance(300); // runs at 0, 100, 300; next retry due at 700
    expect(q.retries('ns/a')).toBe(3);
    failing = false;
    await clock.advance(400);
    expect(starts).toEqual([0, 100, 300, 700]);
    expect(q.retries('ns/a')).toBe(0);

    failing = true;
    q.add('ns/a'); // fails at 700, retries at 800, 1000; next due at 1400
    await settle();
    await clock.advance(300);
    expect(starts.slice(4)).toEqual([700, 800, 1000]);
    q.forget('ns/a');
    expect(q.retries('ns/a')).toBe(0);
    await clock.advance(500); // the pending retry at 1400 fails; back-off restarts at 100
    expect(starts.slice(7)).toEqual([1400, 1500]);
  });

  test('jitter, when asked for, lengthens each delay by up to the given fraction', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({
      ...quiet,
      clock,
      backoff: { baseMs: 100, maxMs: 10_000, jitter: 0.5, random: () => 0.5 },
    });
    q.addRateLimited('ns/a'); // 100 + 25%
    await clock.advance(124);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
  });
});

describe('delays', () => {
  test('addAfter keeps the earliest of several delays and adds the key once', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    const starts: number[] = [];
    q.addAfter('ns/a', 500);
    q.addAfter('ns/a', 200);
    q.addAfter('ns/a', 800);
    await clock.advance(199);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    q.run(async () => void starts.push(clock.now()));
    await settle();
    await clock.advance(2000);
    expect(starts).toEqual([200]);
    expect(clock.pending()).toBe(0);
  });

  test('a delay of zero or less adds at once', () => {
    const q = new WorkQueue(quiet);
    q.addAfter('ns/a', 0);
    q.addAfter('ns/b', -5);
    expect(q.len()).toBe(2);
  });

  test('requeueAfterMs runs the key again after that pause, and only then', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    const starts: number[] = [];
    q.run(async () => {
      starts.push(clock.now());
      return starts.length < 3 ? { requeueAfterMs: 1000 } : undefined;
    });
    q.add('ns/a');
    await settle();
    await clock.advance(999);
    expect(starts).toEqual([0]);
    await clock.advance(5000);
    expect(starts).toEqual([0, 1000, 2000]);
  });

  test('a requeue after a failure counts as success for the back-off', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    let n = 0;
    q.run(async () => {
      if (n++ === 0) throw new Error('first');
      return { requeueAfterMs: 60_000 };
    });
    q.add('ns/a');
    await settle();
    expect(q.retries('ns/a')).toBe(1);
    await clock.advance(100);
    expect(n).toBe(2);
    expect(q.retries('ns/a')).toBe(0);
  });
});

describe('shutdown', () => {
  test('drains in-flight handlers, drops waiting keys, cancels delays and ignores later adds', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    const h = gatedHandler(clock);
    q.run(h.handler, { concurrency: 2 });
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/c');
    q.addAfter('ns/d', 100);
    q.addRateLimited('ns/e');
    await settle();
    expect(h.open()).toEqual(['ns/a', 'ns/b']);
    q.add('ns/a'); // dirty while running: would run again, but shutdown comes first

    let resolved = false;
    const done = q.shutdown().then(() => (resolved = true));
    q.add('ns/f');
    q.addAfter('ns/g', 10);
    q.addRateLimited('ns/h');
    expect(q.len()).toBe(0);
    expect(clock.pending()).toBe(0);

    await h.release('ns/a');
    expect(resolved).toBe(false);
    await h.release('ns/b');
    await done;
    expect(resolved).toBe(true);
    await clock.advance(10_000);
    expect(h.runs).toEqual(['ns/a', 'ns/b']);
    expect(q.len()).toBe(0);
  });

  test('resolves at once when nothing runs, and every call returns the same drain', async () => {
    const q = new WorkQueue(quiet);
    q.add('ns/a');
    await q.shutdown();
    await q.shutdown();
    expect(q.len()).toBe(0);
  });

  test('a handler that throws during shutdown is not retried', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    const gate = deferred();
    let runs = 0;
    q.run(async () => {
      runs++;
      await gate.promise;
      throw new Error('late failure');
    });
    q.add('ns/a');
    await settle();
    const done = q.shutdown();
    gate.resolve();
    await done;
    await clock.advance(60_000);
    expect(runs).toBe(1);
    expect(clock.pending()).toBe(0);
  });
});

describe('errors and observer', () => {
  test('a handler that throws synchronously is retried like one that rejects', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const q = new WorkQueue({ clock, onError: (key) => seen.push(key) });
    const handler = ((key: string) => {
      throw new Error(`sync ${key}`);
    }) as unknown as ReconcileHandler;
    q.run(handler);
    q.add('ns/a');
    await settle();
    expect(seen).toEqual(['ns/a']);
    expect(q.retries('ns/a')).toBe(1);
  });

  test('reports adds, depth, wait, duration, results and retries; a throwing observer is harmless', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const depths: number[] = [];
    const q = new WorkQueue({
      ...quiet,
      clock,
      backoff: { baseMs: 100, maxMs: 1000 },
      observer: {
        onAdd: (key) => log.push(`add ${key}`),
        onDepth: (n) => {
          depths.push(n);
          throw new Error('observer bug');
        },
        onStart: (key, waited) => log.push(`start ${key} waited=${waited}`),
        onDone: (key, ms, result: RunResult) => log.push(`done ${key} ${ms}ms ${result}`),
        onRetry: (key) => log.push(`retry ${key}`),
      },
    });
    q.add('ns/a');
    q.add('ns/a');
    await clock.advance(50);
    let n = 0;
    q.run(async () => {
      n++;
      if (n === 1) {
        await new Promise<void>((r) => clock.setTimeout(r, 30));
        throw new Error('x');
      }
      if (n === 2) return { requeueAfterMs: 10 };
    });
    await settle();
    await clock.advance(1000);
    expect(log).toEqual([
      'add ns/a',
      'start ns/a waited=50',
      'done ns/a 30ms error',
      'retry ns/a',
      'add ns/a',
      'start ns/a waited=0',
      'done ns/a 0ms requeue',
      'add ns/a',
      'start ns/a waited=0',
      'done ns/a 0ms success',
    ]);
    expect(depths.at(-1)).toBe(0);
    expect(Math.max(...depths)).toBe(1);
  });
});

describe('progress (the /healthz signal)', () => {
  test('keys queued before run() (a standby) are not a stall: inactive, and the clock starts at run()', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    q.add('ns/a');
    await clock.advance(600_000);
    expect(q.progress()).toEqual({
      active: false,
      waiting: 1,
      processing: 0,
      lastProgressAt: 0,
      oldestStartedAt: undefined,
    });
    const h = gatedHandler(clock);
    q.run(h.handler, { concurrency: 1 });
    expect(q.progress()).toMatchObject({ active: true, lastProgressAt: 600_000 });
    await settle();
    expect(q.progress()).toMatchObject({ waiting: 0, processing: 1, oldestStartedAt: 600_000 });
  });

  test('taking and finishing keys is progress; a hung run keeps its start; an idle queue that gets work restarts the clock', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ ...quiet, clock });
    const h = gatedHandler(clock);
    q.run(h.handler, { concurrency: 2 });
    q.add('ns/a');
    await settle();
    await clock.advance(1000);
    q.add('ns/b');
    await settle();
    expect(q.progress()).toMatchObject({ processing: 2, lastProgressAt: 1000, oldestStartedAt: 0 });
    await clock.advance(5000);
    await h.release('ns/b');
    // ns/a still hangs: its start is what /healthz sees; ns/b finishing was progress.
    expect(q.progress()).toMatchObject({ processing: 1, lastProgressAt: 6000, oldestStartedAt: 0 });
    await h.release('ns/a');
    expect(q.progress()).toMatchObject({
      waiting: 0,
      processing: 0,
      lastProgressAt: 6000,
      oldestStartedAt: undefined,
    });
    await clock.advance(3_600_000);
    q.add('ns/c');
    expect(q.progress().lastProgressAt).toBe(3_606_000);
    await settle();
    await h.release('ns/c');
  });

  test('a queue shut down is no longer active', async () => {
    const q = new WorkQueue(quiet);
    q.run(async () => undefined);
    expect(q.progress().active).toBe(true);
    await q.shutdown();
    expect(q.progress().active).toBe(false);
  });
});
