// The cohorts of spec.strategy.canary as header matches every header-matching router can render:
// a cookie becomes a regular expression on the Cookie header (neither Gateway API nor Istio matches
// cookies by name). Pure.
import type { ModelDeployment } from '../api/index.js';

export interface HeaderMatch {
  /** Lower case (the CRD enforces it: Istio matches only lower-case header names). */
  name: string;
  type: 'Exact' | 'RegularExpression';
  value: string;
}

/** Every RE2 metacharacter a cookie value may contain (the CRD's pattern lets through only these). */
function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The Cookie header carries `name=value` pairs separated by `; `. Anchored at both ends, so it means
 * the same whether the gateway matches the whole value (Envoy, hence Istio) or any part of it
 * (Traefik's HeaderRegexp).
 */
export function cookieRegex(name: string, value: string): string {
  return `^(.*;)?\\s*${escapeRegex(name)}=${escapeRegex(value)}\\s*(;.*)?$`;
}

/** One entry per cohort, each the headers a request must all carry; [] when the spec sets none. */
export function cohortMatches(md: ModelDeployment): HeaderMatch[][] {
  const cohorts = md.spec.strategy?.canary?.cohorts ?? [];
  return cohorts
    .map((c) => [
      ...(c.headers ?? []).map((h) => ({ name: h.name, type: h.type ?? 'Exact', value: h.value })),
      ...(c.cookie
        ? [
            {
              name: 'cookie',
              type: 'RegularExpression' as const,
              value: cookieRegex(c.cookie.name, c.cookie.value),
            },
          ]
        : []),
    ])
    .filter((m) => m.length > 0);
}
