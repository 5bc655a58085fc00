// `kubectl modelship history`: status.history as a table, oldest first as stored.
import type { ModelDeployment } from '../../api/index.js';
import { parseTime } from '../../core/time.js';
import { formatDuration, formatTime, or, renderTable } from '../format.js';

export function renderHistory(md: ModelDeployment): string[] {
  const history = md.status?.history ?? [];
  if (history.length === 0)
    return [`No rollout of ModelDeployment ${JSON.stringify(md.metadata?.name)} has ended yet.`];
  return renderTable(
    ['REVISION', 'VERSION', 'RESULT', 'REASON', 'STARTED', 'FINISHED', 'DURATION', 'MESSAGE'],
    history.map((h) => {
      const start = parseTime(h.startedAt);
      const end = parseTime(h.finishedAt);
      return [
        h.revision,
        h.version,
        h.result,
        or(h.reason),
        formatTime(h.startedAt),
        formatTime(h.finishedAt),
        start !== undefined && end !== undefined ? formatDuration(end - start) : '-',
        or(h.message, ''),
      ];
    }),
  );
}
