import fc from 'fast-check';
import {
  checkInterfaceChange,
  describeTensorChange,
  diffInterface,
  diffTensors,
  inputShapeAccepts,
  majorAbove,
  outputShapeFits,
  type Tensor,
} from './interface.js';

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
    ['an input renamed', { ...base, inputs: [t('input__0', 'FP32', [4])] }, true],
    ['an input dimension made dynamic (accepts more)', { ...base, inputs: [t('in', 'FP32', [-1])] }, false],
    ['an input rank changed, even to dynamic', { ...base, inputs: [t('in', 'FP32', [-1, -1])] }, true],
    ['an input format changed', { ...base, inputs: [t('in', 'FP32', [4], 'FORMAT_NHWC')] }, true],
    ['an output dimension made dynamic (may surprise)', { ...base, outputs: [t('out', 'FP32', [-1])] }, true],
  ])('%s: breaking=%s', (_name, after, breaking) => {
    expect(diffInterface(base, after).breaking).toBe(breaking);
  });

  test('a dynamic input dimension made fixed breaks; a dynamic output dimension made fixed does not', () => {
    const dyn = { inputs: [t('in', 'INT64', [-1])], outputs: [t('out', 'FP32', [-1, 3])] };
    expect(diffInterface(dyn, { ...dyn, inputs: [t('in', 'INT64', [128])] }).breakingChanges).toEqual([
      'input in: shape [-1] → [128]',
    ]);
    expect(diffInterface(dyn, { ...dyn, outputs: [t('out', 'FP32', [10, 3])] }).breaking).toBe(false);
  });

  test('names each breaking difference', () => {
    const after = {
      inputs: [t('in', 'FP16', [4]), t('mask', 'BOOL', [4])],
      outputs: [t('probs', 'FP32', [3])],
    };
    expect(diffInterface(base, after).breakingChanges).toEqual([
      'input in: datatype FP32 → FP16',
      'new required input mask (BOOL [4])',
      'output out removed (was FP32 [3])',
    ]);
  });

  test('no interface on either side is no change', () => {
    expect(diffInterface(undefined, undefined)).toEqual({
      inputs: [],
      outputs: [],
      breakingChanges: [],
      breaking: false,
    });
  });
});

describe('shape rules (properties)', () => {
  const dim = fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 8 }));
  const shape = fc.array(dim, { maxLength: 4 });

  test('a shape is compatible with itself, both ways', () => {
    fc.assert(fc.property(shape, (s) => inputShapeAccepts(s, s) && outputShapeFits(s, s)));
  });

  test('an input accepts what it accepted: every concrete tensor the old shape took, the new takes', () => {
    const concrete = (s: number[]) =>
      fc.tuple(...s.map((d) => (d === -1 ? fc.integer({ min: 0, max: 8 }) : fc.constant(d))));
    const fits = (s: number[], x: number[]) =>
      s.length === x.length && s.every((d, i) => d === -1 || d === x[i]);
    fc.assert(
      fc.property(shape, shape, (before, after) => {
        if (!inputShapeAccepts(before, after)) return true;
        return fc.assert(fc.property(concrete(before), (x) => fits(after, x))) === undefined;
      }),
      { numRuns: 200 },
    );
  });

  test('output fit is input acceptance with the sides swapped', () => {
    fc.assert(fc.property(shape, shape, (a, b) => outputShapeFits(a, b) === inputShapeAccepts(b, a)));
  });

  test('an interface never breaks against itself, and adding outputs never breaks', () => {
    const tensor = fc.record({
      name: fc.constantFrom('a', 'b', 'c', 'd'),
      datatype: fc.constantFrom('FP32' as const, 'INT64' as const),
      shape,
    });
    const list = fc.uniqueArray(tensor, { selector: (x) => x.name, maxLength: 3 });
    fc.assert(
      fc.property(list, list, list, (inputs, outputs, extra) => {
        const i = { inputs, outputs };
        const more = extra.filter((e) => !outputs.some((o) => o.name === e.name));
        return (
          !diffInterface(i, i).breaking &&
          !diffInterface(i, { inputs, outputs: [...outputs, ...more] }).breaking
        );
      }),
    );
  });
});

describe('checkInterfaceChange: Semantic Versioning decides', () => {
  const v1 = { inputs: [t('in', 'FP32', [4])], outputs: [t('out', 'FP32', [3])] };
  const broken = { inputs: [t('features', 'FP32', [4])], outputs: [t('out', 'FP32', [3])] };
  const additive = { ...v1, outputs: [...v1.outputs, t('probs', 'FP32', [3])] };
  const side = (version: string, i: typeof v1 | undefined) => ({ version, interface: i });

  test.each([
    ['a compatible minor', '1.1.0', additive, undefined, true],
    ['a breaking minor', '1.1.0', broken, undefined, false],
    ['a breaking patch', '1.0.1', broken, undefined, false],
    ['a breaking pre-release of the same major', '1.1.0-rc.1', broken, undefined, false],
    ['a breaking new major', '2.0.0', broken, undefined, true],
    ['a breaking new major pre-release', '2.0.0-rc.1', broken, undefined, true],
    ['a breaking minor with the opt-in naming it', '1.1.0', broken, '1.1.0', true],
    ['a breaking minor with the opt-in naming another version', '1.2.0', broken, '1.1.0', false],
    ['no interface declared by the new version', '1.1.0', undefined, undefined, false],
  ])('%s: ok=%s', (_n, version, iface, allow, ok) => {
    expect(checkInterfaceChange(side('1.0.0', v1), side(version, iface), allow).ok).toBe(ok);
  });

  test('a serving version without a declared interface has no contract to check', () => {
    expect(checkInterfaceChange(side('1.0.0', undefined), side('1.1.0', broken))).toMatchObject({
      ok: true,
      why: 'undeclared',
    });
  });

  test('going down a major is not a new major', () => {
    expect(checkInterfaceChange(side('2.0.0', broken), side('1.4.0', v1)).ok).toBe(false);
  });

  test('the message names each breaking difference and both ways out', () => {
    const v = checkInterfaceChange(side('1.0.0', v1), side('1.1.0', broken));
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.breakingChanges).toEqual([
      'input in removed (was FP32 [4])',
      'new required input features (FP32 [4])',
    ]);
    expect(v.message).toContain('input in removed');
    expect(v.message).toContain('new major version');
    expect(v.message).toContain('spec.strategy.allowInterfaceChangeTo: "1.1.0"');
  });

  test.each([
    ['2.0.0', '1.9.9', true],
    ['10.0.0', '9.0.0', true],
    ['1.9.9', '1.0.0', false],
    ['1.0.0', '2.0.0', false],
    ['0.2.0', '0.1.0', false],
    ['latest', '1.0.0', false],
  ])('majorAbove(%s, %s) = %s', (a, b, want) => {
    expect(majorAbove(a, b)).toBe(want);
  });
});
