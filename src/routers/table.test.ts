import type { WeightEntry } from './types.js';
import { groupByVersion, headerBackends, heaviest, keepHeaviest, toPercent } from './table.js';

const e = (revision: string, version: string, weight: number): WeightEntry => ({
  revision,
  version,
  weight,
  service: `m-${revision}`,
});

test.each([
  [[1], [100]],
  [
    [1, 1],
    [50, 50],
  ],
  [
    [1, 1, 1],
    [34, 33, 33],
  ],
  [
    [1, 2],
    [33, 67],
  ],
  [
    [0, 5],
    [0, 100],
  ],
  [
    [0, 0],
    [0, 0],
  ],
  [
    [60, 20],
    [75, 25],
  ],
])('toPercent(%j) = %j', (parts, want) => {
  const got = toPercent(parts);
  expect(got).toEqual(want);
});

test('toPercent always sums to 100 for a positive total', () => {
  for (let n = 1; n <= 17; n++) {
    for (let k = 0; k < 20; k++) {
      const parts = Array.from({ length: n }, (_, i) => ((i * 7 + k * 13) % 11) + (i === 0 ? 1 : 0));
      expect(toPercent(parts).reduce((a, b) => a + b, 0)).toBe(100);
    }
  }
});

test('heaviest takes the first of equal weights', () => {
  expect(heaviest([e('a', '1', 40), e('b', '2', 60)]).revision).toBe('b');
  expect(heaviest([e('a', '1', 50), e('b', '2', 50)]).revision).toBe('a');
  expect(() => heaviest([])).toThrow();
});

test('keepHeaviest keeps order and breaks ties by position', () => {
  const items = [3, 1, 4, 1, 5, 9, 2, 6].map((weight, i) => ({ weight, i }));
  expect(keepHeaviest(items, 3).map((x) => x.weight)).toEqual([5, 9, 6]);
  expect(keepHeaviest(items, 5).map((x) => x.i)).toEqual([0, 2, 4, 5, 7]);
  expect(keepHeaviest(items, 20)).toEqual(items);
  expect(
    keepHeaviest(
      [1, 1, 1].map((weight, i) => ({ weight, i })),
      2,
    ).map((x) => x.i),
  ).toEqual([0, 1]);
});

test('groupByVersion groups in order of first appearance', () => {
  const groups = groupByVersion([e('a', '1', 10), e('b', '2', 0), e('c', '1', 90)]);
  expect(groups.map((g) => [g.version, g.weight, g.entries.map((x) => x.revision)])).toEqual([
    ['1', 100, ['a', 'c']],
    ['2', 0, ['b']],
  ]);
  expect(headerBackends(groups[0]!).map((b) => [b.entry.revision, b.weight])).toEqual([
    ['a', 10],
    ['c', 90],
  ]);
  expect(headerBackends(groups[1]!).map((b) => [b.entry.revision, b.weight])).toEqual([['b', 100]]);
  // A weight-0 revision of a weighted version is left out: the version is reached through the others.
  const [g] = groupByVersion([e('a', '1', 100), e('b', '1', 0)]);
  expect(headerBackends(g!).map((b) => b.entry.revision)).toEqual(['a']);
});
