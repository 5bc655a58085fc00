import type { KubernetesObject } from '@kubernetes/client-node';
import { EventRecorder, type EventSink } from './events.js';

const md: KubernetesObject = { kind: 'ModelDeployment', metadata: { namespace: 'ns', name: 'm' } };

/** A sink whose writes finish only when the test says so. */
function heldSink() {
  const calls: Array<{ reason: string; finish: (err?: Error) => void }> = [];
  const sink: EventSink = {
    event: (_about, _type, reason) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ reason, finish: (err) => (err ? reject(err) : resolve()) });
      }),
  };
  return { sink, calls };
}

test('record returns before the write ends; drain waits for every write in flight', async () => {
  const { sink, calls } = heldSink();
  const rec = new EventRecorder(sink);
  rec.record(md, 'Normal', 'A', 'a');
  rec.record(md, 'Warning', 'B', 'b');
  expect(calls.map((c) => c.reason)).toEqual(['A', 'B']);
  expect(rec.pending()).toBe(2);
  let drained = false;
  const d = rec.drain().then(() => (drained = true));
  calls[0]!.finish();
  await new Promise((r) => setImmediate(r));
  expect(drained).toBe(false);
  calls[1]!.finish();
  await d;
  expect(rec.pending()).toBe(0);
  expect(rec.lost()).toBe(0);
});

test('a failed write is reported and counted, not thrown', async () => {
  const { sink, calls } = heldSink();
  const lost: unknown[] = [];
  const rec = new EventRecorder(sink, { onLost: (i) => lost.push(i) });
  rec.record(md, 'Warning', 'RolledBack', 'x');
  calls[0]!.finish(new Error('403 forbidden'));
  await rec.drain();
  expect(lost).toEqual([{ reason: 'RolledBack', key: 'ns/m', why: 'failed', error: '403 forbidden' }]);
  expect(rec.lost()).toBe(1);
});

test('beyond maxInFlight new Events are dropped, counted, and the cap frees up as writes end', async () => {
  const { sink, calls } = heldSink();
  const lost: Array<{ why: string }> = [];
  const rec = new EventRecorder(sink, { maxInFlight: 2, onLost: (i) => lost.push(i) });
  for (const r of ['A', 'B', 'C']) rec.record(md, 'Normal', r, r);
  expect(calls.map((c) => c.reason)).toEqual(['A', 'B']);
  expect(lost).toEqual([{ reason: 'C', key: 'ns/m', why: 'dropped' }]);
  calls[0]!.finish();
  await new Promise((r) => setImmediate(r));
  rec.record(md, 'Normal', 'D', 'd');
  expect(calls.map((c) => c.reason)).toEqual(['A', 'B', 'D']);
  for (const c of calls.slice(1)) c.finish();
  await rec.drain();
  expect(rec.lost()).toBe(1);
});
