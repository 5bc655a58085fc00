import type { Clock } from './clock.js';
import { Fence, FencedError, isFenced } from './fence.js';

/**
 * A clock that moves only when told: advance() fires the timers that come due, jump() moves time
 * without firing any (a process that wakes up runs its I/O callbacks before its due timers).
 */
class FakeClock implements Clock {
  t = 0;
  private seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.seq, { at: this.t + Math.max(0, ms), fn });
    return this.seq;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
  jump(ms: number): void {
    this.t += ms;
  }
}

function setup() {
  const clock = new FakeClock();
  const fence = new Fence(clock);
  const closed: string[] = [];
  fence.onClose((r) => closed.push(r));
  return { clock, fence, closed };
}

test('before the first renewal nothing may be written', () => {
  const { fence, closed } = setup();
  expect(fence.state()).toBe('closed-never-opened');
  expect(fence.isOpen()).toBe(false);
  expect(() => fence.check('PATCH /x')).toThrow(
    new FencedError('PATCH /x: not sent: this process does not lead'),
  );
  // Not a loss: there was no leadership to lose.
  expect(closed).toEqual([]);
  expect(fence.signal.aborted).toBe(false);
});

test('open from the renewal until the renew deadline, then closed by its timer at that instant', () => {
  const { clock, fence, closed } = setup();
  fence.extend(0, 10_000);
  expect(fence.state()).toBe('open');
  clock.advance(9_999);
  expect(() => fence.check('PATCH /x')).not.toThrow();
  expect(closed).toEqual([]);
  clock.advance(1);
  expect(closed).toEqual([
    'the Lease was not renewed within the renew deadline (10.0 s): the last renewal that succeeded started 10.0 s ago',
  ]);
  expect(fence.state()).toBe('closed');
  expect(fence.signal.aborted).toBe(true);
  expect(isFenced(fence.signal.reason)).toBe(true);
  expect(() => fence.check('PATCH /x')).toThrow(/^PATCH \/x: not sent: the Lease was not renewed/);
});

test('each renewal moves the deadline to its own start plus the renew deadline; an older one never shortens it', () => {
  const { clock, fence, closed } = setup();
  fence.extend(0, 10_000);
  clock.advance(2_000);
  fence.extend(1_500, 10_000); // started at 1.5 s, answered at 2 s: valid until 11.5 s
  fence.extend(500, 10_000); // a late answer to an older round
  expect(fence.deadline()).toBe(11_500);
  clock.advance(9_499);
  expect(fence.isOpen()).toBe(true);
  clock.advance(1);
  expect(closed).toHaveLength(1);
  expect(clock.timers.size).toBe(0);
});

test('a process that wakes after its deadline is fenced by the first check, before its timer runs', () => {
  const { clock, fence, closed } = setup();
  fence.extend(0, 10_000);
  clock.jump(25_000); // frozen for 25 s; the timer is due but has not run
  expect(() => fence.check('PUT /lease')).toThrow(FencedError);
  expect(closed).toEqual([expect.stringContaining('started 25.0 s ago')]);
  expect(fence.signal.aborted).toBe(true);
});

test('a closed fence stays closed: leadership lost is lost for good', () => {
  const { clock, fence, closed } = setup();
  fence.extend(0, 10_000);
  fence.close('the Lease is held by b now');
  fence.extend(clock.now(), 10_000);
  expect(fence.isOpen()).toBe(false);
  fence.close('again');
  expect(closed).toEqual(['the Lease is held by b now']);
  const late: string[] = [];
  fence.onClose((r) => late.push(r));
  expect(late).toEqual(['the Lease is held by b now']);
});

test('a renewal answered after its whole deadline does not open the fence', () => {
  const { clock, fence } = setup();
  clock.jump(12_000);
  fence.extend(0, 10_000);
  expect(fence.state()).toBe('closed-never-opened');
  expect(clock.timers.size).toBe(0);
});
