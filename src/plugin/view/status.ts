// `kubectl modelship status`: the whole picture of one ModelDeployment (renderStatus), and the
// one-line summary `status --watch` appends per change when its output is not a terminal.
import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/index.js';
import { ANNOTATION_VERSION, LABEL_REVISION } from '../../core/labels.js';
import { resolveSpec } from '../../core/spec.js';
import { formatAge, or, renderFields, renderTable } from '../format.js';
import { describeProgress } from '../progress.js';
import { describeExperiment, experimentTable } from './experiment.js';

export const REQUESTS = ['promote', 'abort', 'retry'] as const;
export type RequestVerb = (typeof REQUESTS)[number];

const condition = (md: ModelDeployment, type: string) => md.status?.conditions?.find((c) => c.type === type);

/** Requests set by annotation that the operator has not acted on yet. */
export function pendingRequests(md: ModelDeployment): Array<{ verb: RequestVerb; token: string }> {
  const out: Array<{ verb: RequestVerb; token: string }> = [];
  for (const verb of REQUESTS) {
    const token = md.metadata?.annotations?.[`modelship.io/${verb}`];
    if (token && token !== md.status?.acknowledged?.[verb]) out.push({ verb, token });
  }
  return out;
}

interface RevisionRow {
  revision: string;
  version: string;
  role: string;
  weight: number;
  pods: string;
}

/**
 * One row per revision that takes traffic or still has pods: weights from status.traffic (what the
 * operator applied to the router), pods from the revision's Deployment.
 */
export function revisionRows(md: ModelDeployment, deployments: readonly V1Deployment[]): RevisionRow[] {
  const s = md.status ?? {};
  const byRev = new Map(deployments.map((d) => [d.metadata?.labels?.[LABEL_REVISION] ?? '', d]));
  const blueGreen = resolveSpec(md).strategy === 'BlueGreen';
  const inExperiment = (rev: string): string | undefined =>
    s.experiment?.phase !== 'Concluded'
      ? s.experiment?.arms?.find((a) => a.revision === rev && a.role !== 'Stable')?.role.toLowerCase()
      : undefined;
  const role = (rev: string): string =>
    inExperiment(rev) ??
    (rev === s.stableRevision
      ? 'stable'
      : rev === s.canaryRevision
        ? blueGreen
          ? 'preview'
          : 'canary'
        : s.warmRevisions?.some((w) => w.revision === rev)
          ? 'warm'
          : '-');
  const pods = (d: V1Deployment | undefined): string =>
    d ? `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}` : '-';
  const rows: RevisionRow[] = (s.traffic ?? []).map((t) => {
    const d = byRev.get(t.revision);
    return {
      revision: t.revision,
      version: t.version ?? d?.metadata?.annotations?.[ANNOTATION_VERSION] ?? '-',
      role: role(t.revision),
      weight: t.weight,
      pods: pods(d),
    };
  });
  const listed = new Set(rows.map((r) => r.revision));
  for (const [rev, d] of [...byRev].sort(([a], [b]) => a.localeCompare(b))) {
    if (listed.has(rev) || ((d.spec?.replicas ?? 0) === 0 && (d.status?.replicas ?? 0) === 0)) continue;
    rows.push({
      revision: rev,
      version: d.metadata?.annotations?.[ANNOTATION_VERSION] ?? '-',
      role: role(rev),
      weight: 0,
      pods: pods(d),
    });
  }
  return rows;
}

export function renderStatus(
  md: ModelDeployment,
  deployments: readonly V1Deployment[],
  now: number,
): string[] {
  const s = md.status;
  const name = md.metadata?.name ?? '';
  const stale =
    s?.observedGeneration !== undefined &&
    md.metadata?.generation !== undefined &&
    s.observedGeneration < md.metadata.generation
      ? ` (for generation ${s.observedGeneration}; the operator has not seen generation ${md.metadata.generation} yet)`
      : '';
  const spec = resolveSpec(md);
  const strategy = spec.strategy;
  const lines = renderFields([
    ['Name', `${name} in namespace ${md.metadata?.namespace ?? '-'}`],
    ['Model', md.spec.model],
    ['Strategy', `${strategy}, router ${spec.router}`],
    ['Phase', s?.phase ? `${s.phase}${stale}` : 'no status yet: is the operator running?'],
    ['Desired', md.spec.version],
    ['Stable', s?.stableVersion ? `${s.stableVersion} (revision ${or(s.stableRevision)})` : undefined],
    [
      strategy === 'BlueGreen' ? 'Preview' : 'Canary',
      s?.canaryVersion
        ? `${s.canaryVersion} (revision ${or(s.canaryRevision)}), ${s.canaryWeight ?? 0}% of traffic`
        : undefined,
    ],
    [
      'Cohorts',
      s?.cohort ? `${describeCohorts(md)} -> ${s.cohort.version} (revision ${s.cohort.revision})` : undefined,
    ],
    [
      'Mirror',
      s?.mirror
        ? `${s.mirror.percent}% of the stable revision's requests copied to ${s.mirror.version} (revision ${s.mirror.revision}); answers discarded, not served traffic`
        : undefined,
    ],
    ['Experiment', describeExperiment(md, now)],
    ['Progress', describeProgress(md, now)],
    ['Paused', spec.paused ? `spec.paused is true (kubectl modelship resume ${name})` : undefined],
    [
      'Requests',
      pendingRequests(md)
        .map((r) => `${r.verb} ${r.token} not yet acted on`)
        .join('; ') || undefined,
    ],
  ]);

  const rows = revisionRows(md, deployments);
  if (rows.length) {
    lines.push(
      '',
      ...renderTable(
        ['REVISION', 'VERSION', 'ROLE', 'WEIGHT', 'PODS READY'],
        rows.map((r) => [r.revision, r.version, r.role, `${r.weight}%`, r.pods]),
      ),
    );
  }
  const experiment = experimentTable(md);
  if (experiment.length) lines.push('', ...experiment);
  const conds = s?.conditions ?? [];
  if (conds.length) {
    lines.push(
      '',
      ...renderTable(
        ['CONDITION', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
        conds.map((c) => [c.type, c.status, c.reason, formatAge(c.lastTransitionTime, now), c.message]),
      ),
    );
  }
  const rb = s?.lastRollback;
  if (rb) {
    lines.push(
      '',
      `Last rollback: ${or(rb.from?.version)} → ${or(rb.to?.version)}, ${formatAge(rb.time, now)} ago: ${or(rb.reason)}: ${or(rb.message)}`,
    );
  }
  return lines;
}

/**
 * One line with what `status --watch` follows when piped: phase, versions, weight, step, and the
 * Ready condition. Nothing in it depends on the clock, so a new line means the status changed.
 */
export function statusLine(md: ModelDeployment): string {
  const s = md.status;
  if (!s) return `${md.metadata?.name}: no status yet (desired ${md.spec.version})`;
  const parts = [s.phase ?? 'Unknown', `desired ${md.spec.version}`, `stable ${or(s.stableVersion)}`];
  const spec = resolveSpec(md);
  if (s.canaryVersion) {
    parts.push(`canary ${s.canaryVersion} at ${s.canaryWeight ?? 0}%`);
    const steps = spec.steps.length;
    if (spec.strategy !== 'BlueGreen' && steps > 0)
      parts.push(`step ${Math.min((s.currentStepIndex ?? 0) + 1, steps)}/${steps}`);
  }
  const x = s.experiment;
  if (x && spec.strategy === 'Experiment')
    parts.push(
      `experiment ${x.phase ?? 'Unknown'} ${(x.arms ?? []).map((a) => `${a.version}=${a.weight ?? 0}%${a.state === 'Failed' ? ' (failed)' : ''}`).join(' ')}${x.winner ? ` winner ${x.winner.version}` : ''}`,
    );
  if (spec.paused) parts.push('paused');
  const ready = condition(md, 'Ready');
  if (ready) parts.push(`Ready=${ready.status} ${ready.reason}: ${ready.message}`);
  return parts.join('  ');
}

/** The spec's cohorts in one line: `x-cohort=beta | cookie modelship-cohort=canary`. */
export function describeCohorts(md: ModelDeployment): string {
  const cohorts = md.spec.strategy?.canary?.cohorts ?? [];
  return cohorts
    .map((c) =>
      [
        ...(c.headers ?? []).map((h) => `${h.name}${h.type === 'RegularExpression' ? '~' : '='}${h.value}`),
        ...(c.cookie ? [`cookie ${c.cookie.name}=${c.cookie.value}`] : []),
      ].join(' and '),
    )
    .join(' | ');
}
