// The weight table every router renders from: the checks the CRD schema cannot make (it never sees
// the table, the planner computes it), and the groupings the routers share. Pure.
import { mdKey, mdName, revisionObjectName } from '../core/labels.js';
import type { RouteContext, WeightEntry } from './types.js';

/**
 * The request header a client sets to reach one model version directly, whatever the split:
 * `x-model-version: 1.2.0`. Lower case, because Istio only matches lower-case header names.
 */
export const VERSION_HEADER = 'x-model-version';

/** `abc123=80,def456=20`, in table order: how errors show a table. */
export function describeTable(weights: readonly WeightEntry[]): string {
  return weights.map((e) => `${e.revision}=${e.weight}`).join(',');
}

/**
 * Throws when the table cannot be routed as given: weights that are not whole numbers in 0..100, do
 * not sum to 100, or name a revision twice, and Services not named `<md>-<revision>` (readWeights maps
 * Service names back to revisions, so any other name would read back as drift forever). These come
 * from the planner, not the user, so the message says the table is wrong rather than the spec.
 */
export function checkTable(ctx: RouteContext): void {
  const { md, weights } = ctx;
  const name = mdName(md);
  const fail = (why: string): never => {
    throw new Error(
      `ModelDeployment ${mdKey(md)}: cannot route weight table [${describeTable(weights)}]: ${why}; ` +
        'the rollout planner must produce whole-number weights 0..100 summing to 100, one entry per revision',
    );
  };
  if (weights.length === 0) fail('the table is empty');
  const seen = new Set<string>();
  let sum = 0;
  for (const e of weights) {
    if (!Number.isInteger(e.weight) || e.weight < 0 || e.weight > 100) {
      fail(`revision ${e.revision} has weight ${e.weight}, not a whole number in 0..100`);
    }
    if (seen.has(e.revision)) fail(`revision ${e.revision} appears more than once`);
    seen.add(e.revision);
    if (e.service !== revisionObjectName(name, e.revision)) {
      fail(`revision ${e.revision} names Service ${e.service}, not ${revisionObjectName(name, e.revision)}`);
    }
    sum += e.weight;
  }
  if (sum !== 100) fail(`weights sum to ${sum}, not 100`);
}

/** The entry with the highest weight; the first of them on a tie. The stable Service selects it. */
export function heaviest(weights: readonly WeightEntry[]): WeightEntry {
  let best = weights[0];
  for (const e of weights) if (best === undefined || e.weight > best.weight) best = e;
  if (best === undefined) throw new Error('heaviest: empty weight table');
  return best;
}

/** The revisions that serve one model version, and their summed weight. */
export interface VersionGroup {
  version: string;
  weight: number;
  entries: WeightEntry[];
}

/**
 * The table grouped by model version, in order of first appearance. Two revisions can serve the same
 * version (the revision hash covers the pod template too, so a resources change makes a new revision
 * of the same version); a header match names a version, so it must route to the group, not to
 * whichever revision's rule happens to come first.
 */
export function groupByVersion(weights: readonly WeightEntry[]): VersionGroup[] {
  const groups = new Map<string, VersionGroup>();
  for (const e of weights) {
    const g = groups.get(e.version) ?? { version: e.version, weight: 0, entries: [] };
    g.weight += e.weight;
    g.entries.push(e);
    groups.set(e.version, g);
  }
  return [...groups.values()];
}

/**
 * The backends a header match for one version sends to, with weights summing to 100: the group's
 * revisions in proportion to their table weights, or evenly when none of them has weight (a version
 * kept for direct access only). Revisions of a weighted version that themselves have weight 0 are
 * left out: the version is still reachable through its weighted revisions.
 */
export function headerBackends(group: VersionGroup): Array<{ entry: WeightEntry; weight: number }> {
  const entries = group.weight > 0 ? group.entries.filter((e) => e.weight > 0) : group.entries;
  const shares = toPercent(entries.map((e) => (group.weight > 0 ? e.weight : 1)));
  return entries.map((entry, i) => ({ entry, weight: shares[i] ?? 0 }));
}

/** Whole-number shares of 100 in proportion to `parts` (largest remainder, ties to the first). */
export function toPercent(parts: readonly number[]): number[] {
  const total = parts.reduce((a, b) => a + b, 0);
  if (total <= 0) return parts.map(() => 0);
  const exact = parts.map((p) => (p * 100) / total);
  const out = exact.map(Math.floor);
  let left = 100 - out.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => ({ frac: x - Math.floor(x), i }))
    .sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
    left--;
  }
  return out;
}

/**
 * At most `limit` items, the heaviest (ties: earlier first), kept in their original order. Used where
 * an API caps list sizes (Gateway API: 16 rules, 16 backendRefs per rule).
 */
export function keepHeaviest<T extends { weight: number }>(items: readonly T[], limit: number): T[] {
  if (items.length <= limit) return [...items];
  const keep = new Set(
    items
      .map((item, i) => ({ item, i }))
      .sort((a, b) => b.item.weight - a.item.weight || a.i - b.i)
      .slice(0, limit)
      .map(({ item }) => item),
  );
  return items.filter((item) => keep.has(item));
}
