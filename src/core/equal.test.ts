import { deepEqual } from './equal.js';

test.each([
  [{ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }, true],
  [{ a: 1, u: undefined }, { a: 1 }, true],
  [{ a: 1 }, { a: 2 }, false],
  [[1, 2], [2, 1], false],
  [{ a: [] }, { a: {} }, false],
  [null, {}, false],
  [{ a: { b: 1 } }, { a: { b: 1, c: 0 } }, false],
])('deepEqual(%j, %j) = %s', (a, b, want) => {
  expect(deepEqual(a, b)).toBe(want);
  expect(deepEqual(b, a)).toBe(want);
});
