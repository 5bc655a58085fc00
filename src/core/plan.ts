import type { ModelDeployment } from '../api/index.js';
import type { Failure, HealthCriteria } from './health.js';
import { assessRevision, nextHealthDeadline } from './health.js';
import type { ObservedRevision } from './observed.js';
import { readyCount } from './observed.js';
import type { ResolvedSpec } from './spec.js';
import { resolveSpec } from './spec.js';
import { computeStatus } from './status.js';
import type {
  HistoryEntry,
  Phase,
  PlanEvent,
  PlanInput,
  Plan,
  RolloutStatus,
  WarmRevision,
  Weight,
} from './plan-types.js';

export type * from './plan-types.js';

/**
 * The rollout state machine: from the spec, the previous status and the observed revisions, it
 * decides which revisions exist at which size, how traffic is split, and what the status says.
 * Pure: the same input gives the same plan, so a reconcile can run any time, any number of times.
 *
 * Safety rules it keeps (property-tested in plan.property.test.ts):
 * - weights always sum to 100;
 * - traffic never moves to a revision known to have failed;
 * - the stable revision keeps its full size until a successor is Ready and promoted;
 * - a failing new revision is reverted the moment its pods show the failure.
 */
export function planRollout(input: PlanInput): Plan {
  return new Planner(input).plan();
}

class Planner {
  private readonly spec: ResolvedSpec;
  private readonly prev: RolloutStatus;
  private readonly gen: number | undefined;
  private readonly revs: Map<string, ObservedRevision>;
  private readonly nowIso: string;
  private readonly events: PlanEvent[] = [];
  private readonly wakeAt: number[] = [];
  private readonly history: HistoryEntry[];
  private readonly replicas = new Map<string, number>();
  private readonly ack: NonNullable<RolloutStatus['acknowledged']>;
  private warm: WarmRevision[];
  private stable: string | undefined;
  private weights: Weight[] = [];
  private phase: Phase = 'Progressing';
  private canary:
    { hash: string; version: string; weight: number; step: number; stepStartedAt: number } | undefined;
  private preview: string | undefined;
  private rolloutStartedAt: number | undefined;
  private desiredSince: number | undefined;
  private lastRollback: RolloutStatus['lastRollback'];
  private reasons: {
    ready: [string, string];
    progressing: [boolean | 'Unknown', string, string];
    degraded?: [string, string];
  };

  constructor(private readonly input: PlanInput) {
    this.spec = resolveSpec(input.md);
    this.prev = (input.md.status ?? {}) as RolloutStatus;
    this.gen = input.md.metadata?.generation;
    this.revs = new Map(input.revisions.map((r) => [r.hash, r]));
    this.nowIso = new Date(input.now).toISOString();
    this.history = [...(this.prev.history ?? [])];
    this.ack = { ...(this.prev.acknowledged ?? {}) };
    this.lastRollback = this.prev.lastRollback;
    this.rolloutStartedAt = parseTime(this.prev.rolloutStartedAt);
    this.stable = this.findStable();
    this.warm = (this.prev.warmRevisions ?? []).filter(
      (w) => this.revs.has(w.revision) && w.revision !== this.stable,
    );
    this.reasons = { ready: ['Progressing', ''], progressing: [true, 'Progressing', ''] };
  }

  plan(): Plan {
    const desired = this.input.desired;
    if (!desired.ok) return this.hold(desired.reason, desired.message);
    const d = desired.revision;
    const p = this.prev;
    this.desiredSince =
      p.desiredRevision === d.hash ? (parseTime(p.desiredSince) ?? this.input.now) : this.input.now;
    this.handleRequests();

    const stableFailure = this.checkStable();
    if (!this.stable) {
      this.firstDeploy(d.hash, d.version);
    } else if (d.hash === this.stable) {
      this.steady();
    } else if (this.blocked(d.hash)) {
      this.rolledBack(d.hash, d.version);
    } else if (this.spec.paused && this.prev.canaryRevision !== d.hash) {
      this.pausedBeforeStart(d.version);
    } else if (stableFailure || !this.established(this.stable)) {
      // Nothing healthy to protect: the new version replaces the old one without a canary.
      this.replace(d.hash, d.version, stableFailure ? 'StableUnhealthy' : 'StableNotEstablished');
    } else if (this.spec.strategy === 'BlueGreen') {
      this.blueGreen(d.hash, d.version);
    } else {
      this.canaryRollout(d.hash, d.version);
    }
    return this.finish();
  }

  // ---- the stable revision -------------------------------------------------------------------

  /** The status says which revision is stable; if the status was lost, the router's weights do. */
  private findStable(): string | undefined {
    const s = this.prev.stableRevision;
    if (s && this.revs.has(s)) return s;
    const applied = this.input.appliedWeights;
    if (!applied) return undefined;
    let best: string | undefined;
    let bestWeight = 0;
    for (const [rev, w] of applied) {
      if (this.revs.has(rev) && w > bestWeight) [best, bestWeight] = [rev, w];
    }
    return best;
  }

  /** A revision is established once it has been Ready and promoted (its newest history entry says so). */
  private established(hash: string): boolean {
    const last = this.latestEntry(hash);
    if (last) return last.result === 'Promoted';
    // A status lost whole (restored from a backup without status, recreated by hand): the
    // revision found carrying the traffic, with ready pods, is taken as the established one.
    return (
      !this.prev.stableRevision &&
      !this.prev.history?.length &&
      hash === this.stable &&
      readyCount(this.revs.get(hash)) > 0
    );
  }

  private latestEntry(hash: string): HistoryEntry | undefined {
    for (let i = this.history.length - 1; i >= 0; i--)
      if (this.history[i]!.revision === hash) return this.history[i];
    return undefined;
  }

  /** Known bad: its newest history entry is a failure. Traffic never goes back to such a revision by itself. */
  private knownBad(hash: string): boolean {
    const r = this.latestEntry(hash)?.result;
    return r === 'RolledBack' || r === 'Failed';
  }

  /**
   * The desired revision is not tried again after it failed or was aborted in the current attempt,
   * until the spec asks for another revision and back, or a retry is requested after the failure.
   */
  private blocked(hash: string): boolean {
    const since = this.attemptStart();
    return this.history.some(
      (h) =>
        h.revision === hash &&
        (h.result === 'RolledBack' || h.result === 'Failed' || h.result === 'Aborted') &&
        (parseTime(h.finishedAt) ?? 0) > since,
    );
  }

  /**
   * Start of the current attempt at the desired revision: when the spec began asking for it, or
   * the last retry, whichever is later. Replicas alone (an HPA, kubectl scale) do not start one.
   */
  private attemptStart(): number {
    return Math.max(parseTime(this.ack.retryAt) ?? -Infinity, this.desiredSince ?? -Infinity);
  }

  /**
   * An established stable revision that crash-loops, cannot pull its image, or has no Ready pod for
   * longer than the grace is failed over to the newest earlier revision that was healthy.
   * Restart counts alone do not fail a long-running stable revision: over weeks they add up.
   */
  private checkStable(): Failure | undefined {
    const s = this.stable;
    if (!s || !this.established(s)) return undefined;
    const rev = this.revs.get(s)!;
    const required = this.spec.replicas > 0 ? 1 : 0;
    const crit = this.criteria({
      required,
      since: this.input.now,
      maxRestarts: undefined,
      wasReady: true,
      strict: false,
    });
    const failure = assessRevision(rev, crit);
    if (!failure) {
      this.wake(nextHealthDeadline(rev, crit));
      return undefined;
    }
    const target = this.fallbackFor(s);
    const fresh = this.recordFailure(s, rev.version, 'Failed', failure);
    if (!target) {
      const msg = `${failure.message}; no earlier healthy revision to fail over to`;
      if (fresh) this.event('Warning', failure.reason, msg);
      this.degraded(failure.reason, msg);
      return failure;
    }
    const to = this.revs.get(target)!;
    this.rollbackRecord(s, rev.version, target, to.version, failure);
    this.stable = target;
    this.warm = this.warm.filter((w) => w.revision !== target);
    return undefined;
  }

  /** The newest earlier revision that was once promoted and is not known bad. */
  private fallbackFor(failed: string): string | undefined {
    const promoted: string[] = [];
    for (let i = this.history.length - 1; i >= 0; i--) {
      const h = this.history[i]!;
      if (h.result === 'Promoted' && h.revision !== failed && !promoted.includes(h.revision))
        promoted.push(h.revision);
    }
    return promoted.find((h) => this.revs.has(h) && !this.knownBad(h));
  }

  // ---- branches --------------------------------------------------------------------------------

  private firstDeploy(hash: string, version: string): void {
    this.stable = hash;
    this.rolloutStartedAt = this.input.now;
    this.event(
      'Normal',
      'Deploying',
      `deploying version ${version} (revision ${hash}) with ${this.spec.replicas} replicas`,
    );
    this.steady();
  }

  /** The desired revision is the stable one: full size, all traffic; finish a first deploy. */
  private steady(): void {
    const s = this.stable!;
    const rev = this.revs.get(s);
    const version = rev?.version ?? this.desiredVersion();
    this.endCanary(`spec.version is back to ${version}`);
    this.replicas.set(s, this.spec.replicas);
    this.route([[s, version, 100]]);
    const ready = readyCount(rev);
    if (!this.established(s)) {
      const since = this.rolloutStartedAt ?? this.input.now;
      this.rolloutStartedAt = since;
      const failure = rev && this.checkRollout(rev, this.spec.replicas, since, false);
      if (failure) {
        const msg = `${failure.message}; no earlier revision to revert to`;
        if (this.recordFailure(s, version, 'Failed', failure)) this.event('Warning', failure.reason, msg);
        this.degraded(failure.reason, msg);
        this.phase = 'Failed';
        return;
      }
      if (ready >= this.spec.replicas && rev) {
        const fresh = this.pushHistory({
          revision: s,
          version,
          result: 'Promoted',
          reason: 'Ready',
          message: `version ${version} is Ready`,
        });
        if (fresh)
          this.event(
            'Normal',
            'Ready',
            `version ${version} (revision ${s}) is Ready with ${ready}/${this.spec.replicas} replicas`,
          );
        this.rolloutStartedAt = undefined;
      } else {
        this.progressing('Deploying', `version ${version}: ${ready}/${this.spec.replicas} replicas ready`);
        return;
      }
    }
    if (this.phase === 'Degraded' || this.phase === 'Failed') return;
    if (ready < this.spec.replicas) {
      this.progressing('Scaling', `version ${version}: ${ready}/${this.spec.replicas} replicas ready`);
      return;
    }
    this.phase = 'Healthy';
    this.reasons.ready = [
      'RolloutComplete',
      `version ${version} serves all traffic with ${ready}/${this.spec.replicas} replicas ready`,
    ];
    this.reasons.progressing = [false, 'RolloutComplete', `version ${version} is rolled out`];
  }

  /** The desired revision failed (or was aborted) under this generation: stay on the stable one. */
  private rolledBack(hash: string, version: string): void {
    this.endCanary(`superseded by ${version}`);
    const s = this.stable!;
    const sVersion = this.revs.get(s)!.version;
    const failing = this.revs.get(hash);
    this.replicas.set(s, this.spec.replicas);
    if (readyCount(this.revs.get(s)) === 0 && failing && readyCount(failing) > 0 && this.spec.replicas > 0) {
      // A failed-over stable whose fallback has no Ready pod yet: the failing revision keeps the
      // traffic it still serves, at its size, until the fallback can take it.
      this.replicas.set(hash, failing.replicas);
      this.route([
        [hash, version, 100],
        [s, sVersion, 0],
      ]);
    } else {
      this.replicas.set(hash, 0);
      this.route([[s, sVersion, 100]]);
    }
    const entry = this.latestEntry(hash);
    const why = entry?.result === 'Aborted' ? 'Aborted' : 'RolledBack';
    if (this.phase !== 'Failed') this.phase = 'RolledBack';
    const msg = `version ${version} ${why === 'Aborted' ? 'was aborted' : `failed (${entry?.reason ?? 'unknown'})`}; traffic stays on ${sVersion}. Change spec.version, or request a retry (annotation modelship.io/retry)`;
    this.reasons.ready = [why, msg];
    this.reasons.progressing = [false, why, msg];
    if (!this.reasons.degraded) {
      // Said as the revert said it (rollbackRecord), so the reconciles after a revert do not
      // rewrite the condition with a shorter message.
      const lr = this.lastRollback;
      this.reasons.degraded =
        why === 'RolledBack' && lr?.from?.revision === hash && lr.reason && lr.reason === entry?.reason
          ? [lr.reason, `reverted from ${lr.from.version} to ${lr.to?.version}: ${lr.message}`]
          : [entry?.reason ?? why, entry?.message ?? msg];
    }
  }

  private replace(hash: string, version: string, why: string): void {
    const old = this.stable!;
    this.endCanary(`replaced by ${version}`);
    if (this.revs.has(old) && !this.knownBad(old)) {
      this.pushHistory({
        revision: old,
        version: this.revs.get(old)!.version,
        result: 'Superseded',
        reason: why,
        message: `replaced by ${version}`,
      });
    }
    this.replicas.set(old, 0);
    this.warm = this.warm.filter((w) => w.revision !== old);
    this.stable = hash;
    this.rolloutStartedAt = this.input.now;
    this.phase = 'Progressing';
    delete this.reasons.degraded;
    this.event(
      'Normal',
      'Deploying',
      `deploying version ${version} (revision ${hash}) directly: ${why === 'StableUnhealthy' ? 'the serving version is unhealthy' : 'the serving version never became Ready'}`,
    );
    this.steady();
  }

  private canaryRollout(hash: string, version: string): void {
    const s = this.stable!;
    const stableRev = this.revs.get(s)!;
    const c = this.startOrResume(hash, version);
    const rev = this.revs.get(hash);
    const steps = this.spec.steps;
    this.replicas.set(s, this.spec.replicas);

    let failure: Failure | undefined;
    let waiting: string | undefined;
    let targetReplicas = this.replicasForWeight(c.weight);
    while (!waiting) {
      const step = steps[c.step];
      if (this.spec.paused) {
        // Frozen: no step moves, sizes stay as they are; failures are still acted on.
        targetReplicas = rev?.replicas ?? 0;
        failure = this.checkCanary(rev, c, Math.min(targetReplicas, this.replicasForWeight(c.weight)));
        waiting = 'paused';
        this.pausedPhase();
        break;
      }
      if (!step) {
        // After the last step: the canary grows to full size, then takes all traffic.
        targetReplicas = this.spec.replicas;
        failure = this.checkCanary(rev, c, targetReplicas);
        if (failure) break;
        if (readyCount(rev) >= targetReplicas) return this.promote(hash, version, s, stableRev.version);
        waiting = `promoting: ${readyCount(rev)}/${targetReplicas} replicas of ${version} ready`;
      } else if ('setWeight' in step) {
        targetReplicas = Math.max(this.replicasForWeight(step.setWeight), this.replicasForWeight(c.weight));
        failure = this.checkCanary(rev, c, targetReplicas);
        if (failure) break;
        if (readyCount(rev) >= this.replicasForWeight(step.setWeight)) {
          c.weight = step.setWeight;
          this.advance(c);
          continue;
        }
        waiting = `step ${c.step + 1}/${steps.length}: waiting for ${this.replicasForWeight(step.setWeight)} ready replicas of ${version} before setting weight ${step.setWeight}%`;
      } else {
        targetReplicas = this.replicasForWeight(c.weight);
        failure = this.checkCanary(rev, c, targetReplicas);
        if (failure) break;
        if (this.takeRequest('promote')) {
          this.advance(c);
          continue;
        }
        if (step.pauseMs !== undefined) {
          const end = c.stepStartedAt + step.pauseMs;
          if (this.input.now >= end) {
            this.advance(c);
            continue;
          }
          this.wake(end);
          waiting = `step ${c.step + 1}/${steps.length}: paused for ${Math.ceil((end - this.input.now) / 1000)}s more at weight ${c.weight}%`;
        } else {
          waiting = `step ${c.step + 1}/${steps.length}: paused at weight ${c.weight}% until promoted (annotation modelship.io/promote)`;
          this.phase = 'Paused';
          this.progressing('WaitingForPromotion', waiting, 'Unknown');
        }
      }
    }
    this.replicas.set(hash, targetReplicas);
    if (failure) return this.canaryFailed(c, failure, s, stableRev.version);
    this.canary = c;
    this.splitTraffic(s, stableRev.version, hash, version, c.weight);
    if (this.phase !== 'Paused') this.progressing('CanaryStep', waiting ?? '');
  }

  private blueGreen(hash: string, version: string): void {
    const s = this.stable!;
    const stableRev = this.revs.get(s)!;
    const c = this.startOrResume(hash, version);
    const rev = this.revs.get(hash);
    this.replicas.set(s, this.spec.replicas);
    this.replicas.set(hash, this.spec.replicas);
    this.preview = hash;
    // Before the preview was Ready: the progress deadline; after: losing readiness fails it.
    const failure = rev && this.checkRollout(rev, this.spec.replicas, c.stepStartedAt, c.step >= 1);
    if (failure) return this.canaryFailed(c, failure, s, stableRev.version);
    if (this.spec.paused) {
      this.canary = c;
      this.replicas.set(hash, rev?.replicas ?? 0);
      this.route([
        [s, stableRev.version, 100],
        [hash, version, 0],
      ]);
      this.pausedPhase();
      return;
    }
    if (c.step === 0 && readyCount(rev) >= this.spec.replicas) this.advance(c);
    this.canary = c;
    this.route([
      [s, stableRev.version, 100],
      [hash, version, 0],
    ]);
    if (c.step === 0) {
      this.progressing(
        'PreviewStarting',
        `preview of ${version}: ${readyCount(rev)}/${this.spec.replicas} replicas ready`,
      );
      return;
    }
    const bg = this.spec.blueGreen;
    if (this.takeRequest('promote')) return this.promote(hash, version, s, stableRev.version);
    if (bg.autoPromotionEnabled) {
      const at = c.stepStartedAt + bg.autoPromotionMs;
      if (this.input.now >= at) return this.promote(hash, version, s, stableRev.version);
      this.wake(at);
      this.progressing(
        'PreviewReady',
        `preview of ${version} is Ready; switching traffic in ${Math.ceil((at - this.input.now) / 1000)}s`,
      );
      return;
    }
    this.phase = 'Paused';
    this.progressing(
      'WaitingForPromotion',
      `preview of ${version} is Ready; waiting for promotion (annotation modelship.io/promote)`,
      'Unknown',
    );
  }

  /** spec.paused before the new version's rollout began: it does not begin. */
  private pausedBeforeStart(version: string): void {
    const s = this.stable!;
    this.replicas.set(s, this.spec.replicas);
    this.route([[s, this.revs.get(s)!.version, 100]]);
    this.pausedPhase(`spec.paused is true: the rollout of ${version} has not started`);
  }

  private pausedPhase(
    message = 'spec.paused is true: the rollout is frozen; traffic and sizes stay as they are',
  ): void {
    this.phase = 'Paused';
    this.reasons.ready = ['Paused', message];
    this.reasons.progressing = ['Unknown', 'Paused', message];
  }

  // ---- canary helpers --------------------------------------------------------------------------

  private startOrResume(
    hash: string,
    version: string,
  ): { hash: string; version: string; weight: number; step: number; stepStartedAt: number } {
    const p = this.prev;
    if (p.canaryRevision === hash) {
      const step = p.currentStepIndex ?? 0;
      return {
        hash,
        version,
        weight: this.weightBefore(step),
        step,
        stepStartedAt: parseTime(p.currentStepStartedAt) ?? this.input.now,
      };
    }
    this.endCanary(`superseded by ${version}`);
    this.rolloutStartedAt = this.input.now;
    this.event(
      'Normal',
      'RolloutStarted',
      `rolling out version ${version} (revision ${hash}) with strategy ${this.spec.strategy}`,
    );
    return { hash, version, weight: 0, step: 0, stepStartedAt: this.input.now };
  }

  /**
   * Ends the previous rollout's canary when it is no longer the target (the spec changed
   * mid-rollout): it is scaled to 0 and kept for inspection, with one history entry.
   */
  private endCanary(message: string): void {
    const p = this.prev.canaryRevision;
    if (!p || p === this.stable || !this.revs.has(p)) return;
    if (this.input.desired.ok && p === this.input.desired.revision.hash) return;
    this.replicas.set(p, 0);
    const version = this.revs.get(p)!.version;
    if (this.pushHistory({ revision: p, version, result: 'Superseded', reason: 'Superseded', message })) {
      this.event(
        'Normal',
        'Superseded',
        `rollout of version ${version} (revision ${p}) superseded: ${message}`,
      );
    }
  }

  /** The canary's weight once steps[0..step-1] are done: the last setWeight among them. */
  private weightBefore(step: number): number {
    let w = 0;
    for (const s of this.spec.steps.slice(0, step)) if ('setWeight' in s) w = s.setWeight;
    return w;
  }

  private advance(c: { step: number; stepStartedAt: number }): void {
    c.step += 1;
    c.stepStartedAt = this.input.now;
  }

  private checkCanary(
    rev: ObservedRevision | undefined,
    c: { weight: number; stepStartedAt: number },
    required: number,
  ): Failure | undefined {
    if (!rev) {
      // Not created yet: the deadline still runs from the step's start.
      if (required > 0) this.wake(c.stepStartedAt + this.spec.progressDeadlineMs);
      return undefined;
    }
    if (c.weight > 0) {
      const lost = this.checkRollout(rev, this.replicasForWeight(c.weight), c.stepStartedAt, true);
      if (lost) return lost;
    }
    return this.checkRollout(rev, required, c.stepStartedAt, false);
  }

  private checkRollout(
    rev: ObservedRevision,
    required: number,
    since: number,
    wasReady: boolean,
  ): Failure | undefined {
    const crit = this.criteria({
      required,
      since,
      maxRestarts: this.spec.maxRestarts,
      wasReady,
      strict: true,
    });
    const f = assessRevision(rev, crit);
    if (!f) this.wake(nextHealthDeadline(rev, crit));
    return f;
  }

  private criteria(
    c: Pick<HealthCriteria, 'required' | 'since' | 'maxRestarts' | 'wasReady' | 'strict'>,
  ): HealthCriteria {
    return {
      ...c,
      progressDeadlineMs: this.spec.progressDeadlineMs,
      unreadyGraceMs: this.input.unreadyGraceMs,
      now: this.input.now,
    };
  }

  private canaryFailed(
    c: { hash: string; version: string; weight: number; step: number; stepStartedAt: number },
    failure: Failure,
    stable: string,
    stableVersion: string,
  ): void {
    if (!this.spec.autoRollback) {
      // Hold: the rollout stops where it is; a person decides (abort, retry, or a spec change).
      this.canary = c;
      this.replicas.set(c.hash, this.replicas.get(c.hash) ?? this.replicasForWeight(c.weight));
      this.splitTraffic(stable, stableVersion, c.hash, c.version, c.weight);
      const prevDegraded = this.prev.conditions?.find((x) => x.type === 'Degraded');
      if (prevDegraded?.status !== 'True' || prevDegraded.reason !== failure.reason) {
        this.event(
          'Warning',
          failure.reason,
          `${failure.message}; autoRollback is off, the rollout is halted`,
        );
      }
      this.degraded(failure.reason, `${failure.message}; autoRollback is off: abort or retry the rollout`);
      return;
    }
    this.replicas.set(c.hash, 0);
    this.recordFailure(c.hash, c.version, 'RolledBack', failure);
    this.rollbackRecord(c.hash, c.version, stable, stableVersion, failure);
    this.rolledBack(c.hash, c.version);
  }

  private promote(hash: string, version: string, old: string, oldVersion: string): void {
    this.replicas.set(hash, this.spec.replicas);
    this.stable = hash;
    if (this.spec.scaleDownDelayMs > 0) {
      const at = this.input.now + this.spec.scaleDownDelayMs;
      this.warm = [
        ...this.warm.filter((w) => w.revision !== old),
        { revision: old, version: oldVersion, scaleDownAt: new Date(at).toISOString() },
      ];
    } else {
      this.replicas.set(old, 0);
    }
    const fresh = this.pushHistory({
      revision: hash,
      version,
      result: 'Promoted',
      reason: 'Promoted',
      message: `version ${version} replaced ${oldVersion}`,
    });
    if (fresh)
      this.event(
        'Normal',
        'Promoted',
        `version ${version} (revision ${hash}) promoted: it serves all traffic; ${oldVersion} kept warm for ${this.spec.scaleDownDelayMs / 1000}s`,
      );
    this.rolloutStartedAt = undefined;
    this.canary = undefined;
    this.preview = undefined;
    this.route([[hash, version, 100]]);
    const ready = readyCount(this.revs.get(hash));
    this.phase = 'Healthy';
    this.reasons.ready = [
      'RolloutComplete',
      `version ${version} serves all traffic with ${ready}/${this.spec.replicas} replicas ready`,
    ];
    this.reasons.progressing = [false, 'RolloutComplete', `version ${version} is rolled out`];
  }

  // ---- traffic ---------------------------------------------------------------------------------

  /**
   * Exact routers split by weight. Plain Services can only follow replica counts: the canary is
   * sized so that canary/(stable+canary) approximates the weight (the stable keeps its full size),
   * which caps the canary's share at 50% before promotion.
   */
  private replicasForWeight(weight: number): number {
    const n = this.spec.replicas;
    if (weight <= 0 || n === 0) return 0;
    if (weight >= 100) return n;
    if (this.input.exactWeights) return Math.max(1, Math.ceil((n * weight) / 100));
    return Math.min(n, Math.max(1, Math.ceil((n * weight) / (100 - weight))));
  }

  private splitTraffic(
    stable: string,
    stableVersion: string,
    canary: string,
    canaryVersion: string,
    weight: number,
  ): void {
    if (this.input.exactWeights) {
      this.route([
        [stable, stableVersion, 100 - weight],
        [canary, canaryVersion, weight],
      ]);
      return;
    }
    // Plain Services: what clients see follows the ready pods of both revisions.
    const sr = readyCount(this.revs.get(stable));
    const cr = weight > 0 ? Math.min(readyCount(this.revs.get(canary)), this.replicasForWeight(weight)) : 0;
    const eff = sr + cr === 0 ? 0 : Math.round((100 * cr) / (sr + cr));
    this.route([
      [stable, stableVersion, 100 - eff],
      [canary, canaryVersion, eff],
    ]);
  }

  private route(table: Array<[string, string, number]>): void {
    this.weights = table.map(([revision, version, weight]) => ({ revision, version, weight }));
  }

  // ---- requests ---------------------------------------------------------------------------------

  /** promote/abort/retry are requested by annotation tokens; a token is acted on once (status.acknowledged). */
  private handleRequests(): void {
    if (this.takeRequest('retry')) {
      this.ack.retryAt = this.nowIso;
      // A retried first deploy gets a fresh progress deadline.
      if (this.stable && !this.established(this.stable)) this.rolloutStartedAt = this.input.now;
      this.event('Normal', 'RetryRequested', 'retry requested: the desired version will be rolled out again');
    }
    if (this.takeRequest('abort')) {
      const c = this.prev.canaryRevision;
      if (c && this.revs.has(c) && c !== this.stable) {
        this.pushHistory({
          revision: c,
          version: this.revs.get(c)!.version,
          result: 'Aborted',
          reason: 'AbortRequested',
          message: 'rollout aborted on request',
        });
        this.event(
          'Warning',
          'Aborted',
          `rollout of ${this.revs.get(c)!.version} aborted on request; traffic back on the stable version`,
        );
        this.replicas.set(c, 0);
      }
    }
  }

  private takeRequest(kind: 'promote' | 'abort' | 'retry'): boolean {
    const token = this.input.requests[kind];
    if (token === undefined || token === this.ack[kind]) return false;
    this.ack[kind] = token;
    return true;
  }

  // ---- records ----------------------------------------------------------------------------------

  private recordFailure(hash: string, version: string, result: 'RolledBack' | 'Failed', f: Failure): boolean {
    return this.pushHistory({ revision: hash, version, result, reason: f.reason, message: f.message });
  }

  private rollbackRecord(from: string, fromVersion: string, to: string, toVersion: string, f: Failure): void {
    this.lastRollback = {
      from: { revision: from, version: fromVersion },
      to: { revision: to, version: toVersion },
      reason: f.reason,
      message: f.message,
      time: this.nowIso,
    };
    this.event('Warning', 'RolledBack', `traffic reverted from ${fromVersion} to ${toVersion}: ${f.message}`);
    this.degraded(f.reason, `reverted from ${fromVersion} to ${toVersion}: ${f.message}`);
  }

  /**
   * Appends a history entry unless the revision's newest entry already says the same under this
   * generation: a reconcile that runs again over the same world must not grow the history.
   */
  private pushHistory(e: Omit<HistoryEntry, 'generation' | 'finishedAt' | 'startedAt'>): boolean {
    const last = this.latestEntry(e.revision);
    const sameAttempt = last && (parseTime(last.finishedAt) ?? 0) > this.attemptStart();
    if (last && sameAttempt && last.result === e.result && last.reason === e.reason) return false;
    const entry: HistoryEntry = { ...e, finishedAt: this.nowIso };
    if (this.gen !== undefined) entry.generation = this.gen;
    if (this.rolloutStartedAt !== undefined) entry.startedAt = new Date(this.rolloutStartedAt).toISOString();
    this.history.push(entry);
    return true;
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({ type, reason, message });
  }

  private degraded(reason: string, message: string): void {
    this.phase = 'Degraded';
    this.reasons.degraded = [reason, message];
    this.reasons.ready = [reason, message];
    this.reasons.progressing = [false, reason, message];
  }

  private progressing(reason: string, message: string, status: boolean | 'Unknown' = true): void {
    if (this.phase !== 'Paused' && this.phase !== 'Degraded' && this.phase !== 'Failed')
      this.phase = 'Progressing';
    this.reasons.ready = [reason, message];
    this.reasons.progressing = [status, reason, message];
  }

  private wake(at: number | undefined): void {
    if (at !== undefined) this.wakeAt.push(at);
  }

  private desiredVersion(): string {
    return this.input.desired.ok ? this.input.desired.revision.version : this.spec.version;
  }

  // ---- the world as it is when the desired version cannot be resolved -------------------------

  /** Invalid or unresolvable spec: report it and keep every serving revision exactly as it is. */
  private hold(reason: string, message: string): Plan {
    for (const r of this.input.revisions) this.replicas.set(r.hash, r.replicas);
    const traffic = this.prev.traffic ?? [];
    this.weights = traffic
      .filter((t) => this.revs.has(t.revision))
      .map((t) => ({
        revision: t.revision,
        version: t.version ?? this.revs.get(t.revision)!.version,
        weight: t.weight,
      }));
    if (this.prev.canaryRevision && this.revs.has(this.prev.canaryRevision)) {
      this.canary = {
        hash: this.prev.canaryRevision,
        version: this.revs.get(this.prev.canaryRevision)!.version,
        weight: this.prev.canaryWeight ?? 0,
        step: this.prev.currentStepIndex ?? 0,
        stepStartedAt: parseTime(this.prev.currentStepStartedAt) ?? this.input.now,
      };
    }
    this.warm = this.prev.warmRevisions ?? [];
    this.degraded(reason, `${message}; the serving revisions are left as they are`);
    this.reasons.progressing = [false, reason, message];
    return this.finish({ keepAll: true });
  }

  // ---- output -----------------------------------------------------------------------------------

  private finish(opts: { keepAll?: boolean } = {}): Plan {
    const now = this.input.now;
    // A promote request acts on a pause (or a ready blue-green preview) that is waiting now; one that
    // found none is acknowledged without effect, so it cannot skip a pause of a later rollout.
    if (!opts.keepAll && this.takeRequest('promote')) {
      this.event(
        'Normal',
        'PromoteIgnored',
        'promote requested, but no rollout is waiting at a pause: nothing to promote',
      );
    }
    // Warm revisions keep their size until their time is up.
    const stillWarm: WarmRevision[] = [];
    for (const w of this.warm) {
      if (w.revision === this.stable || !this.revs.has(w.revision)) continue;
      const at = parseTime(w.scaleDownAt) ?? now;
      const split = !this.input.exactWeights && this.weights.filter((x) => x.weight > 0).length > 1;
      if (at > now && !split && !this.knownBad(w.revision)) {
        stillWarm.push(w);
        if (!this.replicas.has(w.revision)) this.replicas.set(w.revision, this.spec.replicas);
        this.wake(at);
      } else if (!this.replicas.has(w.revision)) {
        this.replicas.set(w.revision, 0);
      }
    }

    // Keep: every revision with a size or a role, plus revisionHistoryLimit more (newest first).
    const keep = new Set<string>([...this.replicas.keys()].filter((h) => (this.replicas.get(h) ?? 0) > 0));
    for (const h of [this.stable, this.canary?.hash, this.preview, ...stillWarm.map((w) => w.revision)])
      if (h) keep.add(h);
    const desired = this.input.desired.ok ? this.input.desired.revision : undefined;
    // The desired revision is created only once a branch gives it a size (not while paused before start).
    if (desired && (this.revs.has(desired.hash) || this.replicas.has(desired.hash))) keep.add(desired.hash);
    const others = this.input.revisions
      .filter((r) => !keep.has(r.hash))
      .sort((a, b) => b.createdAt - a.createdAt || a.hash.localeCompare(b.hash));
    const limit = opts.keepAll ? Infinity : this.spec.revisionHistoryLimit;
    const retained = others.slice(0, limit);
    const deleted = others.slice(limit).map((r) => r.hash);

    const revisions = new Map<string, { hash: string; version: string; replicas: number }>();
    const versionOf = (h: string): string =>
      this.revs.get(h)?.version ?? (desired?.hash === h ? desired.version : '');
    for (const h of keep)
      revisions.set(h, { hash: h, version: versionOf(h), replicas: this.replicas.get(h) ?? 0 });
    for (const r of retained)
      revisions.set(r.hash, { hash: r.hash, version: r.version, replicas: this.replicas.get(r.hash) ?? 0 });

    const status = this.buildStatus(stillWarm);
    const future = this.wakeAt.filter((t) => t > now);
    const requeueAfterMs = future.length ? Math.max(1, Math.min(...future) - now) : undefined;
    const plan: Plan = {
      revisions: [...revisions.values()].sort((a, b) => a.hash.localeCompare(b.hash)),
      deleteRevisions: deleted,
      weights: this.weights,
      status,
      events: this.events,
    };
    if (requeueAfterMs !== undefined) plan.requeueAfterMs = requeueAfterMs;
    if (this.preview && this.spec.blueGreen.previewService) plan.previewRevision = this.preview;
    return plan;
  }

  private buildStatus(warm: WarmRevision[]): RolloutStatus {
    return computeStatus({
      input: this.input,
      spec: this.spec,
      previous: this.prev,
      nowIso: this.nowIso,
      phase: this.phase,
      reasons: this.reasons,
      stable: this.stable,
      canary: this.canary,
      weights: this.weights,
      history: this.history,
      rolloutStartedAt: this.rolloutStartedAt,
      desiredSince: this.desiredSince,
      lastRollback: this.lastRollback,
      warm,
      acknowledged: this.ack,
    });
  }
}

function parseTime(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** The ModelDeployment's own control requests, read from its annotations. */
export function readRequests(md: ModelDeployment): PlanInput['requests'] {
  const a = md.metadata?.annotations ?? {};
  const out: PlanInput['requests'] = {};
  for (const k of ['promote', 'abort', 'retry'] as const) {
    const v = a[`modelship.io/${k}`];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}
