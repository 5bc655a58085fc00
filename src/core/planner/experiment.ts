// The Experiment strategy: spec.version (the challenger) and strategy.experiment.arms run beside the
// stable revision at fixed weights for a duration, without promoting; then traffic goes back to the
// stable revision, or, with onEnd PromoteIfWinner and the challenger the winner, it is promoted
// through the normal promotion. Pure.
//
// Rules (property-tested in experiment.property.test.ts):
// - weights sum to 100: the stable revision gets what the serving versions do not;
// - a version gets its weight only once it has a serving pod (Ready and in its Service's
//   endpoints), and weight 0 (its share to the stable revision) from the reconcile that sees it fail
//   (progress deadline, crash loop, readiness lost past the grace), for the rest of the experiment;
//   the others go on;
// - nothing is promoted unless onEnd is PromoteIfWinner and the challenger won: an experiment that
//   ends otherwise (or whose spec changes) leaves the stable revision as it was.
import { resolveAnalysis } from '../analysis/spec.js';
import type { Failure } from '../health.js';
import { readiness, servingCount } from '../observed.js';
import type { ArmMetrics } from '../plan-types.js';
import { parseTime } from '../time.js';
import type { ArmStatus, Contender, ExperimentStatus } from './experiment-verdict.js';
import {
  EXPERIMENT_MEASURE_INTERVAL_MS,
  decideWinner,
  formatMetric,
  metricsOf,
} from './experiment-verdict.js';
import { endCanary, promote, pushFailure } from './outcomes.js';
import type { Planner } from './state.js';

/** A version in the experiment besides the stable one. */
interface Arm {
  role: 'Challenger' | 'Arm';
  hash: string;
  version: string;
  /** The weight the spec gives it. */
  weight: number;
}

interface ArmState {
  arm: Arm;
  state: 'Starting' | 'Serving' | 'Failed' | 'Ended';
  reason?: string | undefined;
}

/** The revisions strategy.experiment.arms resolved to, in spec order; undefined while one is not. */
function resolvedArms(pl: Planner): Arm[] | undefined {
  const x = pl.spec.experiment;
  if (!x) return [];
  const found = pl.input.experiment?.arms ?? [];
  const out: Arm[] = [];
  for (const a of x.arms) {
    const r = found.find((f) => f.version === a.version)?.resolution;
    if (!r?.ok) return undefined;
    out.push({ role: 'Arm', hash: r.revision.hash, version: r.revision.version, weight: a.weight });
  }
  return out;
}

/**
 * Why the experiment cannot start (or go on) as the spec says: an arm whose ModelVersion does not
 * exist (or cannot serve), or one that is the stable version. The caller holds: the stable
 * revision keeps its traffic.
 */
export function experimentUnresolved(pl: Planner): { reason: string; message: string } | undefined {
  const x = pl.spec.experiment;
  if (!x) return undefined;
  const found = pl.input.experiment?.arms ?? [];
  for (const [i, a] of x.arms.entries()) {
    const what = `strategy.experiment.arms[${i}] (version ${a.version})`;
    const r = found.find((f) => f.version === a.version)?.resolution;
    const tail = 'the experiment does not start and the stable version keeps its traffic';
    if (!r) return { reason: 'ExperimentVersionNotFound', message: `${what} was not resolved; ${tail}` };
    if (!r.ok)
      return {
        reason: r.reason === 'ModelVersionNotFound' ? 'ExperimentVersionNotFound' : r.reason,
        message: `${what}: ${r.message}; ${tail}`,
      };
    const d = pl.input.desired;
    const earlier = found
      .slice(0, i)
      .some((f) => f.resolution.ok && f.resolution.revision.hash === r.revision.hash);
    if ((d.ok && d.revision.hash === r.revision.hash) || earlier)
      return {
        reason: 'InvalidExperiment',
        message: `${what} names a version already in the experiment (spec.version is the challenger): each version once`,
      };
    if (r.revision.hash === pl.stable)
      return {
        reason: 'InvalidExperiment',
        message: `${what} is the stable version, which is in every experiment as the control: remove it from arms`,
      };
  }
  return undefined;
}

/** The revisions of the experiment the spec asks for now (empty: none). */
function wantedRevisions(pl: Planner): Set<string> {
  const d = pl.input.desired;
  if (pl.spec.strategy !== 'Experiment' || !d.ok || d.revision.hash === pl.stable) return new Set();
  return new Set([d.revision.hash, ...(resolvedArms(pl) ?? []).map((a) => a.hash)]);
}

/**
 * The spec no longer asks for the experiment under way (another version, other arms, another
 * strategy): each of its versions that is not in the new one ends with a Superseded entry.
 */
export function supersedeExperiment(pl: Planner): void {
  const prev = pl.prev.experiment;
  if (!prev || prev.phase === 'Concluded') return;
  const wanted = wantedRevisions(pl);
  for (const a of prev.arms ?? []) {
    if (a.role === 'Stable' || wanted.has(a.revision) || a.revision === pl.stable || !pl.revs.has(a.revision))
      continue;
    if (a.state === 'Failed' || pl.knownBad(a.revision)) continue;
    if (
      pl.pushHistory({
        revision: a.revision,
        version: a.version,
        result: 'Superseded',
        reason: 'ExperimentChanged',
        message: 'the spec no longer names this version in the experiment',
      })
    )
      pl.event(
        'Normal',
        'Superseded',
        `experiment version ${a.version} (revision ${a.revision}) ended: the spec changed`,
      );
  }
}

function sameExperiment(prev: ExperimentStatus | undefined, arms: readonly Arm[]): boolean {
  if (!prev) return false;
  const before = (prev.arms ?? []).filter((a) => a.role !== 'Stable').map((a) => a.revision);
  const now = arms.map((a) => a.hash);
  return before.length === now.length && now.every((h) => before.includes(h));
}

/** A version's health: losing the readiness it had fails it after the grace; never getting it, after the deadline. */
function checkArm(
  pl: Planner,
  arm: Arm,
  size: number,
  since: number,
  wasServing: boolean,
): Failure | undefined {
  const rev = pl.revs.get(arm.hash);
  if (!rev) {
    if (size > 0) pl.wake(since + pl.spec.progressDeadlineMs);
    return undefined;
  }
  if (wasServing) {
    const lost = pl.checkRollout(rev, size, since, true);
    if (lost) return lost;
  }
  return pl.checkRollout(rev, size, since, false);
}

export function experiment(pl: Planner, hash: string, version: string): void {
  const x = pl.spec.experiment!;
  const s = pl.stable!;
  const sVersion = pl.revs.get(s)!.version;
  const arms: Arm[] = [{ role: 'Challenger', hash, version, weight: x.weight }, ...(resolvedArms(pl) ?? [])];
  const prev = pl.prev.experiment;
  const same = sameExperiment(prev, arms);
  endCanary(pl, `superseded by the experiment on ${version}`);
  if (!same) {
    pl.rolloutStartedAt = pl.input.now;
    pl.event(
      'Normal',
      'ExperimentStarted',
      `experiment started: ${arms.map((a) => `${a.version} ${a.weight}%`).join(', ')} beside the stable version ${sVersion}`,
    );
  } else if (pl.rolloutStartedAt === undefined) {
    pl.rolloutStartedAt = pl.input.now;
  }
  const began = pl.rolloutStartedAt!;
  const prevArm = (h: string): ArmStatus | undefined =>
    same ? prev?.arms?.find((a) => a.revision === h) : undefined;
  pl.replicas.set(s, pl.spec.replicas);

  const out: ExperimentStatus = { phase: 'Starting', decideBy: x.metric };
  if (same && prev) {
    for (const k of [
      'startedAt',
      'endsAt',
      'concludedAt',
      'measuredAt',
      'metrics',
      'winner',
      'result',
    ] as const)
      if (prev[k] !== undefined) (out as Record<string, unknown>)[k] = prev[k];
  }
  const m = pl.input.experiment?.measurement;
  if (m) {
    out.measuredAt = pl.nowIso;
    if (m.ok) delete out.metrics;
    else out.metrics = `${m.reason}: ${m.message}`;
  }
  const numbers = (h: string): ArmMetrics | undefined => {
    if (m?.ok) return m.arms[h];
    const p = prevArm(h);
    return p ? metricsOf(p) : undefined;
  };

  let states: ArmState[];
  if (same && prev?.phase === 'Concluded') {
    states = arms.map((arm) => {
      const p = prevArm(arm.hash);
      return { arm, state: p?.state === 'Failed' ? 'Failed' : 'Ended', reason: p?.reason };
    });
    conclude(pl, { s, sVersion, arms, states, out, numbers, fresh: false });
  } else {
    states = arms.map((arm) => {
      const p = prevArm(arm.hash);
      if (p?.state === 'Failed') {
        pl.replicas.set(arm.hash, 0);
        return { arm, state: 'Failed', reason: p.reason };
      }
      const size = pl.replicasForWeight(arm.weight);
      const wasServing = p?.state === 'Serving';
      const failure = checkArm(pl, arm, size, began, wasServing);
      if (failure) {
        pl.replicas.set(arm.hash, 0);
        if (pushFailure(pl, arm.hash, arm.version, 'RolledBack', failure))
          pl.event(
            'Warning',
            failure.reason,
            `experiment: version ${arm.version} (revision ${arm.hash}) failed: ${failure.message}; its ${arm.weight}% goes to the stable version ${sVersion} and the experiment goes on`,
          );
        return { arm, state: 'Failed', reason: failure.reason };
      }
      const judged = wasServing ? analysisFailure(pl, arm, numbers(arm.hash), numbers(s)) : undefined;
      if (judged) {
        pl.replicas.set(arm.hash, 0);
        if (pushFailure(pl, arm.hash, arm.version, 'RolledBack', judged))
          pl.event(
            'Warning',
            judged.reason,
            `experiment: ${judged.message}; its ${arm.weight}% goes to the stable version ${sVersion} and the experiment goes on`,
          );
        return { arm, state: 'Failed', reason: judged.reason };
      }
      pl.replicas.set(arm.hash, size);
      // Weight moves only to pods the gateway can reach; once serving, a version keeps its weight
      // through the unready grace (checkArm fails it when the grace is over).
      const serving = wasServing || servingCount(pl.revs.get(arm.hash)) >= Math.max(1, size);
      return { arm, state: serving ? 'Serving' : 'Starting' };
    });
    run(pl, { s, sVersion, arms, states, out, numbers, fresh: true });
  }
  pl.experiment = out;
  out.arms = [
    row(pl, { role: 'Stable', hash: s, version: sVersion }, 'Serving', undefined, numbers(s)),
    ...states.map((st) => row(pl, st.arm, st.state, st.reason, numbers(st.arm.hash))),
  ];
}

/**
 * spec.analysis's built-in checks judged on what a version served in the experiment so far (the
 * experiment's numbers, not the check's window): ErrorRate, MeanLatency, and LatencyVsStable against
 * the stable revision. A check needs minSamples requests; queries of one's own are not run here.
 */
function analysisFailure(
  pl: Planner,
  arm: Arm,
  m: ArmMetrics | undefined,
  stable: ArmMetrics | undefined,
): Failure | undefined {
  const a = resolveAnalysis(pl.input.md);
  if (!a || !m || m.requests <= 0) return undefined;
  for (const c of a.checks) {
    if (!c.builtin || m.requests < c.minSamples) continue;
    let value: number | undefined;
    if (c.builtin === 'ErrorRate') value = m.errors / m.requests;
    else if (c.builtin === 'MeanLatency') value = m.meanLatencyMs;
    else if (stable?.meanLatencyMs && m.meanLatencyMs !== undefined && stable.requests >= c.minSamples)
      value = m.meanLatencyMs / stable.meanLatencyMs;
    if (value === undefined) continue;
    const fails = c.failWhen === 'Below' ? value < c.threshold : value > c.threshold;
    if (fails)
      return {
        reason: 'AnalysisFailed',
        message: `version ${arm.version} (revision ${arm.hash}) failed analysis check ${c.name} (${c.builtin}): ${Number(value.toFixed(4))} ${c.failWhen === 'Below' ? '<' : '>'} ${c.threshold} over ${Math.round(m.requests)} requests`,
      };
  }
  return undefined;
}

interface Ctx {
  s: string;
  sVersion: string;
  arms: Arm[];
  states: ArmState[];
  out: ExperimentStatus;
  numbers: (h: string) => ArmMetrics | undefined;
  /** The winner is decided now (false: it was, by an earlier reconcile, and is read from the status). */
  fresh: boolean;
}

function row(
  pl: Planner,
  arm: Pick<Arm, 'hash' | 'version'> & { role: ArmStatus['role'] },
  state: ArmState['state'],
  reason: string | undefined,
  m: ArmMetrics | undefined,
): ArmStatus {
  const r: ArmStatus = {
    role: arm.role,
    version: arm.version,
    revision: arm.hash,
    weight: pl.weights.find((w) => w.revision === arm.hash)?.weight ?? 0,
    state,
  };
  if (reason) r.reason = reason;
  if (m) {
    r.requests = Math.max(0, Math.round(m.requests));
    r.errors = Math.max(0, Math.round(m.errors));
    if (m.requests > 0) r.errorRate = (m.errors / m.requests).toFixed(4);
    if (m.meanLatencyMs !== undefined && Number.isFinite(m.meanLatencyMs))
      r.meanLatencyMs = m.meanLatencyMs.toFixed(2);
  }
  return r;
}

/** Starting or running: weights, the clock, and the end when it is due. */
function run(pl: Planner, c: Ctx): void {
  const { s, sVersion, states, out } = c;
  const x = pl.spec.experiment!;
  const active = states.filter((st) => st.state !== 'Failed');
  const failed = states.filter((st) => st.state === 'Failed');
  routeArms(pl, s, sVersion, states);
  if (failed.length) {
    const msg = `experiment: ${failed.map((f) => `${f.arm.version} failed (${f.reason ?? 'unknown'})`).join(', ')}; its share goes to the stable version ${sVersion}`;
    pl.reasons.degraded = [failed[0]!.reason ?? 'ExperimentVersionFailed', msg];
  }
  if (active.length === 0) {
    out.phase = 'Concluded';
    return conclude(pl, c);
  }
  if (active.every((st) => st.state === 'Serving') || out.startedAt) {
    out.phase = 'Running';
    if (!out.startedAt) out.startedAt = pl.nowIso;
    const startedAt = parseTime(out.startedAt)!;
    if (x.durationMs !== undefined) out.endsAt = new Date(startedAt + x.durationMs).toISOString();
    else delete out.endsAt;
  }
  const ends = parseTime(out.endsAt);
  if (out.phase === 'Running' && ends !== undefined && pl.input.now >= ends) {
    out.phase = 'Concluded';
    return conclude(pl, c);
  }
  if (out.phase === 'Running') {
    if (ends !== undefined) pl.wake(ends);
    pl.wake((parseTime(out.measuredAt) ?? pl.input.now) + EXPERIMENT_MEASURE_INTERVAL_MS);
    const split = pl.weights.map((w) => `${w.version} ${w.weight}%`).join(', ');
    pl.progressing(
      'ExperimentRunning',
      `experiment running since ${out.startedAt}${out.endsAt ? ` until ${out.endsAt}` : ' until the spec changes'}: ${split}`,
    );
    return;
  }
  const waiting = active
    .filter((st) => st.state === 'Starting')
    .map((st) =>
      readiness(pl.revs.get(st.arm.hash), Math.max(1, pl.replicasForWeight(st.arm.weight)), st.arm.version),
    );
  pl.progressing('ExperimentStarting', `experiment starting: waiting for ${waiting.join('; ')}`);
}

/** stable first with the rest; each serving version at its weight, a starting one at 0, a failed one not at all. */
function routeArms(pl: Planner, s: string, sVersion: string, states: readonly ArmState[]): void {
  const live = states.filter((st) => st.state === 'Serving');
  const given = live.reduce((sum, st) => sum + st.arm.weight, 0);
  pl.route([
    [s, sVersion, 100 - given],
    ...states
      .filter((st) => st.state === 'Serving' || st.state === 'Starting')
      .map((st): [string, string, number] => [
        st.arm.hash,
        st.arm.version,
        st.state === 'Serving' ? st.arm.weight : 0,
      ]),
  ]);
}

/**
 * The experiment is over: the winner decided (once, then read from the status), every version but a
 * winning challenger to be promoted scaled to 0 with a Concluded entry, and the traffic back on the
 * stable revision; or the challenger grown to full size and promoted.
 */
function conclude(pl: Planner, c: Ctx): void {
  const { s, sVersion, arms, states, out } = c;
  const x = pl.spec.experiment!;
  out.phase = 'Concluded';
  if (!out.concludedAt) out.concludedAt = pl.nowIso;
  if (c.fresh) {
    const contenders: Contender[] = [
      { role: 'Stable', revision: s, version: sVersion, failed: false, metrics: c.numbers(s) },
      ...states.map((st) => ({
        role: st.arm.role,
        revision: st.arm.hash,
        version: st.arm.version,
        failed: st.state === 'Failed',
        metrics: c.numbers(st.arm.hash),
      })),
    ];
    const v = decideWinner(contenders, x);
    if (v.winner) {
      out.winner = {
        revision: v.winner.revision,
        version: v.winner.version,
        role: v.winner.role,
        value: formatMetric(v.value, x.metric),
      };
    } else delete out.winner;
    const metricsNote = out.metrics ? ` (${out.metrics})` : '';
    out.result = `${v.message}${metricsNote}`;
    for (const st of states) if (st.state !== 'Failed') st.state = 'Ended';
  }
  const challenger = arms[0]!;
  const chState = states[0]!;
  const promoteIt =
    x.onEnd === 'PromoteIfWinner' && out.winner?.revision === challenger.hash && chState.state !== 'Failed';
  const endMessage = promoteIt
    ? `experiment concluded: ${out.result}`
    : `experiment concluded: ${out.result}; traffic back on the stable version ${sVersion}` +
      (out.winner && out.winner.role !== 'Stable'
        ? `; to make ${out.winner.version} stable, set spec.version to ${out.winner.version}`
        : '');
  for (const st of states) {
    if (promoteIt && st.arm.hash === challenger.hash) continue;
    pl.replicas.set(st.arm.hash, 0);
    if (st.state === 'Failed') continue;
    pl.pushHistory({
      revision: st.arm.hash,
      version: st.arm.version,
      result: 'Concluded',
      reason: 'ExperimentConcluded',
      message: endMessage,
    });
  }
  if (c.fresh) pl.event('Normal', 'ExperimentConcluded', endMessage);
  if (promoteIt) {
    // The winner grows to full size beside the stable revision, keeping its share, then takes all
    // traffic through the normal promotion (history Promoted, the previous revision kept warm).
    const rev = pl.revs.get(challenger.hash);
    const n = pl.spec.replicas;
    chState.state = 'Serving';
    pl.replicas.set(challenger.hash, n);
    const failure = checkArm(pl, challenger, n, parseTime(out.concludedAt) ?? pl.input.now, true);
    if (failure) {
      pl.replicas.set(challenger.hash, 0);
      chState.state = 'Failed';
      chState.reason = failure.reason;
      if (pushFailure(pl, challenger.hash, challenger.version, 'RolledBack', failure))
        pl.event(
          'Warning',
          failure.reason,
          `experiment winner ${challenger.version} failed before its promotion: ${failure.message}`,
        );
      pl.route([[s, sVersion, 100]]);
      pl.degraded(
        failure.reason,
        `the experiment's winner ${challenger.version} failed before its promotion: ${failure.message}`,
      );
      return;
    }
    if (servingCount(rev) >= n) {
      out.result = `${out.result}; ${challenger.version} promoted (onEnd PromoteIfWinner)`;
      promote(pl, challenger.hash, challenger.version, s, sVersion);
      return;
    }
    pl.route([
      [s, sVersion, 100 - challenger.weight],
      [challenger.hash, challenger.version, challenger.weight],
    ]);
    pl.progressing(
      'PromotingWinner',
      `experiment concluded, promoting the winner: ${readiness(rev, n, challenger.version)}`,
    );
    return;
  }
  pl.route([[s, sVersion, 100]]);
  // Done as the spec asked: a version that failed on the way is in the history and the arms' rows.
  delete pl.reasons.degraded;
  pl.phase = 'Healthy';
  pl.reasons.ready = ['ExperimentConcluded', endMessage];
  pl.reasons.progressing = [false, 'ExperimentConcluded', endMessage];
  pl.rolloutStartedAt = undefined;
}
