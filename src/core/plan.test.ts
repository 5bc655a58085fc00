import { hashOf, World } from '../../test/unit/sim.js';
import { planRollout } from './plan.js';

const canary = (steps: object[], extra: object = {}) => ({
  type: 'Canary' as const,
  canary: { steps },
  ...extra,
});

describe('first deploy', () => {
  test('goes straight to 100% and becomes Healthy when all replicas are Ready', () => {
    const w = new World({ spec: { version: '1.0.0' } });
    const p = w.reconcile();
    expect(p.weights).toEqual([{ revision: hashOf('1.0.0'), version: '1.0.0', weight: 100 }]);
    expect(p.revisions).toEqual([{ hash: hashOf('1.0.0'), version: '1.0.0', replicas: 4 }]);
    expect(w.status.phase).toBe('Progressing');
    expect(w.condition('Ready')?.status).toBe('False');
    expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
    expect(w.condition('Ready')).toMatchObject({
      status: 'True',
      reason: 'RolloutComplete',
      observedGeneration: 1,
    });
    expect(w.condition('Available')?.status).toBe('True');
    expect(w.status.history?.map((h) => [h.version, h.result])).toEqual([['1.0.0', 'Promoted']]);
  });

  test('a first deploy that crash-loops has nothing to revert to: Failed, still deployed', () => {
    const w = new World({ spec: { version: '1.0.0' }, faults: { '1.0.0': 'crashloop' } });
    expect(w.runUntil((x) => x.status.phase === 'Failed')).toBe(true);
    expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
    expect(w.weightOf('1.0.0')).toBe(100);
    const before = w.status.history!.length;
    w.advance(5000);
    w.reconcile();
    w.reconcile();
    expect(w.status.history!.length).toBe(before);
  });
});

describe('canary', () => {
  const steps = [{ setWeight: 25 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: {} }];

  function healthyAt(version: string, extra: object = {}) {
    const w = new World({ spec: { version, strategy: canary(steps), ...extra } });
    expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
    return w;
  }

  test('walks the steps: weight moves only once the canary pods for it are Ready', () => {
    const w = healthyAt('1.0.0');
    w.setSpec({ version: '1.1.0' });
    let p = w.reconcile();
    // The canary is created at the size for 25% (1 of 4) while traffic stays on the stable version.
    expect(p.revisions.find((r) => r.version === '1.1.0')?.replicas).toBe(1);
    expect(w.weightOf('1.1.0')).toBe(0);
    expect(w.status.canaryVersion).toBe('1.1.0');
    w.advance(1000);
    p = w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(25);
    expect(w.weightOf('1.0.0')).toBe(75);
    expect(w.status.currentStepIndex).toBe(1);
    expect(p.requeueAfterMs).toBe(10_000);
    // The stable revision keeps its full size through the rollout.
    expect(p.revisions.find((r) => r.version === '1.0.0')?.replicas).toBe(4);
    w.advance(10_000);
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(50);
    expect(w.status.phase).toBe('Paused');
    expect(w.condition('Progressing')).toMatchObject({ status: 'Unknown', reason: 'WaitingForPromotion' });
    // Time alone does not end a pause without duration.
    w.advance(600_000);
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(50);
    w.requests = { promote: 't1' };
    expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
    expect(w.weightOf('1.1.0')).toBe(100);
    expect(w.status.stableVersion).toBe('1.1.0');
    expect(w.status.canaryVersion).toBeUndefined();
    expect(w.status.acknowledged?.promote).toBe('t1');
    // The previous stable stays warm at full size for scaleDownDelaySeconds (default 30 s).
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
    expect(w.status.warmRevisions?.map((x) => x.version)).toEqual(['1.0.0']);
    w.advance(31_000);
    w.reconcile();
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(0);
    expect(w.status.warmRevisions).toBeUndefined();
  });

  test('a crash-looping canary is reverted the moment a pod shows CrashLoopBackOff', () => {
    const w = healthyAt('1.0.0');
    w.faults['1.2.0'] = 'crashloop';
    w.setSpec({ version: '1.2.0' });
    w.reconcile();
    w.advance(1000);
    const p = w.reconcile();
    expect(w.status.phase).toBe('RolledBack');
    expect(w.weightOf('1.0.0')).toBe(100);
    expect(p.revisions.find((r) => r.version === '1.2.0')?.replicas).toBe(0);
    expect(w.status.lastRollback).toMatchObject({
      from: { version: '1.2.0', revision: hashOf('1.2.0') },
      to: { version: '1.0.0', revision: hashOf('1.0.0') },
      reason: 'CrashLoopBackOff',
    });
    expect(p.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'RolledBack' }));
    expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
    expect(w.condition('Ready')?.status).toBe('False');
    expect(w.condition('Available')?.status).toBe('True');
    // The reconciles after the revert say the same thing (no second status write, no message that
    // loses "reverted from").
    const degraded = w.condition('Degraded');
    expect(degraded?.message).toMatch(/^reverted from 1\.2\.0 to 1\.0\.0: /);
    w.advance(1000);
    w.reconcile();
    expect(w.condition('Degraded')).toEqual(degraded);
    // Not tried again under the same generation.
    w.advance(60_000);
    w.reconcile();
    expect(w.revisions.get(hashOf('1.2.0'))?.replicas).toBe(0);
    expect(w.status.history!.filter((h) => h.version === '1.2.0')).toHaveLength(1);
  });

  test('a never-Ready canary is reverted when the progress deadline passes', () => {
    const w = healthyAt('1.0.0', { strategy: canary(steps, { progressDeadlineSeconds: 20 }) });
    w.faults['1.2.0'] = 'never-ready';
    w.setSpec({ version: '1.2.0' });
    const p = w.reconcile();
    expect(p.requeueAfterMs).toBe(20_000);
    w.advance(19_000);
    w.reconcile();
    expect(w.status.phase).toBe('Progressing');
    w.advance(1000);
    w.reconcile();
    expect(w.status.phase).toBe('RolledBack');
    expect(w.status.lastRollback?.reason).toBe('ProgressDeadlineExceeded');
  });

  test('a canary that loses readiness after taking traffic is reverted after the grace', () => {
    const w = healthyAt('1.0.0');
    w.faults['1.2.0'] = 'unready-later';
    w.setSpec({ version: '1.2.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    expect(w.weightOf('1.2.0')).toBe(25);
    w.advance(5000);
    w.reconcile();
    expect(w.status.phase).not.toBe('RolledBack');
    w.advance(3000);
    w.reconcile();
    expect(w.status.phase).toBe('RolledBack');
    expect(w.status.lastRollback?.reason).toBe('ReadinessLost');
  });

  test('too many restarts fail the canary even without CrashLoopBackOff', () => {
    const w = healthyAt('1.0.0', { strategy: canary(steps, { maxRestarts: 0 }) });
    w.faults['1.2.0'] = 'crashloop';
    w.setSpec({ version: '1.2.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    expect(['TooManyRestarts', 'CrashLoopBackOff']).toContain(w.status.lastRollback?.reason);
  });

  test('retry rolls the failed version out again; a spec change does too', () => {
    const w = healthyAt('1.0.0');
    w.faults['1.2.0'] = 'crashloop';
    w.setSpec({ version: '1.2.0' });
    w.runUntil((x) => x.status.phase === 'RolledBack');
    w.faults['1.2.0'] = 'none';
    w.advance(1000);
    w.requests = { retry: 'r1' };
    w.reconcile();
    expect(w.status.canaryVersion).toBe('1.2.0');
    expect(w.status.phase).toBe('Progressing');
  });

  test('spec back to the stable version ends the canary; back to an old version reuses its revision', () => {
    const w = healthyAt('1.0.0');
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    w.setSpec({ version: '1.0.0' });
    w.reconcile();
    expect(w.weightOf('1.0.0')).toBe(100);
    expect(w.revisions.get(hashOf('1.1.0'))?.replicas).toBe(0);
    expect(w.status.history?.at(-1)).toMatchObject({ version: '1.1.0', result: 'Superseded' });
    expect(w.status.phase).toBe('Healthy');
  });

  test('abort returns traffic to the stable version and holds until spec change or retry', () => {
    const w = healthyAt('1.0.0');
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    w.requests = { abort: 'a1' };
    const p = w.reconcile();
    expect(w.weightOf('1.0.0')).toBe(100);
    expect(p.events).toContainEqual(expect.objectContaining({ reason: 'Aborted' }));
    expect(w.condition('Ready')).toMatchObject({ status: 'False', reason: 'Aborted' });
    w.advance(60_000);
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(0);
  });

  test('paused freezes a canary in place; unpausing continues', () => {
    const w = healthyAt('1.0.0');
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(25);
    w.setSpec({ paused: true });
    w.advance(60_000);
    w.reconcile();
    expect(w.status.phase).toBe('Paused');
    expect(w.weightOf('1.1.0')).toBe(25);
    expect(w.status.currentStepIndex).toBe(1);
    w.setSpec({ paused: false });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(50);
  });

  test('paused before a rollout starts: the new version is not started', () => {
    const w = healthyAt('1.0.0');
    w.setSpec({ version: '1.1.0', paused: true });
    const p = w.reconcile();
    expect(p.revisions.find((r) => r.version === '1.1.0')).toBeUndefined();
    expect(w.status.phase).toBe('Paused');
  });

  test('without steps the canary grows to full size, then takes all traffic', () => {
    const w = new World({ spec: { version: '1.0.0' } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(0);
    expect(w.runUntil((x) => x.status.phase === 'Healthy')).toBe(true);
    expect(w.weightOf('1.1.0')).toBe(100);
  });
});

describe('plain Service router (weights follow replica counts)', () => {
  test('the canary is sized against the stable one and the reported weight is the effective one', () => {
    const w = new World({
      spec: { version: '1.0.0', strategy: canary([{ setWeight: 20 }, { pause: {} }]) },
      exactWeights: false,
    });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '1.1.0' });
    const p = w.reconcile();
    expect(p.revisions.find((r) => r.version === '1.1.0')?.replicas).toBe(1); // ceil(4*20/80)
    w.advance(1000);
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(20); // 1 of 5 ready pods
  });
});

describe('blue-green', () => {
  test('brings the new version up at full size behind the preview, then switches all traffic', () => {
    const w = new World({
      spec: { version: '1.0.0', strategy: { type: 'BlueGreen', blueGreen: { autoPromotionSeconds: 5 } } },
    });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '2.0.0' });
    let p = w.reconcile();
    expect(p.previewRevision).toBe(hashOf('2.0.0'));
    expect(p.revisions.find((r) => r.version === '2.0.0')?.replicas).toBe(4);
    expect(w.weightOf('1.0.0')).toBe(100);
    w.advance(1000);
    p = w.reconcile();
    expect(w.weightOf('2.0.0')).toBe(0);
    expect(p.requeueAfterMs).toBe(5000);
    w.advance(5000);
    w.reconcile();
    expect(w.weightOf('2.0.0')).toBe(100);
    expect(w.status.stableVersion).toBe('2.0.0');
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
  });

  test('without auto-promotion it waits for a promote request', () => {
    const w = new World({
      spec: { version: '1.0.0', strategy: { type: 'BlueGreen', blueGreen: { autoPromotionEnabled: false } } },
    });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '2.0.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    expect(w.status.phase).toBe('Paused');
    w.requests = { promote: 'p' };
    w.reconcile();
    expect(w.weightOf('2.0.0')).toBe(100);
  });

  test('a preview that crash-loops is reverted and never gets traffic', () => {
    const w = new World({
      spec: { version: '1.0.0', strategy: { type: 'BlueGreen' } },
      faults: { '2.0.0': 'crashloop' },
    });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '2.0.0' });
    expect(w.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
    expect(w.plans.every((p) => (p.weights.find((x) => x.version === '2.0.0')?.weight ?? 0) === 0)).toBe(
      true,
    );
  });
});

describe('the stable revision failing later', () => {
  test('fails over to the newest earlier healthy revision, warm or scaled back up', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary([], {}) } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '1.1.0' });
    w.runUntil((x) => x.status.phase === 'Healthy' && x.status.stableVersion === '1.1.0');
    w.advance(60_000);
    w.reconcile();
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(0);
    w.faults['1.1.0'] = 'crashloop';
    // New pods of 1.1.0 crash (e.g. after a node restart): recreate them.
    for (const p of w.revisions.get(hashOf('1.1.0'))!.pods) p.createdAt = w.now;
    w.advance(1000);
    w.reconcile();
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.status.lastRollback).toMatchObject({
      from: { version: '1.1.0' },
      to: { version: '1.0.0' },
      reason: 'CrashLoopBackOff',
    });
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
    expect(w.runUntil((x) => x.weightOf('1.0.0') === 100)).toBe(true);
    expect(w.status.phase).toBe('RolledBack');
  });
});

describe('invalid input keeps the world', () => {
  test('an unresolvable version is reported and nothing serving changes', () => {
    const w = new World({ spec: { version: '1.0.0' } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.missingVersions.add('9.9.9');
    w.setSpec({ version: '9.9.9' });
    const p = w.reconcile();
    expect(p.revisions).toEqual([{ hash: hashOf('1.0.0'), version: '1.0.0', replicas: 4 }]);
    expect(p.deleteRevisions).toEqual([]);
    expect(w.weightOf('1.0.0')).toBe(100);
    expect(w.condition('Ready')).toMatchObject({ status: 'False', reason: 'ModelVersionNotFound' });
    expect(w.condition('Degraded')?.message).toContain('left as they are');
  });
});

describe('revision history', () => {
  test('keeps revisionHistoryLimit earlier revisions scaled to 0 and deletes older ones', () => {
    const w = new World({
      spec: {
        version: '1.0.0',
        revisionHistoryLimit: 1,
        strategy: canary([], { canary: { steps: [], scaleDownDelaySeconds: 0 } }),
      },
    });
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) {
      w.setSpec({ version: v });
      expect(w.runUntil((x) => x.status.phase === 'Healthy' && x.status.stableVersion === v)).toBe(true);
    }
    expect([...w.revisions.keys()].sort()).toEqual([hashOf('1.2.0'), hashOf('1.3.0')]);
  });
});

describe('a settled world', () => {
  test('plans the same status again (no write needed)', () => {
    const w = new World({ spec: { version: '1.0.0' } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    const a = w.reconcile();
    w.advance(60_000);
    const b = w.reconcile();
    expect(b.status).toEqual(a.status);
    expect(b.events).toEqual([]);
    expect(b.requeueAfterMs).toBeUndefined();
  });
});

describe('requests', () => {
  test('a promote with nothing waiting is acknowledged without effect and does not skip a later pause', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary([{ setWeight: 50 }, { pause: {} }]) } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.requests = { promote: 'early' };
    const p = w.reconcile();
    expect(w.status.acknowledged?.promote).toBe('early');
    expect(p.events).toContainEqual(expect.objectContaining({ reason: 'PromoteIgnored' }));
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    w.advance(60_000);
    w.reconcile();
    expect(w.status.phase).toBe('Paused');
    expect(w.weightOf('1.1.0')).toBe(50);
  });
});

describe('found in review (each was a bug)', () => {
  const steps = [{ setWeight: 50 }, { pause: {} }];
  function rolledBackOn120(extra: object = {}) {
    const w = new World({ spec: { version: '1.0.0', strategy: canary(steps), ...extra } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.faults['1.2.0'] = 'crashloop';
    w.setSpec({ version: '1.2.0' });
    expect(w.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
    return w;
  }

  test('a retried version that fails again is blocked again (no roll-out/revert loop)', () => {
    const w = rolledBackOn120();
    w.advance(1000);
    w.requests = { retry: 'r1' };
    w.reconcile();
    expect(w.status.canaryVersion).toBe('1.2.0');
    expect(w.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
    const rollbacks = () =>
      w.status.history!.filter((h) => h.version === '1.2.0' && h.result === 'RolledBack').length;
    expect(rollbacks()).toBe(2);
    for (let i = 0; i < 10; i++) {
      w.advance(2000);
      w.reconcile();
    }
    expect(rollbacks()).toBe(2);
    expect(w.revisions.get(hashOf('1.2.0'))?.replicas).toBe(0);
  });

  test('an abort after a retry stops the canary', () => {
    const w = rolledBackOn120();
    w.faults['1.2.0'] = 'none';
    w.advance(1000);
    w.requests = { retry: 'r1' };
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    expect(w.weightOf('1.2.0')).toBe(50);
    w.requests = { ...w.requests, abort: 'a1' };
    w.reconcile();
    expect(w.weightOf('1.2.0')).toBe(0);
    expect(w.revisions.get(hashOf('1.2.0'))?.replicas).toBe(0);
  });

  test('a replicas change (an HPA) does not retry a reverted version; another version and back does', () => {
    const w = rolledBackOn120();
    w.setSpec({ replicas: 6 });
    w.advance(1000);
    w.reconcile();
    expect(w.status.canaryVersion).toBeUndefined();
    expect(w.revisions.get(hashOf('1.2.0'))?.replicas).toBe(0);
    w.setSpec({ version: '1.0.0' });
    w.reconcile();
    w.faults['1.2.0'] = 'none';
    w.setSpec({ version: '1.2.0' });
    w.advance(1000);
    w.reconcile();
    expect(w.status.canaryVersion).toBe('1.2.0');
  });

  test('scaling the stable revision up from zero is not a failure: new pods get the progress deadline', () => {
    const w = new World({
      spec: { version: '1.0.0', replicas: 2 },
      readyAfterMs: 30_000,
      unreadyGraceMs: 3000,
    });
    expect(w.runUntil((x) => x.status.phase === 'Healthy', 120_000, 1000)).toBe(true);
    w.setSpec({ replicas: 0 });
    w.reconcile();
    w.setSpec({ replicas: 4 });
    for (let i = 0; i < 20; i++) {
      w.advance(1000);
      w.reconcile();
    }
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.status.history?.some((h) => h.result === 'Failed')).toBe(false);
    expect(w.runUntil((x) => x.status.phase === 'Healthy', 60_000, 1000)).toBe(true);
  });

  test('one crash-looping pod of a serving stable revision does not fail it over', () => {
    const w = new World({ spec: { version: '1.0.0' } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '1.1.0' });
    w.runUntil((x) => x.status.stableVersion === '1.1.0' && x.status.phase === 'Healthy');
    const input = w.input();
    const stable = input.revisions.find((r) => r.version === '1.1.0')!;
    stable.pods[0] = { ...stable.pods[0]!, ready: false, waitingReason: 'CrashLoopBackOff', restarts: 5 };
    const p = planRollout({ ...input, now: w.now + 1000 });
    expect(p.status.stableVersion).toBe('1.1.0');
    expect(p.status.lastRollback).toBeUndefined();
  });

  test('with autoRollback off a halted rollout warns once, and says it is not progressing', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary(steps, { autoRollback: false }) } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.faults['1.2.0'] = 'crashloop';
    w.setSpec({ version: '1.2.0' });
    w.reconcile();
    w.advance(1500);
    const warnings: string[] = [];
    for (let i = 0; i < 5; i++) {
      warnings.push(
        ...w
          .reconcile()
          .events.filter((e) => e.type === 'Warning')
          .map((e) => e.reason),
      );
      w.advance(1000);
    }
    expect(warnings).toEqual(['CrashLoopBackOff']);
    expect(w.condition('Progressing')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
  });

  test('a stable revision failing with nothing to fail over to is Failed, Degraded, not Progressing', () => {
    const w = new World({ spec: { version: '1.0.0' } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.faults['1.0.0'] = 'crashloop';
    for (const p of w.revisions.get(hashOf('1.0.0'))!.pods) p.createdAt = w.now;
    w.advance(1500);
    w.reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(w.condition('Degraded')).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
    expect(w.condition('Progressing')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(w.condition('Progressing')?.message).not.toBe('');
  });

  test('a status lost mid-rollout resumes from the routed stable revision, not by replacing it', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary(steps) } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    w.advance(1000);
    w.reconcile();
    w.md = { ...w.md, status: {} };
    w.reconcile();
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
    expect(w.status.canaryVersion).toBe('1.1.0');
  });
});

describe('a stable revision stays established', () => {
  // Seen under load (docs/benchmarks.md, operator defects): a first deploy's first reconcile then
  // recorded nothing, so its first status could be written after its pods were Ready (and a status
  // can still be lost whole). That status must still record the version as promoted; before the fix it said Healthy with
  // no history entry, and the next version replaced it without a canary, scaling the healthy
  // revision to 0 ("the serving version never became Ready") with nothing left to revert to.
  test('a first deploy whose first status comes after its pods are Ready is promoted, and the next version gets a canary', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary([{ setWeight: 50 }, { pause: {} }]) } });
    w.reconcile();
    // What the operator's first reconcile leaves: the Deployment, no status, no route yet.
    w.md = { ...w.md, status: {} };
    w.applied = undefined;
    w.advance(5000);
    w.reconcile();
    expect(w.status.phase).toBe('Healthy');
    expect(w.status.history).toEqual([
      expect.objectContaining({ version: '1.0.0', result: 'Promoted', reason: 'Ready' }),
    ]);
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.status.canaryVersion).toBe('1.1.0');
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
  });

  test('a status lost whole: the revision serving all traffic with Ready pods is recorded as recovered, and stays protected', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary([{ setWeight: 50 }, { pause: {} }]) } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.md = { ...w.md, status: {} };
    w.reconcile();
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.status.history).toEqual([
      expect.objectContaining({ version: '1.0.0', result: 'Promoted', reason: 'Recovered' }),
    ]);
    w.reconcile();
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.status.canaryVersion).toBe('1.1.0');
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
  });

  test('a status lost whole while the spec names no ModelVersion: the hold records the recovery too', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary([{ setWeight: 50 }, { pause: {} }]) } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.md = { ...w.md, status: {} };
    w.missingVersions.add('9.9.9');
    w.setSpec({ version: '9.9.9' });
    w.reconcile();
    expect(w.status.history).toEqual([
      expect.objectContaining({ version: '1.0.0', result: 'Promoted', reason: 'Recovered' }),
    ]);
    w.setSpec({ version: '1.1.0' });
    w.reconcile();
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.status.canaryVersion).toBe('1.1.0');
  });
});

describe('a long history', () => {
  test('after more than 20 reverted rollouts the next version still gets a canary (the stable stays established)', () => {
    const w = new World({ spec: { version: '1.0.0', strategy: canary([{ setWeight: 50 }, { pause: {} }]) } });
    w.runUntil((x) => x.status.phase === 'Healthy');
    for (let i = 1; i <= 22; i++) {
      const v = `2.${i}.0`;
      w.faults[v] = 'crashloop';
      w.setSpec({ version: v });
      expect(w.runUntil((x) => x.status.phase === 'RolledBack')).toBe(true);
    }
    expect(w.status.history!.length).toBeLessThanOrEqual(20);
    expect(w.status.history!.some((h) => h.version === '1.0.0' && h.result === 'Promoted')).toBe(true);
    w.setSpec({ version: '3.0.0' });
    w.reconcile();
    expect(w.status.canaryVersion).toBe('3.0.0');
    expect(w.status.stableVersion).toBe('1.0.0');
    expect(w.revisions.get(hashOf('1.0.0'))?.replicas).toBe(4);
    expect(w.weightOf('1.0.0')).toBe(100);
  });
});

describe('traffic moves only to pods in the Service endpoints', () => {
  // The EndpointSlice controller lists a Ready pod seconds later on a busy control plane; a route
  // that weights the revision before then sends requests to a Service with no endpoint (a gateway
  // answers 503: measured on the real data plane, docs/benchmarks.md "Serving").
  test('a canary step waits for its pods to be endpoints, not only Ready; the condition says why', () => {
    const w = new World({
      spec: { version: '1.0.0', strategy: canary([{ setWeight: 50 }, { pause: {} }]) },
      readyAfterMs: 1000,
      endpointsLagMs: 3000,
    });
    w.runUntil((x) => x.status.phase === 'Healthy');
    w.setSpec({ version: '1.1.0' });
    // Ready at +1 s, an endpoint at +4 s: no weight in between.
    for (let t = 0; t < 4000; t += 250) {
      w.reconcile();
      expect(w.weightOf('1.1.0')).toBe(0);
      if (t >= 1500) {
        expect(w.readyOf('1.1.0')).toBe(2);
        expect(w.condition('Progressing')?.message).toMatch(
          /2\/2 replicas of 1\.1\.0 ready \(0 of them in the Service's endpoints yet\)/,
        );
      }
      w.advance(250);
    }
    w.advance(500);
    w.reconcile();
    expect(w.weightOf('1.1.0')).toBe(50);
  });

  test('promotion and a blue-green preview wait for the endpoints too', () => {
    const c = new World({
      spec: { version: '1.0.0', strategy: canary([{ setWeight: 25 }]) },
      readyAfterMs: 1000,
      endpointsLagMs: 3000,
    });
    c.runUntil((x) => x.status.phase === 'Healthy');
    c.setSpec({ version: '1.1.0' });
    // At every reconcile: the canary's weight is carried by pods that are endpoints (25 % = 1 of 4
    // replicas, 100 % = all 4), never by Ready pods alone.
    let took100 = false;
    for (let t = 0; t < 60_000 && !took100; t += 250) {
      c.reconcile();
      const weight = c.weightOf('1.1.0');
      if (weight > 0) expect(c.servingOf('1.1.0')).toBeGreaterThanOrEqual(weight === 100 ? 4 : 1);
      took100 = weight === 100;
      c.advance(250);
    }
    expect(took100).toBe(true);

    const b = new World({
      spec: { version: '1.0.0', strategy: { type: 'BlueGreen', blueGreen: { autoPromotionSeconds: 0 } } },
      readyAfterMs: 1000,
      endpointsLagMs: 3000,
    });
    b.runUntil((x) => x.status.phase === 'Healthy');
    b.setSpec({ version: '2.0.0' });
    b.reconcile();
    b.advance(2000);
    b.reconcile();
    expect(b.readyOf('2.0.0')).toBe(4);
    expect(b.weightOf('2.0.0')).toBe(0);
    expect(b.condition('Progressing')?.message).toMatch(
      /preview of 2\.0\.0: 4\/4 replicas of 2\.0\.0 ready \(0 of them/,
    );
    expect(b.runUntil((x) => x.weightOf('2.0.0') === 100, 60_000, 250)).toBe(true);
  });
});
