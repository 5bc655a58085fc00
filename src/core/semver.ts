// Semantic Versioning 2.0 precedence (https://semver.org/#spec-item-11), for listing ModelVersions
// in release order. Pure. Numbers are compared as digit strings, so 1.0.99999999999999999 sorts right
// (Number would round it), and build metadata never changes precedence.

export interface SemVer {
  /** MAJOR, MINOR, PATCH as digit strings without leading zeros. */
  core: [string, string, string];
  /** Dot-separated pre-release identifiers; empty for a release. */
  pre: string[];
  /** Build metadata identifiers (after '+'); ignored for precedence. */
  build: string[];
}

// The same expression the CRDs validate spec.version with.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function parseSemver(text: string): SemVer | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  return {
    core: [m[1]!, m[2]!, m[3]!],
    pre: m[4] ? m[4].split('.') : [],
    build: m[5] ? m[5].split('.') : [],
  };
}

const isNumeric = (id: string): boolean => /^\d+$/.test(id);

/** Compares two non-negative integers written without leading zeros. */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIdentifier(a: string, b: string): number {
  const an = isNumeric(a);
  const bn = isNumeric(b);
  if (an && bn) return compareDigits(a, b);
  // Numeric identifiers have lower precedence than alphanumeric ones.
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** SemVer precedence: negative if a < b, 0 if equal precedence (build metadata differs at most). */
export function comparePrecedence(a: SemVer, b: SemVer): number {
  for (let i = 0; i < 3; i++) {
    const c = compareDigits(a.core[i]!, b.core[i]!);
    if (c !== 0) return c;
  }
  // A pre-release has lower precedence than the release it precedes: 1.0.0-rc.1 < 1.0.0.
  if (a.pre.length === 0 && b.pre.length === 0) return 0;
  if (a.pre.length === 0) return 1;
  if (b.pre.length === 0) return -1;
  const n = Math.min(a.pre.length, b.pre.length);
  for (let i = 0; i < n; i++) {
    const c = compareIdentifier(a.pre[i]!, b.pre[i]!);
    if (c !== 0) return c;
  }
  // A larger set of pre-release fields has higher precedence when all before are equal.
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

/**
 * A total order for listing: SemVer precedence, then (for equal precedence, i.e. only build metadata
 * differs, which the spec leaves unordered) the text, so the output is the same on every run.
 * Text that is not a semantic version sorts after every version, by text.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parseSemver(a);
  const pb = parseSemver(b);
  if (pa && pb) return comparePrecedence(pa, pb) || (a < b ? -1 : a > b ? 1 : 0);
  if (pa || pb) return pa ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy of `items` in ascending version order (oldest first, the newest next to the prompt). */
export function sortByVersion<T>(items: readonly T[], version: (item: T) => string): T[] {
  return [...items].sort((x, y) => compareVersions(version(x), version(y)));
}
