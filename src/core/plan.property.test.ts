/**
 * Property tests of the rollout core over generated histories: spec changes, faults, time passing,
 * promote/abort/retry requests and pauses, in any order. After every reconcile the safety rules
 * must hold; at the end, a world left alone must settle (the same status twice: no writes).
 */
import fc from 'fast-check';
import type { Fault } from '../../test/unit/sim.js';
import { World } from '../../test/unit/sim.js';

const versions = ['1.0.0', '1.1.0', '1.2.0', '2.0.0'];
const faults: Fault[] = ['none', 'none', 'crashloop', 'never-ready', 'image-pull', 'unready-later'];

type Action =
  | { kind: 'advance'; ms: number }
  | { kind: 'version'; version: string }
  | { kind: 'fault'; version: string; fault: Fault }
  | { kind: 'request'; which: 'promote' | 'abort' | 'retry' }
  | { kind: 'paused'; paused: boolean }
  | { kind: 'replicas'; replicas: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 100, max: 40_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('version' as const), version: fc.constantFrom(...versions) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      version: fc.constantFrom(...versions),
      fault: fc.constantFrom(...faults),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      which: fc.constantFrom('promote' as const, 'abort' as const, 'retry' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('paused' as const), paused: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('replicas' as const),
      replicas: fc.integer({ min: 0, max: 5 }),
    }),
  },
);

const strategy = fc.oneof(
  fc.record({
    type: fc.constant('Canary' as const),
    canary: fc.record({
      steps: fc.array(
        fc.oneof(
          fc.record({ setWeight: fc.integer({ min: 0, max: 100 }) }),
          fc.record({
            pause: fc.oneof(fc.constant({}), fc.record({ duration: fc.constantFrom('1s', '5s', '30s') })),
          }),
        ),
        { maxLength: 5 },
      ),
      scaleDownDelaySeconds: fc.constantFrom(0, 5, 30),
    }),
    progressDeadlineSeconds: fc.constantFrom(10, 60),
    maxRestarts: fc.constantFrom(0, 3),
  }),
  fc.record({
    type: fc.constant('BlueGreen' as const),
    blueGreen: fc.record({
      autoPromotionEnabled: fc.boolean(),
      scaleDownDelaySeconds: fc.constantFrom(0, 30),
    }),
    progressDeadlineSeconds: fc.constantFrom(10, 60),
  }),
);

function latestResult(w: World, hash: string): string | undefined {
  return w.status.history?.filter((h) => h.revision === hash).at(-1)?.result;
}
const bad = (w: World, hash: string) => ['RolledBack', 'Failed'].includes(latestResult(w, hash) ?? '');

function checkSafety(
  w: World,
  prev: { stable?: string; established: boolean; readyStable: number } | undefined,
): void {
  const plan = w.plans.at(-1)!;
  const total = plan.weights.reduce((a, x) => a + x.weight, 0);
  expect(total).toBe(100);
  for (const x of plan.weights) expect(x.weight).toBeGreaterThanOrEqual(0);

  const stable = w.status.stableRevision;
  // A status that says Healthy names a stable revision recorded as promoted: the next version then
  // gets its canary (a Healthy status without that entry let one replace it directly).
  if (w.status.phase === 'Healthy')
    expect({ stable, latest: stable && latestResult(w, stable) }).toEqual({ stable, latest: 'Promoted' });
  const readyOfHash = (h: string) => {
    const r = w.input().revisions.find((x) => x.hash === h);
    return r ? r.pods.filter((p) => p.ready).length : 0;
  };
  // Traffic never sits on a known-bad revision while the stable one has ready pods to take it.
  for (const x of plan.weights) {
    if (x.weight > 0 && x.revision !== stable && bad(w, x.revision)) {
      expect({
        revision: x.revision,
        weight: x.weight,
        stableReady: stable ? readyOfHash(stable) : 0,
      }).toEqual(expect.objectContaining({ stableReady: 0 }));
    }
  }
  // An established, healthy stable revision keeps its full size until a successor is promoted
  // (and Ready), or it has itself failed.
  if (prev?.stable && prev.established && prev.readyStable > 0) {
    const planned = plan.revisions.find((r) => r.hash === prev.stable)?.replicas ?? 0;
    const replicas = w.md.spec.replicas ?? 1;
    if (planned < replicas) {
      const successor = w.status.stableRevision;
      const ok = successor !== prev.stable && (bad(w, prev.stable) || readyOfHash(successor!) >= replicas);
      expect({ scaledDown: prev.stable, to: planned, successor, ok }).toEqual(
        expect.objectContaining({ ok: true }),
      );
    }
  }
}

test('safety holds over generated histories, and a world left alone settles', () => {
  fc.assert(
    fc.property(
      strategy,
      fc.boolean(),
      fc.array(action, { minLength: 5, maxLength: 40 }),
      (strat, exactWeights, actions) => {
        const w = new World({
          spec: { version: '1.0.0', replicas: 3, strategy: strat },
          exactWeights,
          readyAfterMs: 800,
        });
        let token = 0;
        let prev: Parameters<typeof checkSafety>[1];
        const snapshot = () => {
          const s = w.status.stableRevision;
          return {
            stable: s,
            established: s ? latestResult(w, s) === 'Promoted' : false,
            readyStable: s
              ? (w
                  .input()
                  .revisions.find((r) => r.hash === s)
                  ?.pods.filter((p) => p.ready).length ?? 0)
              : 0,
          };
        };
        w.reconcile();
        checkSafety(w, undefined);
        for (const a of actions) {
          prev = snapshot();
          switch (a.kind) {
            case 'advance':
              w.advance(a.ms);
              break;
            case 'version':
              w.setSpec({ version: a.version });
              break;
            case 'fault':
              w.faults[a.version] = a.fault;
              break;
            case 'request':
              w.requests = { ...w.requests, [a.which]: `t${token++}` };
              break;
            case 'paused':
              w.setSpec({ paused: a.paused });
              break;
            case 'replicas':
              w.setSpec({ replicas: a.replicas });
              break;
          }
          w.reconcile();
          checkSafety(w, prev);
        }
        // Left alone (no more changes), the world settles: a long wait, then the same status twice.
        w.setSpec({ paused: false });
        for (let i = 0; i < 40; i++) {
          w.advance(30_000);
          w.reconcile();
        }
        const a = w.reconcile();
        const b = w.reconcile();
        expect(b.status).toEqual(a.status);
        expect(b.events).toEqual([]);
        expect(['Healthy', 'RolledBack', 'Paused', 'Failed', 'Degraded']).toContain(a.status.phase);
      },
    ),
    { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20261124) },
  );
});
