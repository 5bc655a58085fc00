import { Metrics } from '../metrics.js';

test('delivery outcomes are counted per sink, type and result; retries and latency per sink', async () => {
  const m = new Metrics();
  const o = m.notifyObserver();
  o.delivered!('ops', 'io.modelship.rollout.promoted', 0.02);
  o.retried!('ops', 'io.modelship.rollout.rolledback', { status: 500 });
  o.failed!('ops', 'io.modelship.rollout.rolledback', { status: 500 }, 5);
  o.dropped!('ops', 'io.modelship.rollout.step', 'queue-full');
  const text = await m.registry.metrics();
  const line = (prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));
  expect(
    line('modelship_notifications_total{sink="ops",type="io.modelship.rollout.promoted",result="delivered"}'),
  ).toMatch(/ 1$/);
  expect(
    line('modelship_notifications_total{sink="ops",type="io.modelship.rollout.rolledback",result="failed"}'),
  ).toMatch(/ 1$/);
  expect(
    line('modelship_notifications_total{sink="ops",type="io.modelship.rollout.step",result="dropped"}'),
  ).toMatch(/ 1$/);
  expect(
    line('modelship_notification_retries_total{sink="ops",type="io.modelship.rollout.rolledback"}'),
  ).toMatch(/ 1$/);
  expect(line('modelship_notification_delivery_seconds_count{sink="ops"}')).toMatch(/ 1$/);
  expect(line('modelship_notification_delivery_seconds_bucket{le="0.025",sink="ops"}')).toMatch(/ 1$/);
});
