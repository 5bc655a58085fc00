// `kubectl modelship versions MODEL --unused-for DURATION`: the versions of a model that could be
// retired, oldest first, and what deleting them would free. Pure: the ModelVersions (their status,
// as the operator wrote it) and the time in, lines out.
import type { ModelVersion } from '../../api/index.js';
import { parseTime } from '../../core/time.js';
import { formatDuration, isoOf, renderTable } from '../format.js';

/** Why a version of the model is not offered for retirement. */
export type Kept = 'in use' | 'serving' | 'recently served' | 'not yet seen by the operator' | 'terminating';

export interface Retirement {
  /** Offered: nothing holds them and they have not served for the given time; oldest first. */
  retirable: { mv: ModelVersion; idleSinceMs: number; neverServed: boolean }[];
  /** The others, by reason. */
  kept: Record<Kept, ModelVersion[]>;
}

const condition = (mv: ModelVersion, type: string) => mv.status?.conditions?.find((c) => c.type === type);

/**
 * A version is offered when the operator has seen it (status.observedGeneration), no ModelDeployment
 * uses it or keeps a revision built from it (status.usedByCount 0: spec, stable, canary, warm and
 * scaled-to-zero revisions all count), it does not serve now (Serving is not True), and it last
 * served (status.lastServedAt), or else was created, at least `unusedForMs` before `now`.
 */
export function planRetirement(
  versions: readonly ModelVersion[],
  now: number,
  unusedForMs: number,
): Retirement {
  const kept: Retirement['kept'] = {
    'in use': [],
    serving: [],
    'recently served': [],
    'not yet seen by the operator': [],
    terminating: [],
  };
  const retirable: Retirement['retirable'] = [];
  for (const mv of versions) {
    if (mv.metadata?.deletionTimestamp) kept.terminating.push(mv);
    // Without Serving, the status comes from an operator that did not record lastServedAt yet.
    else if (
      mv.status?.observedGeneration === undefined ||
      !condition(mv, 'InUse') ||
      !condition(mv, 'Serving')
    )
      kept['not yet seen by the operator'].push(mv);
    else if ((mv.status.usedByCount ?? 0) > 0 || condition(mv, 'InUse')?.status === 'True')
      kept['in use'].push(mv);
    else if (condition(mv, 'Serving')?.status === 'True') kept.serving.push(mv);
    else {
      const since = parseTime(mv.status.lastServedAt) ?? parseTime(isoOf(mv.metadata?.creationTimestamp));
      if (since === undefined || now - since < unusedForMs) kept['recently served'].push(mv);
      else retirable.push({ mv, idleSinceMs: since, neverServed: !mv.status.lastServedAt });
    }
  }
  retirable.sort(
    (a, b) =>
      a.idleSinceMs - b.idleSinceMs || (a.mv.metadata?.name ?? '').localeCompare(b.mv.metadata?.name ?? ''),
  );
  return { retirable, kept };
}

/** The listing: a table, what deleting frees, the command, and what was left out and why. */
export function renderRetirement(
  model: string,
  namespace: string,
  r: Retirement,
  now: number,
  unusedFor: string,
): string[] {
  const left = (Object.entries(r.kept) as [Kept, ModelVersion[]][])
    .filter(([, list]) => list.length)
    .map(([why, list]) => `${list.length} ${why}`);
  const keptLine = left.length ? `Not listed: ${left.join(', ')}.` : undefined;
  if (r.retirable.length === 0)
    return [
      `No version of model ${model} in namespace ${namespace} is unused and idle for ${unusedFor}.`,
      ...(keptLine ? [keptLine] : []),
    ];
  const table = renderTable(
    ['VERSION', 'NAME', 'LAST SERVED', 'IDLE', 'ARTIFACT'],
    r.retirable.map(({ mv, idleSinceMs, neverServed }) => [
      mv.spec.version,
      mv.metadata?.name ?? '',
      neverServed ? 'never' : (mv.status?.lastServedAt ?? '-'),
      formatDuration(now - idleSinceMs),
      mv.spec.storageUri,
    ]),
  );
  const names = r.retirable.map((x) => x.mv.metadata?.name ?? '');
  return [
    ...table,
    '',
    `Deleting these frees ${names.length} ModelVersion record${names.length === 1 ? '' : 's'} (no revision keeps them, so no rollback needs them):`,
    `  kubectl delete modelversion -n ${namespace} ${names.join(' ')}`,
    'Their artifacts stay in the object store until its lifecycle rule expires them (docs/operations.md, "In use, and retiring old versions").',
    ...(keptLine ? [keptLine] : []),
  ];
}
