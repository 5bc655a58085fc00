// Text building blocks of the plugin's output, shaped like kubectl's: upper-case headers, columns
// three spaces apart, ages as 7s / 5m30s / 2d3h. Pure: time is an argument.
import { parseTime } from '../core/time.js';

/** Columns padded to their widest cell, three spaces apart; no trailing spaces. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
  return all.map((r) =>
    headers
      .map((_, i) => {
        const cell = r[i] ?? '';
        return i === headers.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell));
      })
      .join('   ')
      .trimEnd(),
  );
}

/** Display width, counting code points (a '→' or 'é' is one column, as in most terminals). */
function width(s: string): number {
  return [...s].length;
}

/** `Label: value` lines with the values aligned; entries with an undefined value are left out. */
export function renderFields(fields: ReadonlyArray<readonly [string, string | undefined]>): string[] {
  const shown = fields.filter((f): f is readonly [string, string] => f[1] !== undefined);
  const w = Math.max(0, ...shown.map(([k]) => width(k) + 1));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(w)}  ${v}`.trimEnd());
}

/**
 * A duration the way kubectl prints ages: the two largest units, seconds rounded down
 * (0s, 7s, 1m30s, 2h5m, 3d4h). Negative durations (clock skew) print as 0s.
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return h > 0 ? `${d}d${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h${m}m` : `${h}h`;
  if (m > 0) return sec > 0 ? `${m}m${sec}s` : `${m}m`;
  return `${sec}s`;
}

/** Time remaining until `endMs`, rounded up, so a pause never reads "0s more" while it still runs. */
export function formatRemaining(endMs: number, now: number): string {
  return formatDuration(Math.ceil(Math.max(0, endMs - now) / 1000) * 1000);
}

/**
 * A timestamp as RFC 3339 text. Objects read as JSON carry strings; client-node's types declare
 * metadata timestamps as Date, so both are accepted.
 */
export function isoOf(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t instanceof Date) return t.toISOString();
  return undefined;
}

/** How long ago `iso` was, or '-' when unknown. */
export function formatAge(iso: string | undefined, now: number): string {
  const t = parseTime(iso);
  return t === undefined ? '-' : formatDuration(now - t);
}

/** RFC 3339 in UTC to the second (2025-01-15T09:30:00Z), or '-' when unknown. */
export function formatTime(iso: string | undefined): string {
  const t = parseTime(iso);
  return t === undefined ? '-' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The calendar day (UTC) of `iso`, or '-'. */
export function formatDate(iso: string | undefined): string {
  const t = parseTime(iso);
  return t === undefined ? '-' : new Date(t).toISOString().slice(0, 10);
}

/** A metric value without binary floating-point noise: 0.774 - 0.772 prints 0.002, not 0.0020000000000000018. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Number(n.toPrecision(6)));
}

/** A signed difference: +1.3, -0.002, 0. */
export function formatDelta(n: number): string {
  const s = formatNumber(n);
  return n > 0 ? `+${s}` : s;
}

/** `text`, or `fallback` when empty or undefined. */
export const or = (text: string | undefined, fallback = '-'): string =>
  text === undefined || text === '' ? fallback : text;
