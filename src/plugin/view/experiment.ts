// The experiment part of `kubectl modelship status` (status.experiment: one line and a table with a
// row per version), and what `kubectl modelship experiment stop|promote` would change in the spec.
// Pure: read from the spec and the status the operator wrote.
import type { ModelDeployment } from '../../api/index.js';
import { parseTime } from '../../core/time.js';
import { formatAge, formatRemaining, or, renderTable } from '../format.js';

/** `Running since 2m, 58s left, decided by ErrorRate` and the result once concluded. */
export function describeExperiment(md: ModelDeployment, now: number): string | undefined {
  const x = md.status?.experiment;
  if (!x) return undefined;
  const parts = [x.phase ?? 'Unknown'];
  if (x.phase === 'Running' && x.startedAt) {
    parts.push(`since ${formatAge(x.startedAt, now)}`);
    const ends = parseTime(x.endsAt);
    parts.push(ends === undefined ? 'until the spec changes' : `${formatRemaining(ends, now)} left`);
  }
  if (x.decideBy) parts.push(`decided by ${x.decideBy}`);
  if (x.phase === 'Concluded' && x.result) parts.push(x.result);
  if (x.metrics) parts.push(`no numbers: ${x.metrics}`);
  return parts.join(', ');
}

/** VERSION ROLE REVISION WEIGHT STATE REQUESTS ERROR RATE MEAN LATENCY, the winner marked with `*`. */
export function experimentTable(md: ModelDeployment): string[] {
  const x = md.status?.experiment;
  if (!x?.arms?.length) return [];
  const winner = x.winner?.revision;
  return renderTable(
    ['VERSION', 'ROLE', 'REVISION', 'WEIGHT', 'STATE', 'REQUESTS', 'ERROR RATE', 'MEAN LATENCY', 'WINNER'],
    x.arms.map((a) => [
      a.version,
      a.role.toLowerCase(),
      a.revision,
      `${a.weight ?? 0}%`,
      a.reason ? `${or(a.state)} (${a.reason})` : or(a.state),
      a.requests === undefined ? '-' : String(a.requests),
      or(a.errorRate),
      a.meanLatencyMs === undefined ? '-' : `${a.meanLatencyMs}ms`,
      a.revision === winner ? `* ${x.decideBy ?? ''} ${x.winner?.value ?? ''}`.trimEnd() : '',
    ]),
  );
}

export type SpecChange = { ok: true; patch: object; text: string } | { ok: false; error: string };

/**
 * experiment stop: sets strategy.experiment.duration to the time it has run, so the operator ends it
 * now as the spec's onEnd says (the comparison is taken then, and a winner decided).
 */
export function stopExperiment(md: ModelDeployment, now: number): SpecChange {
  const x = md.status?.experiment;
  const name = md.metadata?.name ?? '';
  if (md.spec.strategy?.type !== 'Experiment')
    return {
      ok: false,
      error: `ModelDeployment ${JSON.stringify(name)} has no experiment (strategy.type is not Experiment)`,
    };
  const started = parseTime(x?.startedAt);
  if (x?.phase !== 'Running' || started === undefined)
    return {
      ok: false,
      error: `the experiment of ${JSON.stringify(name)} is not running (phase ${x?.phase ?? 'unknown'}): nothing to stop; to drop it, set spec.version back to ${md.status?.stableVersion ?? 'the stable version'}`,
    };
  const seconds = Math.max(1, Math.ceil((now - started) / 1000));
  const onEnd = md.spec.strategy.experiment?.onEnd ?? 'Rollback';
  return {
    ok: true,
    patch: { spec: { strategy: { experiment: { duration: `${seconds}s` } } } },
    text: `strategy.experiment.duration set to ${seconds}s (the time it has run): the operator ends it now, ${
      onEnd === 'PromoteIfWinner'
        ? 'promoting the challenger if it wins'
        : `sending all traffic back to ${md.status?.stableVersion ?? 'the stable version'}`
    }`,
  };
}

/**
 * experiment promote: the winner (or --to VERSION) becomes spec.version with strategy Canary and no
 * steps: it rolls out as a new version and takes all traffic once Ready.
 */
export function promoteFromExperiment(md: ModelDeployment, to: string | undefined): SpecChange {
  const x = md.status?.experiment;
  const name = md.metadata?.name ?? '';
  const version = to ?? x?.winner?.version;
  if (!version)
    return {
      ok: false,
      error: `the experiment of ${JSON.stringify(name)} has no winner${x?.result ? ` (${x.result})` : ''}: name the version with --to VERSION`,
    };
  if (version === md.status?.stableVersion)
    return {
      ok: true,
      patch: { spec: { version, strategy: { type: 'Canary', experiment: null } } },
      text: `${version} is the stable version already: the experiment ends and ${version} keeps all traffic`,
    };
  return {
    ok: true,
    patch: { spec: { version, strategy: { type: 'Canary', experiment: null } } },
    text: `spec.version ${md.spec.version} → ${version}, strategy Canary: ${version} rolls out and takes all traffic once Ready`,
  };
}
