// The interface gate in the simulated world: a version that breaks the serving version's interface
// does not start; a new major, the opt-in naming the version, and additive changes roll out.
import fc from 'fast-check';
import type { ModelVersionSpecInterface } from '../../api/index.js';
import { hashOf, World } from '../../../test/unit/sim.js';
import { checkInterfaceChange } from '../interface.js';

const V1: ModelVersionSpecInterface = {
  inputs: [{ name: 'features', datatype: 'FP32', shape: [4] }],
  outputs: [{ name: 'label', datatype: 'INT64', shape: [1] }],
};
/** input renamed, output removed: two breaking differences. */
const BROKEN: ModelVersionSpecInterface = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [4] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [3] }],
};
const ADDITIVE: ModelVersionSpecInterface = {
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1] }],
  outputs: [...V1.outputs!, { name: 'probabilities', datatype: 'FP32', shape: [3] }],
};

const steps = [{ setWeight: 25 }, { pause: { duration: '10s' } }];

function servingV1(extra: { strategy?: object } = {}): World {
  const w = new World({
    spec: { version: '1.0.0', strategy: { type: 'Canary', canary: { steps } }, ...extra },
  });
  w.interfaces = { '1.0.0': V1, '1.1.0': BROKEN, '2.0.0': BROKEN, '1.2.0': ADDITIVE };
  expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
  return w;
}

const warnings = (w: World) =>
  w.plans
    .flatMap((p) => p.events)
    .filter((e) => e.type === 'Warning' && e.reason === 'InterfaceIncompatible');

describe('interface gate', () => {
  test('a breaking minor version does not start: no revision, no traffic change, a condition, one Warning', () => {
    const w = servingV1();
    const before = w.plans.length;
    w.setSpec({ version: '1.1.0' });
    for (let i = 0; i < 5; i++) {
      const p = w.reconcile();
      // Nothing of 1.1.0 is created; the stable keeps its size and all traffic.
      expect(p.revisions.map((r) => r.version)).toEqual(['1.0.0']);
      expect(p.weights).toEqual([{ revision: hashOf('1.0.0'), version: '1.0.0', weight: 100 }]);
      w.advance(20_000);
    }
    expect(w.revisions.has(hashOf('1.1.0'))).toBe(false);
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.status.canaryRevision).toBeUndefined();
    expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'InterfaceIncompatible' });
    const msg = w.condition('Degraded')!.message!;
    expect(msg).toContain('input features removed (was FP32 [4])');
    expect(msg).toContain('new required input x (FP32 [4])');
    expect(msg).toContain('output label removed (was INT64 [1])');
    expect(msg).toContain('spec.strategy.allowInterfaceChangeTo: "1.1.0"');
    expect(w.condition('Ready')?.status).toBe('False');
    expect(warnings(w)).toHaveLength(1);
    expect(w.plans.slice(before).flatMap((p) => p.events.map((e) => e.reason))).toEqual([
      'InterfaceIncompatible',
    ]);
    // No history entry: nothing was tried.
    expect(w.status.history?.map((h) => h.version)).toEqual(['1.0.0']);
  });

  test('the same change as a new major version rolls out', () => {
    const w = servingV1();
    w.setSpec({ version: '2.0.0' });
    w.reconcile();
    expect(w.status.canaryVersion).toBe('2.0.0');
    expect(w.runUntil((x) => x.status.stableVersion === '2.0.0' && x.status.phase === 'Healthy')).toBe(true);
    expect(warnings(w)).toHaveLength(0);
  });

  test('the opt-in naming the version lets it through, also after the hold (level-triggered)', () => {
    const w = servingV1();
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    expect(w.condition('Degraded')?.reason).toBe('InterfaceIncompatible');
    w.setSpec({ strategy: { type: 'Canary', canary: { steps }, allowInterfaceChangeTo: '1.1.0' } });
    w.reconcile();
    expect(w.status.canaryVersion).toBe('1.1.0');
    expect(w.runUntil((x) => x.status.stableVersion === '1.1.0' && x.status.phase === 'Healthy')).toBe(true);
    expect(w.condition('Degraded')?.status).toBe('False');
  });

  test('an opt-in naming another version does not', () => {
    const w = servingV1({ strategy: { type: 'Canary', canary: { steps }, allowInterfaceChangeTo: '1.0.1' } });
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    expect(w.condition('Degraded')?.reason).toBe('InterfaceIncompatible');
    expect(w.revisions.has(hashOf('1.1.0'))).toBe(false);
  });

  test('an additive change (an output added, an input dimension made dynamic) rolls out', () => {
    const w = servingV1();
    w.setSpec({ version: '1.2.0' });
    expect(w.runUntil((x) => x.status.stableVersion === '1.2.0' && x.status.phase === 'Healthy')).toBe(true);
    expect(warnings(w)).toHaveLength(0);
  });

  test('blue-green: no preview is created', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: { type: 'BlueGreen' } } });
    w.interfaces = { '1.0.0': V1, '1.1.0': BROKEN };
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '1.1.0' });
    const p = w.reconcile();
    expect(p.previewRevision).toBeUndefined();
    expect(p.revisions.map((r) => r.version)).toEqual(['1.0.0']);
    expect(w.condition('Degraded')?.reason).toBe('InterfaceIncompatible');
  });

  test('a rollout under way when the spec moves to a breaking version is held where it is', () => {
    const w = servingV1();
    w.setSpec({ version: '1.2.0' });
    expect(w.runUntil((x) => x.weightOf('1.2.0') === 25)).toBe(true);
    w.interfaces!['1.3.0'] = BROKEN;
    w.setSpec({ version: '1.3.0' });
    w.reconcile();
    w.advance(60_000);
    w.reconcile();
    expect(w.condition('Degraded')?.reason).toBe('InterfaceIncompatible');
    expect(w.weightOf('1.0.0')).toBe(75);
    expect(w.weightOf('1.2.0')).toBe(25);
    expect(w.revisions.has(hashOf('1.3.0'))).toBe(false);
    // Back to 1.2.0: the held rollout carries on.
    w.setSpec({ version: '1.2.0' });
    expect(w.runUntil((x) => x.status.stableVersion === '1.2.0')).toBe(true);
  });

  test('going back to a version this ModelDeployment promoted before passes', () => {
    const w = servingV1();
    w.setSpec({ version: '2.0.0' });
    expect(w.runUntil((x) => x.status.stableVersion === '2.0.0' && x.status.phase === 'Healthy')).toBe(true);
    w.setSpec({ version: '1.0.0' });
    expect(w.runUntil((x) => x.status.stableVersion === '1.0.0' && x.status.phase === 'Healthy')).toBe(true);
    expect(warnings(w)).toHaveLength(0);
  });

  test('not judged: an unknown serving interface, or a stable never established', () => {
    const unknown = servingV1();
    delete unknown.interfaces!['1.0.0'];
    unknown.setSpec({ version: '1.1.0' });
    unknown.reconcile();
    expect(unknown.status.canaryVersion).toBe('1.1.0');

    const first = new World({ spec: { version: '1.0.0' }, faults: { '1.0.0': 'never-ready' } });
    first.interfaces = { '1.0.0': V1, '1.1.0': BROKEN };
    first.reconcile();
    first.setSpec({ version: '1.1.0' });
    first.reconcile();
    expect(first.revisions.has(hashOf('1.1.0'))).toBe(true);
  });

  test('property: a version the rule refuses never gets a pod or a share of traffic', () => {
    const tensor = fc.record({
      name: fc.constantFrom('a', 'b', 'c'),
      datatype: fc.constantFrom('FP32' as const, 'INT64' as const),
      shape: fc.array(fc.constantFrom(-1, 1, 3), { minLength: 1, maxLength: 2 }),
    });
    const iface = fc.record({
      inputs: fc.uniqueArray(tensor, { selector: (t) => t.name, minLength: 1, maxLength: 2 }),
      outputs: fc.uniqueArray(tensor, { selector: (t) => t.name, minLength: 1, maxLength: 2 }),
    });
    const next = fc.constantFrom('1.0.1', '1.1.0', '2.0.0');
    fc.assert(
      fc.property(iface, iface, next, fc.boolean(), (a, b, version, optIn) => {
        const w = new World({ spec: { version: '1.0.0', strategy: { type: 'Canary', canary: { steps } } } });
        w.interfaces = { '1.0.0': a, [version]: b };
        w.runUntil((x) => x.status.phase === 'Healthy');
        const allow = optIn ? version : undefined;
        w.setSpec({
          version,
          strategy: {
            type: 'Canary',
            canary: { steps },
            ...(allow ? { allowInterfaceChangeTo: allow } : {}),
          },
        });
        const refused = !checkInterfaceChange(
          { version: '1.0.0', interface: a },
          { version, interface: b },
          allow,
        ).ok;
        const done = w.runUntil((x) => x.status.stableVersion === version, 60_000, 2000);
        if (refused) return !done && !w.revisions.has(hashOf(version)) && w.weightOf('1.0.0') === 100;
        return done;
      }),
      { numRuns: 60 },
    );
  });
});
