import { NOTIFICATION_TYPES } from './cloudevents.js';
import { parseNotifyConfig, sinkWants, SINK_DEFAULTS } from './config.js';

test('a minimal sink gets every type and the defaults', () => {
  expect(parseNotifyConfig({ sinks: [{ name: 'ops', url: 'https://hooks.example.com/x' }] })).toEqual([
    { name: 'ops', url: 'https://hooks.example.com/x', types: [...NOTIFICATION_TYPES], ...SINK_DEFAULTS },
  ]);
  expect(parseNotifyConfig(null)).toEqual([]);
  expect(parseNotifyConfig({})).toEqual([]);
});

test('every field', () => {
  const [s] = parseNotifyConfig({
    sinks: [
      {
        name: 'ops',
        url: 'http://127.0.0.1:9000/',
        keyFile: '/etc/modelship/notify/ops.key',
        types: ['io.modelship.rollout.rolledback'],
        namespaces: ['ml'],
        timeout: '2s',
        maxAttempts: 3,
        backoff: '100ms',
        maxBackoff: '1s',
        queueSize: 8,
      },
    ],
  });
  expect(s).toMatchObject({
    keyFile: '/etc/modelship/notify/ops.key',
    timeoutMs: 2000,
    maxAttempts: 3,
    backoffMs: 100,
    maxBackoffMs: 1000,
    queueSize: 8,
  });
  expect(sinkWants(s!, 'io.modelship.rollout.rolledback', 'ml')).toBe(true);
  expect(sinkWants(s!, 'io.modelship.rollout.rolledback', 'other')).toBe(false);
  expect(sinkWants(s!, 'io.modelship.rollout.promoted', 'ml')).toBe(false);
});

test.each<[unknown, RegExp]>([
  [[], /mapping/],
  [{ sinks: {} }, /sinks must be a list/],
  [{ sinks: [{ url: 'http://x' }] }, /sinks\[0\]\.name/],
  [{ sinks: [{ name: 'Ops', url: 'http://x' }] }, /lower-case/],
  [
    {
      sinks: [
        { name: 'a', url: 'http://x' },
        { name: 'a', url: 'http://y' },
      ],
    },
    /used twice/,
  ],
  [{ sinks: [{ name: 'a', url: 'not a url' }] }, /not a URL/],
  [{ sinks: [{ name: 'a', url: 'file:///etc/passwd' }] }, /only http and https/],
  [{ sinks: [{ name: 'a', url: 'http://x', types: ['io.modelship.rollout.nope'] }] }, /unknown type/],
  [{ sinks: [{ name: 'a', url: 'http://x', timeout: '5' }] }, /not a duration/],
  [{ sinks: [{ name: 'a', url: 'http://x', timeout: '0s' }] }, /more than 0/],
  [{ sinks: [{ name: 'a', url: 'http://x', timeout: '6m' }] }, /at most 5m/],
  [{ sinks: [{ name: 'a', url: 'http://x', maxAttempts: 0 }] }, /at least 1/],
  [{ sinks: [{ name: 'a', url: 'http://x', queueSize: 1.5 }] }, /integer/],
])('refuses %j', (doc, err) => {
  expect(() => parseNotifyConfig(doc)).toThrow(err);
});
