// The planner's working state: what it read (spec, previous status, observed revisions) and what it
// has decided so far, with the small queries and records every part of it uses. Pure.
import type { Failure, HealthCriteria } from '../health.js';
import { assessRevision, nextHealthDeadline } from '../health.js';
import type { ObservedRevision } from '../observed.js';
import { readyCount } from '../observed.js';
import type {
  HistoryEntry,
  Phase,
  PlanEvent,
  PlanInput,
  RolloutStatus,
  WarmRevision,
  Weight,
} from '../plan-types.js';
import type { ResolvedSpec } from '../spec.js';
import { resolveSpec } from '../spec.js';
import { parseTime } from '../time.js';
import { AnalysisBook } from './analysis.js';

/** The rollout under way: its revision, the weight it has, and the step it is at since when. */
export interface CanaryState {
  hash: string;
  version: string;
  weight: number;
  step: number;
  stepStartedAt: number;
}

export class Planner {
  readonly spec: ResolvedSpec;
  readonly prev: RolloutStatus;
  readonly gen: number | undefined;
  readonly revs: Map<string, ObservedRevision>;
  readonly nowIso: string;
  readonly events: PlanEvent[] = [];
  readonly wakeAt: number[] = [];
  readonly history: HistoryEntry[];
  readonly replicas = new Map<string, number>();
  readonly ack: NonNullable<RolloutStatus['acknowledged']>;
  warm: WarmRevision[];
  stable: string | undefined;
  /**
   * The revision the router's weights name as stable when the status names none and has no history
   * (a status lost whole: restored from a backup without status, recreated by hand); else undefined.
   */
  readonly routedStable: string | undefined;
  weights: Weight[] = [];
  phase: Phase = 'Progressing';
  canary: CanaryState | undefined;
  preview: string | undefined;
  rolloutStartedAt: number | undefined;
  desiredSince: number | undefined;
  lastRollback: RolloutStatus['lastRollback'];
  /** status.experiment as this plan leaves it (planner/experiment.ts); undefined: carried or none. */
  experiment: RolloutStatus['experiment'];
  /** A pre-traffic gate holds the rollout: a promote request waits for it, unacknowledged. */
  promoteWaits = false;
  readonly analysis: AnalysisBook;
  reasons: {
    ready: [string, string];
    progressing: [boolean | 'Unknown', string, string];
    degraded?: [string, string];
  };

  constructor(readonly input: PlanInput) {
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
    this.routedStable =
      !this.prev.stableRevision && !this.prev.history?.length && this.stable ? this.stable : undefined;
    this.warm = (this.prev.warmRevisions ?? []).filter(
      (w) => this.revs.has(w.revision) && w.revision !== this.stable,
    );
    this.reasons = { ready: ['Progressing', ''], progressing: [true, 'Progressing', ''] };
    this.analysis = new AnalysisBook(this);
  }

  /** The status says which revision is stable; if the status was lost, the router's weights do. */
  findStable(): string | undefined {
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
  established(hash: string): boolean {
    const last = this.latestEntry(hash);
    if (last) return last.result === 'Promoted';
    // A status lost whole (restored from a backup without status, recreated by hand): the
    // revision the router's weights show carrying the traffic, with ready pods, is taken as the
    // established one (and recorded so: recoverStable). Only that one: a first deploy, whose
    // status is empty too (its first reconcile records nothing), is established by its own
    // Promoted entry, even when its pods were Ready before its first status was written.
    return hash === this.routedStable && readyCount(this.revs.get(hash)) > 0;
  }

  latestEntry(hash: string): HistoryEntry | undefined {
    for (let i = this.history.length - 1; i >= 0; i--)
      if (this.history[i]!.revision === hash) return this.history[i];
    return undefined;
  }

  /** Known bad: its newest history entry is a failure. Traffic never goes back to such a revision by itself. */
  knownBad(hash: string): boolean {
    const r = this.latestEntry(hash)?.result;
    return r === 'RolledBack' || r === 'Failed';
  }

  /**
   * The desired revision is not tried again after it failed or was aborted in the current attempt,
   * until the spec asks for another revision and back, or a retry is requested after the failure.
   */
  blocked(hash: string): boolean {
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
  attemptStart(): number {
    return Math.max(parseTime(this.ack.retryAt) ?? -Infinity, this.desiredSince ?? -Infinity);
  }

  checkRollout(
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

  criteria(
    c: Pick<HealthCriteria, 'required' | 'since' | 'maxRestarts' | 'wasReady' | 'strict'>,
  ): HealthCriteria {
    return {
      ...c,
      progressDeadlineMs: this.spec.progressDeadlineMs,
      unreadyGraceMs: this.input.unreadyGraceMs,
      now: this.input.now,
    };
  }

  /**
   * Exact routers split by weight. Plain Services can only follow replica counts: the canary is
   * sized so that canary/(stable+canary) approximates the weight (the stable keeps its full size),
   * which caps the canary's share at 50% before promotion.
   */
  replicasForWeight(weight: number): number {
    const n = this.spec.replicas;
    if (weight <= 0 || n === 0) return 0;
    if (weight >= 100) return n;
    if (this.input.exactWeights) return Math.max(1, Math.ceil((n * weight) / 100));
    return Math.min(n, Math.max(1, Math.ceil((n * weight) / (100 - weight))));
  }

  splitTraffic(
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

  route(table: Array<[string, string, number]>): void {
    this.weights = table.map(([revision, version, weight]) => ({ revision, version, weight }));
  }

  takeRequest(kind: 'promote' | 'abort' | 'retry'): boolean {
    const token = this.input.requests[kind];
    if (token === undefined || token === this.ack[kind]) return false;
    this.ack[kind] = token;
    return true;
  }

  /**
   * Appends a history entry unless the revision's newest entry already says the same under this
   * generation: a reconcile that runs again over the same world must not grow the history.
   */
  pushHistory(e: Omit<HistoryEntry, 'generation' | 'finishedAt' | 'startedAt'>): boolean {
    const last = this.latestEntry(e.revision);
    const sameAttempt = last && (parseTime(last.finishedAt) ?? 0) > this.attemptStart();
    if (last && sameAttempt && last.result === e.result && last.reason === e.reason) return false;
    const entry: HistoryEntry = { ...e, finishedAt: this.nowIso };
    if (this.gen !== undefined) entry.generation = this.gen;
    if (this.rolloutStartedAt !== undefined) entry.startedAt = new Date(this.rolloutStartedAt).toISOString();
    this.history.push(entry);
    return true;
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({ type, reason, message });
  }

  degraded(reason: string, message: string): void {
    this.phase = 'Degraded';
    this.reasons.degraded = [reason, message];
    this.reasons.ready = [reason, message];
    this.reasons.progressing = [false, reason, message];
  }

  progressing(reason: string, message: string, status: boolean | 'Unknown' = true): void {
    if (this.phase !== 'Paused' && this.phase !== 'Degraded' && this.phase !== 'Failed')
      this.phase = 'Progressing';
    this.reasons.ready = [reason, message];
    this.reasons.progressing = [status, reason, message];
  }

  wake(at: number | undefined): void {
    if (at !== undefined) this.wakeAt.push(at);
  }

  desiredVersion(): string {
    return this.input.desired.ok ? this.input.desired.revision.version : this.spec.version;
  }
}
