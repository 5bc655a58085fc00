// `kubectl modelship versions`: the ModelVersions of one model in SemVer order.
import type { ModelVersion } from '../../api/index.js';
import { formatDate, formatNumber, isoOf, or, renderTable } from '../format.js';
import { sortByVersion } from '../../core/semver.js';

/** Metrics shown per row; more are summarized as "+N more" (kubectl modelship diff shows all). */
const METRICS_SHOWN = 4;

export function metricsText(metrics: Record<string, number> | undefined): string {
  const entries = Object.entries(metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return '-';
  const shown = entries.slice(0, METRICS_SHOWN).map(([k, v]) => `${k}=${formatNumber(v)}`);
  if (entries.length > METRICS_SHOWN) shown.push(`+${entries.length - METRICS_SHOWN} more`);
  return shown.join(' ');
}

/** ModelDeployments named per row; the rest are counted (status.usedByCount is the total). */
const USERS_SHOWN = 3;

export function usedByText(status: ModelVersion['status']): string {
  const names = (status?.usedBy ?? []).map((u) => u.name);
  const total = Math.max(status?.usedByCount ?? 0, names.length);
  if (total === 0) return '-';
  const shown = names.slice(0, USERS_SHOWN);
  return total > shown.length ? `${shown.join(',')} +${total - shown.length} more` : shown.join(',');
}

export function renderVersions(versions: readonly ModelVersion[]): string[] {
  const sorted = sortByVersion(versions, (v) => v.spec.version);
  return renderTable(
    ['VERSION', 'NAME', 'RUNTIME', 'FORMAT', 'OWNER', 'CREATED', 'PHASE', 'USED BY', 'METRICS'],
    sorted.map((v) => [
      v.spec.version,
      v.metadata?.name ?? '',
      v.spec.runtime,
      v.spec.format,
      or(v.spec.record?.owner),
      formatDate(v.spec.record?.createdAt ?? isoOf(v.metadata?.creationTimestamp)),
      or(v.metadata?.deletionTimestamp ? 'Terminating' : v.status?.phase),
      usedByText(v.status),
      metricsText(v.spec.record?.metrics),
    ]),
  );
}
