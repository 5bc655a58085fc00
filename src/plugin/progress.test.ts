import type {
  ModelDeployment,
  ModelDeploymentSpecStrategyCanaryStep as Step,
  ModelDeploymentStatus,
} from '../api/index.js';
import { resolveStep, weightBefore } from '../core/spec.js';
import { describeProgress } from './progress.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const STEPS: Step[] = [{ setWeight: 25 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: {} }];

function md(
  status: ModelDeploymentStatus | undefined,
  spec: Partial<ModelDeployment['spec']> = {},
): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'clf', namespace: 'ml' },
    spec: { model: 'clf', version: '1.1.0', strategy: { type: 'Canary', canary: { steps: STEPS } }, ...spec },
    ...(status ? { status } : {}),
  };
}

const canary = (step: number, weight: number, startedSecondsAgo = 3): ModelDeploymentStatus => ({
  stableRevision: 'aaaaaaaaaa',
  stableVersion: '1.0.0',
  canaryRevision: 'bbbbbbbbbb',
  canaryVersion: '1.1.0',
  canaryWeight: weight,
  currentStepIndex: step,
  currentStepStartedAt: new Date(T0 - startedSecondsAgo * 1000).toISOString(),
});

describe('describeProgress', () => {
  test.each([
    ['no status yet', md(undefined), undefined],
    ['no rollout in progress', md({ stableRevision: 'aaaaaaaaaa', stableVersion: '1.0.0' }), undefined],
    [
      'a setWeight step waits for pods',
      md(canary(0, 0)),
      'step 1/4: setting weight 25% (now 0%), waiting for ready canary pods',
    ],
    ['a timed pause counts down', md(canary(1, 25, 3)), 'step 2/4: paused 7s more at 25%'],
    ['the countdown rounds up', md(canary(1, 25, 9.5)), 'step 2/4: paused 1s more at 25%'],
    ['a pause that is over', md(canary(1, 25, 12)), 'step 2/4: pause of 10s over at 25%, moving on'],
    [
      'a pause without duration waits for promote',
      md(canary(3, 50)),
      'step 4/4: paused at 50% until promoted (kubectl modelship promote clf)',
    ],
    [
      'after the last step',
      md(canary(4, 50)),
      'all 4 steps done: promoting at 50% once the canary is at full size',
    ],
    [
      'the weight comes from the steps when the status has none',
      md({ ...canary(3, 0), canaryWeight: undefined }),
      'step 4/4: paused at 50% until promoted (kubectl modelship promote clf)',
    ],
    [
      'spec.paused freezes the countdown',
      md(canary(1, 25), { paused: true }),
      'step 2/4: frozen at 25% (spec.paused)',
    ],
    [
      'a long pause',
      md(canary(1, 25, 0), {
        strategy: { canary: { steps: [{ setWeight: 25 }, { pause: { duration: '1h30m' } }] } },
      }),
      'step 2/2: paused 1h30m more at 25%',
    ],
    [
      'blue-green preview starting',
      md(canary(0, 0), { strategy: { type: 'BlueGreen' } }),
      'stage 1/2: preview of 1.1.0 starting, 0% of traffic',
    ],
    [
      'blue-green auto promotion',
      md(canary(1, 0, 5), { strategy: { type: 'BlueGreen', blueGreen: { autoPromotionSeconds: 30 } } }),
      'stage 2/2: preview Ready, switching traffic in 25s',
    ],
    [
      'blue-green waiting for promotion',
      md(canary(1, 0), { strategy: { type: 'BlueGreen', blueGreen: { autoPromotionEnabled: false } } }),
      'stage 2/2: preview Ready, waiting for promotion (kubectl modelship promote clf)',
    ],
  ])('%s', (_name, obj, text) => {
    expect(describeProgress(obj, T0)).toBe(text);
  });
});

test.each([
  [0, 0],
  [1, 25],
  [2, 25],
  [3, 50],
  [4, 50],
])('weightBefore(step %d) = %d', (index, weight) => {
  expect(weightBefore(STEPS.map(resolveStep), index)).toBe(weight);
});
