// Timestamps as the apiserver sends them (RFC 3339 strings; client-node's types say Date) read as
// milliseconds since the epoch, the one form of time the core computes with. Pure.

/** Milliseconds since the epoch; undefined for a time that is missing or does not parse. */
export function parseTime(t: string | Date | undefined): number | undefined {
  if (t === undefined || t === '') return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
