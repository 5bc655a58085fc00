// `kubectl modelship versions`: the ModelVersions of one model in SemVer order.
import type { ModelVersion } from '../../api/index.js';
import { formatDate, formatNumber, isoOf, or, renderTable } from '../format.js';
import { sortByVersion } from '../semver.js';

/** Metrics shown per row; more are summarized as "+N more" (kubectl modelship diff shows all). */
const METRICS_SHOWN = 4;

export function metricsText(metrics: Record<string, number> | undefined): string {
  const entries = Object.entries(metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return '-';
  const shown = entries.slice(0, METRICS_SHOWN).map(([k, v]) => `${k}=${formatNumber(v)}`);
  if (entries.length > METRICS_SHOWN) shown.push(`+${entries.length - METRICS_SHOWN} more`);
  return shown.join(' ');
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
      or((v.status?.usedBy ?? []).map((u) => u.name).join(',')),
      metricsText(v.spec.record?.metrics),
    ]),
  );
}
