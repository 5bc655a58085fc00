import {
  describeTensorChange,
  diffInterface,
  diffMaps,
  diffTensors,
  metricDelta,
  type Tensor,
} from './diff.js';

const t = (name: string, datatype: Tensor['datatype'], shape: number[], format?: string): Tensor => ({
  name,
  datatype,
  shape,
  ...(format ? { format } : {}),
});

describe('diffTensors', () => {
  test.each([
    ['identical', [t('in', 'FP32', [3, 224, 224])], [t('in', 'FP32', [3, 224, 224])], []],
    ['both empty', [], [], []],
    ['added', [], [t('mask', 'BOOL', [-1])], ['+ mask: BOOL [-1]']],
    ['removed', [t('in', 'FP32', [4])], [], ['- in: FP32 [4]']],
    ['datatype changed', [t('in', 'FP32', [4])], [t('in', 'FP16', [4])], ['~ in: datatype FP32 → FP16']],
    [
      'shape changed',
      [t('in', 'FP32', [3, 224, 224])],
      [t('in', 'FP32', [3, 256, 256])],
      ['~ in: shape [3, 224, 224] → [3, 256, 256]'],
    ],
    [
      'a dimension became dynamic',
      [t('in', 'INT64', [128])],
      [t('in', 'INT64', [-1])],
      ['~ in: shape [128] → [-1]'],
    ],
    ['rank changed', [t('in', 'FP32', [4])], [t('in', 'FP32', [1, 4])], ['~ in: shape [4] → [1, 4]']],
    [
      'datatype and shape changed at once',
      [t('in', 'FP32', [4])],
      [t('in', 'FP16', [8])],
      ['~ in: datatype FP32 → FP16, shape [4] → [8]'],
    ],
    [
      'layout changed',
      [t('img', 'UINT8', [3, 224, 224], 'FORMAT_NCHW')],
      [t('img', 'UINT8', [3, 224, 224], 'FORMAT_NHWC')],
      ['~ img: format FORMAT_NCHW → FORMAT_NHWC'],
    ],
    [
      'renamed is removed + added, in that order',
      [t('input__0', 'FP32', [4])],
      [t('input', 'FP32', [4])],
      ['- input__0: FP32 [4]', '+ input: FP32 [4]'],
    ],
    [
      'order of the lists does not matter',
      [t('a', 'FP32', [1]), t('b', 'FP32', [1])],
      [t('b', 'FP32', [1]), t('a', 'FP32', [1])],
      [],
    ],
  ])('%s', (_name, before, after, lines) => {
    expect(diffTensors(before, after).map(describeTensorChange)).toEqual(lines);
  });
});

describe('diffInterface: what breaks clients', () => {
  const base = { inputs: [t('in', 'FP32', [4])], outputs: [t('out', 'FP32', [3])] };
  test.each([
    ['nothing changed', base, false],
    ['an output added', { ...base, outputs: [...base.outputs, t('probs', 'FP32', [3])] }, false],
    ['an output removed', { ...base, outputs: [] }, true],
    ['an output changed', { ...base, outputs: [t('out', 'FP64', [3])] }, true],
    [
      'an input added (a new required input)',
      { ...base, inputs: [...base.inputs, t('mask', 'BOOL', [4])] },
      true,
    ],
    ['an input changed', { ...base, inputs: [t('in', 'FP32', [8])] }, true],
  ])('%s: breaking=%s', (_name, after, breaking) => {
    expect(diffInterface(base, after).breaking).toBe(breaking);
  });

  test('no interface on either side is no change', () => {
    expect(diffInterface(undefined, undefined)).toEqual({ inputs: [], outputs: [], breaking: false });
  });
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
