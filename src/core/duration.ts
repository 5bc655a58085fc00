/**
 * Parses a Go-style duration ("30s", "5m", "1h30m", "250ms", "1.5h") into milliseconds, the format
 * the CRD accepts for pause durations (the same as Argo Rollouts and Kubernetes tools use).
 * Returns undefined for anything else; the schema's pattern rejects such input before it is stored,
 * so undefined here means a schema/parser mismatch, which callers report as a condition.
 */
export function parseDuration(text: string): number | undefined {
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  if (text.length === 0) return undefined;
  let total = 0;
  re.lastIndex = 0;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
  }
  return Math.round(total);
}
