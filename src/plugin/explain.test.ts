import type { ModelDeployment, ModelDeploymentStatus } from '../api/index.js';
import { explainPause, explainRequest, explainRollback, newToken } from './explain.js';

const STEPS = [{ setWeight: 25 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: {} }];

function md(status: ModelDeploymentStatus, spec: Partial<ModelDeployment['spec']> = {}): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'clf', generation: 3 },
    spec: { model: 'clf', version: '1.1.0', strategy: { canary: { steps: STEPS } }, ...spec },
    status,
  };
}
const healthy: ModelDeploymentStatus = { phase: 'Healthy', stableRevision: 'a', stableVersion: '1.0.0' };
const atStep = (i: number): ModelDeploymentStatus => ({
  ...healthy,
  phase: 'Progressing',
  canaryRevision: 'b',
  canaryVersion: '1.1.0',
  canaryWeight: i >= 3 ? 50 : 25,
  currentStepIndex: i,
});
const rolledBack: ModelDeploymentStatus = {
  ...healthy,
  phase: 'RolledBack',
  history: [
    {
      revision: 'b',
      version: '1.1.0',
      result: 'RolledBack',
      reason: 'TooManyRestarts',
      generation: 3,
      finishedAt: '2025-01-01T00:05:00Z',
    },
  ],
};

describe('promote', () => {
  test.each([
    [
      'at a timed pause',
      md(atStep(1)),
      'the rollout of 1.1.0 leaves step 2/4 (pause of 10s at 25%) and goes on with the next step',
    ],
    [
      'at a pause without duration',
      md(atStep(3)),
      'the rollout of 1.1.0 leaves step 4/4 (pause at 50%) and goes on with the next step',
    ],
    [
      'before a pause',
      md(atStep(2)),
      'the rollout of 1.1.0 skips the pause of step 4/4 when it gets there (it is at step 3/4 now)',
    ],
    [
      'a blue-green preview',
      md(atStep(1), { strategy: { type: 'BlueGreen' } }),
      'all traffic switches from 1.0.0 to 1.1.0',
    ],
  ])('%s', (_name, obj, text) => {
    expect(explainRequest('promote', obj)).toEqual({ ok: true, text });
  });

  // The operator takes a promote token only at a pause: set with nothing to promote, it would stay
  // pending and skip the first pause of the next rollout.
  test.each([
    [
      'no rollout in progress',
      md(healthy),
      /has no rollout in progress \(phase Healthy, serving 1\.0\.0\): nothing to promote/,
    ],
    ['no pause left', md(atStep(4)), /has no pause step left/],
  ])('refused: %s', (_name, obj, error) => {
    const r = explainRequest('promote', obj);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(error);
  });
});

test.each([
  [
    'abort a rollout',
    'abort',
    md(atStep(1)),
    /^the rollout of 1\.1\.0 stops: all traffic goes back to 1\.0\.0/,
  ],
  ['abort with nothing in progress', 'abort', md(healthy), /^no rollout is in progress \(phase Healthy\)/],
  [
    'retry a rolled-back version',
    'retry',
    md(rolledBack),
    /^version 1\.1\.0 \(RolledBack: TooManyRestarts\) is rolled out again/,
  ],
  [
    'retry after a retry was already acted on',
    'retry',
    md({ ...rolledBack, acknowledged: { retry: 'x', retryAt: '2025-01-01T00:06:00Z' } }),
    /is not held back by a failure/,
  ],
  ['retry a failure of an older generation', 'retry', md(rolledBack, {}), /rolled out again/],
  ['retry with nothing failed', 'retry', md(healthy), /^version 1\.1\.0 is not held back by a failure/],
] as const)('%s', (_name, verb, obj, text) => {
  const r = explainRequest(verb, obj);
  expect(r.ok && r.text).toMatch(text);
});

test('a failure under an older generation does not block', () => {
  const obj = md(rolledBack);
  obj.metadata!.generation = 4;
  const r = explainRequest('retry', obj);
  expect(r.ok && r.text).toMatch(/not held back/);
});

test.each([
  ['pause a canary', md(atStep(1)), true, /^the rollout of 1\.1\.0 freezes at step 2\/4, 25% of traffic/],
  [
    'pause with nothing in progress',
    md(healthy),
    true,
    /^no rollout is in progress: a new spec.version will not start/,
  ],
  ['pause twice', md(atStep(1), { paused: true }), true, /^spec.paused is already true/],
  ['resume', md(atStep(1), { paused: true }), false, /^the rollout of 1\.1\.0 goes on from where it stopped/],
])('%s', (_name, obj, paused, text) => {
  const r = explainPause(obj, paused);
  expect(r.ok && r.text).toMatch(text);
});

test.each([
  ['to the stable version', md(rolledBack), '1.0.0', /^1\.0\.0 already serves as the stable version/],
  ['to the desired version', md(healthy), '1.1.0', /^spec.version is already 1\.1\.0/],
  [
    'to an older version',
    md(healthy),
    '0.9.0',
    /^the operator rolls out 0\.9\.0 with the Canary strategy, replacing 1\.0\.0$/,
  ],
  [
    'to a version that failed',
    md({ ...rolledBack, stableVersion: '1.0.0' }, { version: '1.2.0' }),
    '1.1.0',
    /careful: its last rollout ended RolledBack: TooManyRestarts/,
  ],
])('rollback %s', (_name, obj, version, text) => {
  const r = explainRollback(obj, version);
  expect(r.ok && r.text).toMatch(text);
});

test('tokens are the time and a random suffix', () => {
  expect(newToken(Date.parse('2025-01-01T00:00:00Z'), 'a1b2c3')).toBe('2025-01-01T00:00:00.000Z-a1b2c3');
});
