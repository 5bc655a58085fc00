import { computeHealth, type HealthInput } from './health.js';
import type { QueueProgress } from './workqueue.js';

const MIN = 60_000;
const queue = (p: Partial<QueueProgress & { name: string }> = {}): QueueProgress & { name: string } => ({
  name: 'modeldeployment',
  active: true,
  waiting: 0,
  processing: 0,
  lastProgressAt: 0,
  oldestStartedAt: undefined,
  ...p,
});
const at = (now: number, queues: HealthInput['queues'], leader?: HealthInput['leader']): HealthInput => ({
  now,
  queues,
  stallAfterMs: 3 * MIN,
  ...(leader ? { leader } : {}),
});

test.each<[string, HealthInput, string[]]>([
  ['an idle queue, however long', at(60 * MIN, [queue()]), []],
  [
    'a busy queue that moves',
    at(60 * MIN, [
      queue({
        waiting: 500,
        processing: 4,
        lastProgressAt: 60 * MIN - 1000,
        oldestStartedAt: 60 * MIN - 2000,
      }),
    ]),
    [],
  ],
  [
    "a standby's queue: keys waiting, no workers",
    at(60 * MIN, [queue({ active: false, waiting: 12, lastProgressAt: 0 })]),
    [],
  ],
  ['work waiting right at the limit', at(3 * MIN, [queue({ waiting: 3 })]), []],
  [
    'work waiting and nothing taken or finished past the limit',
    at(3 * MIN + 1000, [queue({ waiting: 3, processing: 4, oldestStartedAt: 0 })]),
    [
      'queue modeldeployment: 3 waiting and 4 in flight, and no reconcile started or finished for 181 s (limit 180 s)',
    ],
  ],
  [
    'one reconcile hung while the others move',
    at(10 * MIN, [queue({ processing: 4, lastProgressAt: 10 * MIN - 500, oldestStartedAt: 6 * MIN })]),
    ['queue modeldeployment: a reconcile has run for 240 s (limit 180 s)'],
  ],
  [
    'a stuck queue beside a healthy one',
    at(10 * MIN, [queue({ name: 'modelversion', waiting: 1, lastProgressAt: 0 }), queue()]),
    [
      'queue modelversion: 1 waiting and 0 in flight, and no reconcile started or finished for 600 s (limit 180 s)',
    ],
  ],
  ['a leader within its renew deadline', at(5000, [queue()], { state: 'open', deadline: 9000 }), []],
  [
    'a leader past its renew deadline that still counts itself leader',
    at(12_000, [queue()], { state: 'open', deadline: 9000 }),
    ['leader election: past the renew deadline by 3 s and still leading'],
  ],
  ['a standby', at(12_000, [queue()], { state: 'closed-never-opened', deadline: -Infinity }), []],
])('%s', (_name, input, problems) => {
  expect(computeHealth(input)).toEqual({ healthy: problems.length === 0, problems });
});
