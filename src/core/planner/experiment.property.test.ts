/**
 * Property tests of experiments over generated histories: weights, faults of any version, metrics,
 * time passing, spec changes and both onEnd settings. After every reconcile:
 * - the weights sum to 100, each in 0..100;
 * - a version that failed in the experiment never receives traffic, nor does a starting one;
 * - the plan mirrors nothing (a mirror is never served traffic, and experiments have none);
 * - a version becomes stable only through a Promoted entry, and in an experiment only when onEnd is
 *   PromoteIfWinner and status.experiment names it the winner;
 * and a world left alone settles.
 */
import fc from 'fast-check';
import type { ModelDeploymentSpecStrategyExperiment } from '../../api/index.js';
import type { Fault, SimMetrics } from '../../../test/unit/sim.js';
import { World, hashOf } from '../../../test/unit/sim.js';

const faults: Fault[] = ['none', 'none', 'crashloop', 'never-ready', 'unready-later'];
const versions = ['1.1.0', '1.2.0', '1.3.0'];

type Action =
  | { kind: 'advance'; ms: number }
  | { kind: 'fault'; version: string; fault: Fault }
  | { kind: 'version'; version: string };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 200, max: 30_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      version: fc.constantFrom('1.0.0', ...versions),
      fault: fc.constantFrom(...faults),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('version' as const),
      version: fc.constantFrom('1.0.0', ...versions),
    }),
  },
);

const metrics: fc.Arbitrary<SimMetrics> = fc.record({
  requests: fc.integer({ min: 0, max: 1000 }),
  errorRate: fc.constantFrom(0, 0.01, 0.05),
  latencyMs: fc.constantFrom(10, 20, 30),
});

const experiment: fc.Arbitrary<ModelDeploymentSpecStrategyExperiment> = fc
  .record({
    weight: fc.integer({ min: 1, max: 60 }),
    arms: fc
      .subarray(['1.2.0', '1.3.0'])
      .chain((vs) =>
        fc.tuple(
          ...vs.map((v) => fc.record({ version: fc.constant(v), weight: fc.integer({ min: 1, max: 19 }) })),
        ),
      ),
    duration: fc.constantFrom(undefined, '20s', '2m'),
    onEnd: fc.constantFrom('Rollback' as const, 'PromoteIfWinner' as const),
    metric: fc.constantFrom('ErrorRate' as const, 'MeanLatency' as const),
  })
  .map(({ metric, duration, ...x }) => ({
    ...x,
    ...(duration ? { duration } : {}),
    decideBy: { metric, minSamples: 50 },
  }));

test('experiments: weights sum to 100, failed versions get nothing, nothing is promoted unless the spec says so', () => {
  fc.assert(
    fc.property(
      experiment,
      fc.dictionary(fc.constantFrom('1.0.0', ...versions), metrics),
      fc.array(action, { minLength: 3, maxLength: 30 }),
      // spec.analysis's built-in checks judge the versions on the experiment's numbers.
      fc.option(fc.constantFrom(0.02, 0.0), { nil: undefined }),
      (x, m, actions, maxErrors) => {
        const w = new World({
          spec: {
            version: '1.0.0',
            replicas: 3,
            strategy: {
              type: 'Experiment',
              experiment: x,
              progressDeadlineSeconds: 20,
              ...(maxErrors === undefined
                ? {}
                : {
                    analysis: {
                      checks: [
                        {
                          name: 'errors',
                          builtin: 'ErrorRate' as const,
                          threshold: maxErrors,
                          minSamples: 50,
                        },
                      ],
                    },
                  }),
            },
            traffic: { router: 'gatewayApi' },
          },
          readyAfterMs: 800,
        });
        w.metrics = m;
        w.runUntil((y) => y.status.phase === 'Healthy');
        w.setSpec({ version: '1.1.0' });
        const check = (): void => {
          const plan = w.plans.at(-1)!;
          expect(plan.weights.reduce((a, y) => a + y.weight, 0)).toBe(100);
          for (const y of plan.weights) expect(y.weight).toBeGreaterThanOrEqual(0);
          expect(plan.mirror).toBeUndefined();
          expect(plan.status.mirror).toBeUndefined();
          const ex = plan.status.experiment;
          for (const a of ex?.arms ?? []) {
            const weight = plan.weights.find((y) => y.revision === a.revision)?.weight ?? 0;
            // (Once over, the world may move on: a promoted winner, or a version that replaced a
            // stable revision that failed, serves as the stable one.)
            const isStable = a.revision === plan.status.stableRevision;
            if (a.state === 'Starting' || ((a.state === 'Failed' || a.state === 'Ended') && !isStable))
              expect({ version: a.version, state: a.state, weight }).toEqual({
                version: a.version,
                state: a.state,
                weight: 0,
              });
          }
          // A new stable revision comes only with a Promoted entry; in an experiment, only the winning
          // challenger with onEnd PromoteIfWinner (a plain version change of the spec back to 1.0.0
          // keeps 1.0.0).
          const prev = w.inputs.at(-1)!.md.status?.stableRevision;
          const now = plan.status.stableRevision;
          // (A stable revision that fails is replaced without a canary, as with any strategy.)
          const prevFailed = ['Failed', 'RolledBack'].includes(
            plan.status.history?.filter((h) => h.revision === prev).at(-1)?.result ?? '',
          );
          const prevEstablished =
            w.inputs
              .at(-1)!
              .md.status?.history?.filter((h) => h.revision === prev)
              .at(-1)?.result === 'Promoted';
          if (prev && now !== prev && !prevFailed && prevEstablished) {
            expect(plan.status.history?.at(-1)).toMatchObject({ revision: now, result: 'Promoted' });
            const spec = w.inputs.at(-1)!.md.spec;
            if (spec.strategy?.type === 'Experiment' && (ex?.arms?.length ?? 0) > 0) {
              expect(x.onEnd).toBe('PromoteIfWinner');
              expect(ex?.winner?.revision).toBe(now);
              expect(ex?.arms?.find((a) => a.revision === now)?.role).toBe('Challenger');
            }
          }
        };
        w.reconcile();
        check();
        for (const a of actions) {
          if (a.kind === 'advance') w.advance(a.ms);
          else if (a.kind === 'fault') w.faults[a.version] = a.fault;
          else w.setSpec({ version: a.version });
          w.reconcile();
          check();
        }
        // Left alone with a duration, the experiment ends and the world settles.
        if (x.duration) {
          for (let i = 0; i < 40; i++) {
            w.advance(30_000);
            w.reconcile();
            check();
          }
          const a = w.reconcile();
          const b = w.reconcile();
          expect(b.status).toEqual(a.status);
          expect(b.events).toEqual([]);
          const failedOver = a.status.history?.some(
            (h) => h.revision === hashOf('1.0.0') && h.result === 'Failed',
          );
          if (a.status.stableRevision !== hashOf('1.0.0') && !failedOver)
            expect(
              a.status.history?.some(
                (h) => h.result === 'Promoted' && h.revision === a.status.stableRevision,
              ),
            ).toBe(true);
        }
      },
    ),
    { numRuns: 200, seed: Number(process.env.FC_SEED ?? 20261205) },
  );
});
