import type { ModelDeployment } from '../api/index.js';
import { parseArgs } from './args.js';
import {
  describeExperiment,
  experimentTable,
  promoteFromExperiment,
  stopExperiment,
} from './view/experiment.js';
import { renderStatus, revisionRows, statusLine } from './view/status.js';

const NOW = Date.parse('2025-01-01T00:10:00Z');
const ago = (s: number): string => new Date(NOW - s * 1000).toISOString();

function experimentMd(phase: 'Running' | 'Concluded'): ModelDeployment {
  const concluded = phase === 'Concluded';
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'clf', namespace: 'ml', generation: 2 },
    spec: {
      model: 'clf',
      version: '1.1.0',
      strategy: {
        type: 'Experiment',
        experiment: { weight: 30, arms: [{ version: '1.2.0', weight: 20 }], duration: '5m' },
      },
      traffic: { router: 'gatewayApi' },
    },
    status: {
      observedGeneration: 2,
      phase: concluded ? 'Healthy' : 'Progressing',
      stableRevision: 'aaaaaaaaaa',
      stableVersion: '1.0.0',
      traffic: concluded
        ? [{ revision: 'aaaaaaaaaa', version: '1.0.0', weight: 100 }]
        : [
            { revision: 'aaaaaaaaaa', version: '1.0.0', weight: 70 },
            { revision: 'bbbbbbbbbb', version: '1.1.0', weight: 30 },
          ],
      experiment: {
        phase,
        startedAt: ago(120),
        endsAt: new Date(NOW + 180_000).toISOString(),
        decideBy: 'ErrorRate',
        measuredAt: ago(5),
        ...(concluded
          ? {
              winner: {
                revision: 'bbbbbbbbbb',
                version: '1.1.0',
                role: 'Challenger' as const,
                value: '0.0010',
              },
              result: '1.1.0 (challenger) wins on ErrorRate: 0.0010 against 1.0.0 0.0200',
            }
          : {}),
        arms: [
          {
            role: 'Stable',
            version: '1.0.0',
            revision: 'aaaaaaaaaa',
            weight: concluded ? 100 : 70,
            state: 'Serving',
            requests: 700,
            errors: 14,
            errorRate: '0.0200',
            meanLatencyMs: '21.50',
          },
          {
            role: 'Challenger',
            version: '1.1.0',
            revision: 'bbbbbbbbbb',
            weight: concluded ? 0 : 30,
            state: concluded ? 'Ended' : 'Serving',
            requests: 1000,
            errors: 1,
            errorRate: '0.0010',
            meanLatencyMs: '19.00',
          },
          {
            role: 'Arm',
            version: '1.2.0',
            revision: 'cccccccccc',
            weight: 0,
            state: 'Failed',
            reason: 'CrashLoopBackOff',
          },
        ],
      },
    },
  };
}

test('status shows the experiment: one line, and a row per version with its numbers and the winner', () => {
  const running = experimentMd('Running');
  expect(describeExperiment(running, NOW)).toBe('Running, since 2m, 3m left, decided by ErrorRate');
  expect(experimentTable(running)).toEqual([
    'VERSION   ROLE         REVISION     WEIGHT   STATE                       REQUESTS   ERROR RATE   MEAN LATENCY   WINNER',
    '1.0.0     stable       aaaaaaaaaa   70%      Serving                     700        0.0200       21.50ms',
    '1.1.0     challenger   bbbbbbbbbb   30%      Serving                     1000       0.0010       19.00ms',
    '1.2.0     arm          cccccccccc   0%       Failed (CrashLoopBackOff)   -          -            -',
  ]);
  const done = experimentMd('Concluded');
  expect(describeExperiment(done, NOW)).toBe(
    'Concluded, decided by ErrorRate, 1.1.0 (challenger) wins on ErrorRate: 0.0010 against 1.0.0 0.0200',
  );
  expect(experimentTable(done)[2]).toMatch(/^1\.1\.0 .* \* ErrorRate 0\.0010$/);
  const text = renderStatus(running, [], NOW).join('\n');
  expect(text).toMatch(/Experiment: +Running, since 2m/);
  expect(text).toMatch(/REQUESTS +ERROR RATE +MEAN LATENCY +WINNER/);
  // status --watch, piped: one line per change.
  expect(statusLine(running)).toContain('experiment Running 1.0.0=70% 1.1.0=30% 1.2.0=0% (failed)');
  expect(statusLine(experimentMd('Concluded'))).toMatch(/experiment Concluded .* winner 1\.1\.0/);
  // The revision table names the experiment's roles.
  expect(revisionRows(running, []).map((r) => r.role)).toEqual(['stable', 'challenger']);
});

test('experiment stop sets the duration to the time run; only a running experiment', () => {
  expect(stopExperiment(experimentMd('Running'), NOW)).toMatchObject({
    ok: true,
    patch: { spec: { strategy: { experiment: { duration: '120s' } } } },
    text: expect.stringMatching(/ends it now, sending all traffic back to 1\.0\.0/) as string,
  });
  expect(stopExperiment(experimentMd('Concluded'), NOW)).toMatchObject({
    ok: false,
    error: expect.stringMatching(/is not running \(phase Concluded\)/) as string,
  });
});

test('experiment promote sets spec.version to the winner (or --to) with strategy Canary', () => {
  expect(promoteFromExperiment(experimentMd('Concluded'), undefined)).toMatchObject({
    ok: true,
    patch: { spec: { version: '1.1.0', strategy: { type: 'Canary', experiment: null } } },
  });
  expect(promoteFromExperiment(experimentMd('Running'), undefined)).toMatchObject({
    ok: false,
    error: expect.stringMatching(/has no winner.*--to VERSION/) as string,
  });
  expect(promoteFromExperiment(experimentMd('Running'), '1.2.0')).toMatchObject({
    ok: true,
    patch: { spec: { version: '1.2.0' } },
  });
});

test('experiment takes stop or promote', () => {
  expect(parseArgs(['experiment', 'stop', 'clf'])).toMatchObject({
    command: 'experiment',
    args: ['stop', 'clf'],
  });
  expect(parseArgs(['experiment', 'promote', 'clf', '--to', '1.2.0'])).toMatchObject({ to: '1.2.0' });
  expect(() => parseArgs(['experiment', 'start', 'clf'])).toThrow(/stop or promote/);
  expect(() => parseArgs(['experiment', 'stop', 'clf', '--to', '1.2.0'])).toThrow(/does not take --to/);
});
