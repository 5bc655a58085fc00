import { diffInterface as coreDiffInterface } from '../core/interface.js';
import { diffInterface, diffMaps, metricDelta } from './diff.js';

test('the plugin compares interfaces with the core rule (one home for it)', () => {
  expect(diffInterface).toBe(coreDiffInterface);
});

test('diffMaps marks same, changed, added and removed keys in name order', () => {
  expect(
    diffMaps({ lr: '0.1', epochs: '90', seed: '1' }, { lr: '0.1', epochs: '120', precision: 'fp16' }),
  ).toEqual([
    { name: 'epochs', a: '90', b: '120', mark: '~' },
    { name: 'lr', a: '0.1', b: '0.1', mark: ' ' },
    { name: 'precision', a: undefined, b: 'fp16', mark: '+' },
    { name: 'seed', a: '1', b: undefined, mark: '-' },
  ]);
});

test.each([
  [0.774, 0.772, -0.002, -0.258],
  [14, 8.1, -5.9, -42.143],
  [0, 1, 1, undefined],
  [-2, -1, 1, 50],
])('metricDelta(%d, %d)', (a, b, delta, percent) => {
  const d = metricDelta(a, b)!;
  expect(d.delta).toBeCloseTo(delta, 9);
  if (percent === undefined) expect(d.percent).toBeUndefined();
  else expect(d.percent).toBeCloseTo(percent, 2);
});

test('metricDelta needs both sides', () => {
  expect(metricDelta(1, undefined)).toBeUndefined();
  expect(metricDelta(undefined, 1)).toBeUndefined();
});
