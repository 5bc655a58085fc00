import type { ModelDeployment } from '../api/index.js';
import type { PlanEvent, RolloutStatus } from '../core/plan-types.js';
import { type AppliedPlan, planNotifications, sourceOf, stepReached } from './cloudevents.js';

const md = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { namespace: 'ml', name: 'resnet' },
  spec: { model: 'resnet50', version: '2.0.0' },
} as ModelDeployment;

const NOW = Date.UTC(2026, 11, 4, 18, 0, 0);

function applied(
  previous: RolloutStatus | undefined,
  status: RolloutStatus,
  events: PlanEvent[],
): AppliedPlan {
  let n = 0;
  return { md, previous, status, events, now: NOW, newId: () => `id-${++n}` };
}

const stableV1: RolloutStatus = { stableRevision: 'aaa', stableVersion: '1.0.0' };
const canaryV2: RolloutStatus = {
  ...stableV1,
  canaryRevision: 'bbb',
  canaryVersion: '2.0.0',
  currentStepIndex: 0,
  canaryWeight: 0,
};

test('the envelope: CloudEvents 1.0 attributes, source the ModelDeployment, subject the revision', () => {
  const [ce] = planNotifications(
    applied(stableV1, canaryV2, [
      { type: 'Normal', reason: 'RolloutStarted', message: 'rolling out version 2.0.0' },
    ]),
  );
  expect(ce).toEqual({
    specversion: '1.0',
    id: 'id-1',
    source: '/apis/modelship.io/v1alpha1/namespaces/ml/modeldeployments/resnet',
    type: 'io.modelship.rollout.started',
    subject: 'bbb',
    time: '2026-12-04T18:00:00.000Z',
    datacontenttype: 'application/json',
    data: {
      namespace: 'ml',
      modelDeployment: 'resnet',
      model: 'resnet50',
      version: '2.0.0',
      revision: 'bbb',
      reason: 'RolloutStarted',
      message: 'rolling out version 2.0.0',
      stable: { revision: 'aaa', version: '1.0.0' },
    },
  });
  expect(sourceOf(md)).toBe(ce!.source);
});

test.each<
  [string, RolloutStatus | undefined, RolloutStatus, PlanEvent[], Array<[string, string | undefined, string]>]
>([
  [
    'first deploy',
    undefined,
    { stableRevision: 'aaa', stableVersion: '1.0.0' },
    [{ type: 'Normal', reason: 'Deploying', message: 'd' }],
    [['io.modelship.rollout.started', 'aaa', 'Deploying']],
  ],
  [
    'promotion',
    { ...canaryV2, currentStepIndex: 2, canaryWeight: 50 },
    { stableRevision: 'bbb', stableVersion: '2.0.0' },
    [{ type: 'Normal', reason: 'Promoted', message: 'p' }],
    [['io.modelship.rollout.promoted', 'bbb', 'Promoted']],
  ],
  [
    'abort on request',
    { ...canaryV2, currentStepIndex: 1 },
    stableV1,
    [{ type: 'Warning', reason: 'Aborted', message: 'a' }],
    [['io.modelship.rollout.aborted', 'bbb', 'Aborted']],
  ],
  [
    'analysis failed with autoRollback off: no revert',
    { ...canaryV2, currentStepIndex: 1 },
    { ...canaryV2, currentStepIndex: 1 },
    [{ type: 'Warning', reason: 'AnalysisFailed', message: 'ErrorRate 0.05 > 0.01' }],
    [['io.modelship.rollout.analysis.failed', 'bbb', 'AnalysisFailed']],
  ],
  [
    'holds, ignored requests and retries send nothing',
    canaryV2,
    canaryV2,
    [
      { type: 'Warning', reason: 'PrometheusUnavailable', message: 'x' },
      { type: 'Normal', reason: 'PromoteIgnored', message: 'x' },
      { type: 'Normal', reason: 'RetryRequested', message: 'x' },
      { type: 'Normal', reason: 'Superseded', message: 'x' },
    ],
    [],
  ],
])('%s', (_name, prev, next, events, want) => {
  expect(
    planNotifications(applied(prev, next, events)).map((c) => [c.type, c.subject, c.data.reason]),
  ).toEqual(want);
});

const rollback = (from: string, fromV: string, to: string, toV: string, reason: string) => ({
  from: { revision: from, version: fromV },
  to: { revision: to, version: toV },
  reason,
  message: `${reason} message`,
  time: '2026-12-04T18:00:00Z',
});

test('a canary reverted on its health: rolledback, with the failure reason and both revisions', () => {
  const out = planNotifications(
    applied(
      { ...canaryV2, currentStepIndex: 1, canaryWeight: 10 },
      { ...stableV1, lastRollback: rollback('bbb', '2.0.0', 'aaa', '1.0.0', 'CrashLoopBackOff') },
      [{ type: 'Warning', reason: 'RolledBack', message: 'traffic reverted from 2.0.0 to 1.0.0: crash' }],
    ),
  );
  expect(out.map((c) => c.type)).toEqual(['io.modelship.rollout.rolledback']);
  expect(out[0]!.data).toMatchObject({
    reason: 'CrashLoopBackOff',
    message: 'traffic reverted from 2.0.0 to 1.0.0: crash',
    version: '2.0.0',
    revision: 'bbb',
    from: { revision: 'bbb', version: '2.0.0' },
    to: { revision: 'aaa', version: '1.0.0' },
    stable: { revision: 'aaa', version: '1.0.0' },
  });
});

test('a canary reverted by analysis: analysis.failed, then rolledback, ids distinct', () => {
  const out = planNotifications(
    applied(
      { ...canaryV2, currentStepIndex: 1 },
      { ...stableV1, lastRollback: rollback('bbb', '2.0.0', 'aaa', '1.0.0', 'AnalysisFailed') },
      [{ type: 'Warning', reason: 'RolledBack', message: 'm' }],
    ),
  );
  expect(out.map((c) => [c.type, c.id, c.data.reason])).toEqual([
    ['io.modelship.rollout.analysis.failed', 'id-1', 'AnalysisFailed'],
    ['io.modelship.rollout.rolledback', 'id-2', 'AnalysisFailed'],
  ]);
});

test('the stable revision failing its health: stable.failedover; an analysis failure in the bake time: rolledback', () => {
  const prev = { stableRevision: 'bbb', stableVersion: '2.0.0' };
  const failover = planNotifications(
    applied(prev, { ...stableV1, lastRollback: rollback('bbb', '2.0.0', 'aaa', '1.0.0', 'ReadinessLost') }, [
      { type: 'Warning', reason: 'RolledBack', message: 'm' },
    ]),
  );
  expect(failover.map((c) => c.type)).toEqual(['io.modelship.rollout.stable.failedover']);
  const bake = planNotifications(
    applied(prev, { ...stableV1, lastRollback: rollback('bbb', '2.0.0', 'aaa', '1.0.0', 'AnalysisFailed') }, [
      { type: 'Warning', reason: 'RolledBack', message: 'm' },
    ]),
  );
  expect(bake.map((c) => c.type)).toEqual([
    'io.modelship.rollout.analysis.failed',
    'io.modelship.rollout.rolledback',
  ]);
});

test('a step reached: one notification per step index the canary moves to, none for its first step', () => {
  const at = (step: number, weight: number): RolloutStatus => ({
    ...canaryV2,
    currentStepIndex: step,
    canaryWeight: weight,
  });
  expect(
    planNotifications(applied(at(0, 0), at(1, 10), [])).map((c) => [c.type, c.data.step, c.data.weight]),
  ).toEqual([['io.modelship.rollout.step', 1, 10]]);
  expect(planNotifications(applied(at(1, 10), at(1, 10), []))).toEqual([]);
  expect(planNotifications(applied(stableV1, at(0, 0), []))).toEqual([]);
  // A different canary that is already past its first step (it replaced one in flight).
  expect(stepReached({ ...at(3, 50), canaryRevision: 'ccc' }, at(1, 10))).toBe(1);
  expect(stepReached(at(2, 20), stableV1)).toBeUndefined();
});

test('order follows the Events; the step comes last', () => {
  const out = planNotifications(
    applied({ ...canaryV2, currentStepIndex: 0 }, { ...canaryV2, currentStepIndex: 1, canaryWeight: 10 }, [
      { type: 'Warning', reason: 'AnalysisFailed', message: 'a' },
      { type: 'Normal', reason: 'Promoted', message: 'b' },
    ]),
  );
  expect(out.map((c) => c.type)).toEqual([
    'io.modelship.rollout.analysis.failed',
    'io.modelship.rollout.promoted',
    'io.modelship.rollout.step',
  ]);
});
