import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment, ModelVersion } from '../api/index.js';
import { renderDiff } from './view/diff.js';
import { renderHistory } from './view/history.js';
import { pendingRequests, renderStatus, revisionRows, statusLine } from './view/status.js';
import { metricsText, renderVersions, usedByText } from './view/versions.js';

const NOW = Date.parse('2025-01-01T00:10:00Z');
const ago = (s: number): string => new Date(NOW - s * 1000).toISOString();

function canaryMd(): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: {
      name: 'clf',
      namespace: 'ml',
      generation: 2,
      annotations: { 'modelship.io/promote': 't2', 'modelship.io/abort': 't1' },
    },
    spec: {
      model: 'clf',
      version: '1.1.0',
      strategy: {
        type: 'Canary',
        canary: {
          steps: [{ setWeight: 25 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: {} }],
        },
      },
      traffic: { router: 'gatewayApi' },
    },
    status: {
      observedGeneration: 2,
      phase: 'Progressing',
      stableRevision: 'aaaaaaaaaa',
      stableVersion: '1.0.0',
      canaryRevision: 'bbbbbbbbbb',
      canaryVersion: '1.1.0',
      canaryWeight: 25,
      currentStepIndex: 1,
      currentStepStartedAt: ago(3),
      traffic: [
        { revision: 'aaaaaaaaaa', version: '1.0.0', weight: 75 },
        { revision: 'bbbbbbbbbb', version: '1.1.0', weight: 25 },
      ],
      warmRevisions: [{ revision: 'cccccccccc', version: '0.9.0', scaleDownAt: ago(-20) }],
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'CanaryStep',
          message: 'step 2/4: paused for 10s more at weight 25%',
          lastTransitionTime: ago(90),
        },
      ],
      acknowledged: { abort: 't1' },
      lastRollback: {
        from: { revision: 'dddddddddd', version: '0.9.1' },
        to: { revision: 'cccccccccc', version: '0.9.0' },
        reason: 'TooManyRestarts',
        message: 'revision dddddddddd restarted 4 times',
        time: ago(3600),
      },
    },
  };
}

const deployment = (rev: string, version: string, replicas: number, ready: number): V1Deployment => ({
  metadata: {
    name: `clf-${rev}`,
    labels: { 'modelship.io/deployment': 'clf', 'modelship.io/revision': rev },
    annotations: { 'modelship.io/version': version },
  },
  spec: { replicas, selector: {}, template: {} },
  status: { readyReplicas: ready, replicas },
});

const DEPLOYMENTS = [
  deployment('aaaaaaaaaa', '1.0.0', 2, 2),
  deployment('bbbbbbbbbb', '1.1.0', 1, 0),
  deployment('cccccccccc', '0.9.0', 2, 2),
  deployment('dddddddddd', '0.9.1', 0, 0),
];

describe('status', () => {
  test('the whole picture of a canary', () => {
    expect(renderStatus(canaryMd(), DEPLOYMENTS, NOW)).toEqual([
      'Name:      clf in namespace ml',
      'Model:     clf',
      'Strategy:  Canary, router gatewayApi',
      'Phase:     Progressing',
      'Desired:   1.1.0',
      'Stable:    1.0.0 (revision aaaaaaaaaa)',
      'Canary:    1.1.0 (revision bbbbbbbbbb), 25% of traffic',
      'Progress:  step 2/4: paused 7s more at 25%',
      'Requests:  promote t2 not yet acted on',
      '',
      'REVISION     VERSION   ROLE     WEIGHT   PODS READY',
      'aaaaaaaaaa   1.0.0     stable   75%      2/2',
      'bbbbbbbbbb   1.1.0     canary   25%      0/1',
      'cccccccccc   0.9.0     warm     0%       2/2',
      '',
      'CONDITION   STATUS   REASON       SINCE   MESSAGE',
      'Ready       False    CanaryStep   1m30s   step 2/4: paused for 10s more at weight 25%',
      '',
      'Last rollback: 0.9.1 → 0.9.0, 1h ago: TooManyRestarts: revision dddddddddd restarted 4 times',
    ]);
  });

  test('cohorts and a mirror: what they match, where they go, and that the mirror is not served traffic', () => {
    const md = canaryMd();
    md.spec.strategy = {
      type: 'Canary',
      canary: {
        steps: [{ pause: {} }],
        cohorts: [
          { headers: [{ name: 'x-cohort', value: 'beta' }] },
          {
            headers: [{ name: 'x-tenant', type: 'RegularExpression', value: '^qa-' }],
            cookie: { name: 'c', value: 'v' },
          },
        ],
        mirror: { percent: 20 },
      },
    };
    md.status!.cohort = { revision: 'bbbbbbbbbb', version: '1.1.0' };
    md.status!.mirror = { revision: 'bbbbbbbbbb', version: '1.1.0', percent: 20 };
    const out = renderStatus(md, DEPLOYMENTS, NOW);
    expect(out.filter((l) => /^(Cohorts|Mirror):/.test(l))).toEqual([
      'Cohorts:   x-cohort=beta | x-tenant~^qa- and cookie c=v -> 1.1.0 (revision bbbbbbbbbb)',
      "Mirror:    20% of the stable revision's requests copied to 1.1.0 (revision bbbbbbbbbb); answers discarded, not served traffic",
    ]);
  });

  test('a status older than the spec says so', () => {
    const md = canaryMd();
    md.metadata!.generation = 3;
    expect(renderStatus(md, [], NOW)).toContain(
      'Phase:     Progressing (for generation 2; the operator has not seen generation 3 yet)',
    );
  });

  test('no status yet', () => {
    const md = canaryMd();
    delete md.status;
    const lines = renderStatus(md, [], NOW);
    expect(lines).toContain('Phase:     no status yet: is the operator running?');
    expect(lines.join('\n')).not.toContain('REVISION');
    expect(statusLine(md)).toBe('clf: no status yet (desired 1.1.0)');
  });

  test('revisions without a Deployment show no pods; scaled-down revisions are left out', () => {
    expect(revisionRows(canaryMd(), []).map((r) => [r.revision, r.role, r.pods])).toEqual([
      ['aaaaaaaaaa', 'stable', '-'],
      ['bbbbbbbbbb', 'canary', '-'],
    ]);
  });

  test('a pending request is one whose token the operator has not acknowledged', () => {
    expect(pendingRequests(canaryMd())).toEqual([{ verb: 'promote', token: 't2' }]);
  });

  test('the watch line holds no clock-dependent text', () => {
    const md = canaryMd();
    expect(statusLine(md)).toBe(
      'Progressing  desired 1.1.0  stable 1.0.0  canary 1.1.0 at 25%  step 2/4  Ready=False CanaryStep: step 2/4: paused for 10s more at weight 25%',
    );
    md.status!.currentStepStartedAt = ago(1);
    expect(statusLine(md)).toBe(statusLine(canaryMd()));
  });
});

test('history', () => {
  const md = canaryMd();
  md.status!.history = [
    {
      revision: 'aaaaaaaaaa',
      version: '1.0.0',
      result: 'Promoted',
      reason: 'Ready',
      startedAt: '2025-01-01T00:00:00Z',
      finishedAt: '2025-01-01T00:01:30Z',
      message: 'version 1.0.0 is Ready',
    },
    { revision: 'bbbbbbbbbb', version: '1.1.0', result: 'RolledBack', finishedAt: '2025-01-01T00:05:00Z' },
  ];
  expect(renderHistory(md)).toEqual([
    'REVISION     VERSION   RESULT       REASON   STARTED                FINISHED               DURATION   MESSAGE',
    'aaaaaaaaaa   1.0.0     Promoted     Ready    2025-01-01T00:00:00Z   2025-01-01T00:01:30Z   1m30s      version 1.0.0 is Ready',
    'bbbbbbbbbb   1.1.0     RolledBack   -        -                      2025-01-01T00:05:00Z   -',
  ]);
  md.status!.history = [];
  expect(renderHistory(md)).toEqual(['No rollout of ModelDeployment "clf" has ended yet.']);
});

function mv(version: string, extra: Partial<ModelVersion['spec']> = {}, usedBy: string[] = []): ModelVersion {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: `clf-${version}`, creationTimestamp: new Date('2025-02-01T00:00:00Z') },
    spec: {
      model: 'clf',
      version,
      runtime: 'triton',
      format: 'onnx',
      storageUri: `s3://m/clf/${version}`,
      interface: {
        inputs: [{ name: 'in', datatype: 'FP32', shape: [4] }],
        outputs: [{ name: 'out', datatype: 'FP32', shape: [3] }],
      },
      ...extra,
    },
    status: { phase: usedBy.length ? 'InUse' : 'Available', usedBy: usedBy.map((name) => ({ name })) },
  };
}

test('versions are listed in SemVer order with their record and users', () => {
  const lines = renderVersions([
    mv('1.10.0'),
    mv('1.2.0', { record: { owner: 'team@x', createdAt: '2025-01-15T09:30:00Z', metrics: { top1: 0.77 } } }, [
      'clf',
    ]),
    mv('1.2.0-rc.1'),
  ]);
  expect(lines).toEqual([
    'VERSION      NAME             RUNTIME   FORMAT   OWNER    CREATED      PHASE       USED BY   METRICS',
    '1.2.0-rc.1   clf-1.2.0-rc.1   triton    onnx     -        2025-02-01   Available   -         -',
    '1.2.0        clf-1.2.0        triton    onnx     team@x   2025-01-15   InUse       clf       top1=0.77',
    '1.10.0       clf-1.10.0       triton    onnx     -        2025-02-01   Available   -         -',
  ]);
});

test.each([
  [undefined, '-'],
  [{}, '-'],
  [{ top5: 0.9, top1: 0.7 }, 'top1=0.7 top5=0.9'],
  [{ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }, 'a=1 b=2 c=3 d=4 +2 more'],
])('metricsText(%j)', (metrics, text) => {
  expect(metricsText(metrics)).toBe(text);
});

test.each([
  [undefined, '-'],
  [{ usedBy: [] }, '-'],
  [{ usedByCount: 2, usedBy: [{ name: 'a' }, { name: 'b' }] }, 'a,b'],
  // Written before usedByCount existed.
  [{ usedBy: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }] }, 'a,b,c +1 more'],
  [
    { usedByCount: 300, usedBy: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }] },
    'a,b,c +297 more',
  ],
])('usedByText(%j)', (status, text) => {
  expect(usedByText(status as ModelVersion['status'])).toBe(text);
});

test('diff lays out record, parameters, metrics, signature and changelog', () => {
  const a = mv('1.0.0', {
    record: {
      owner: 'team@x',
      trainingParams: { epochs: '90', lr: '0.1' },
      metrics: { top1: 0.774, latencyP99Ms: 14 },
      changelog: 'first',
    },
  });
  const b = mv('1.1.0', {
    interface: {
      inputs: [{ name: 'in', datatype: 'FP16', shape: [4] }],
      outputs: [
        { name: 'out', datatype: 'FP32', shape: [3] },
        { name: 'probs', datatype: 'FP32', shape: [3] },
      ],
    },
    processing: { preprocess: { handler: 'pre:run' } },
    record: {
      owner: 'team@x',
      trainingParams: { epochs: '120', lr: '0.1', precision: 'fp16' },
      metrics: { top1: 0.772, latencyP99Ms: 8.1 },
      changelog: 'fp16\nexport',
    },
  });
  const text = renderDiff(a, b).join('\n');
  expect(text).toContain('--- clf-1.0.0 (clf 1.0.0)\n+++ clf-1.1.0 (clf 1.1.0)');
  expect(text).toMatch(/^~ {3}version +1\.0\.0 +1\.1\.0$/m);
  expect(text).toMatch(/^ {4}owner +team@x +team@x$/m);
  expect(text).toMatch(/^\+ {3}processing +- +preprocess \(changed: preprocess\)$/m);
  // Fields neither version sets are left out.
  expect(text).not.toMatch(/digest|dataset|runtimeConfig/);
  expect(text).toMatch(/^~ {3}epochs +90 +120$/m);
  expect(text).toMatch(/^\+ {3}precision +- +fp16$/m);
  expect(text).toMatch(/^~ {3}latencyP99Ms +14 +8\.1 +-5\.9 \(-42\.14%\)$/m);
  expect(text).toMatch(/^~ {3}top1 +0\.774 +0\.772 +-0\.002 \(-0\.26%\)$/m);
  expect(text).toContain(
    [
      'I/O SIGNATURE: changed; clients of the first version may break',
      '  inputs:',
      '    ~ in: datatype FP32 → FP16',
      '  outputs:',
      '    + probs: FP32 [3]',
    ].join('\n'),
  );
  expect(text).toContain('CHANGELOG\n  clf-1.0.0: first\n  clf-1.1.0: fp16 export');
  expect(renderDiff(a, a).join('\n')).toContain('I/O SIGNATURE: unchanged');
});
