import type { V1ConfigMap } from '@kubernetes/client-node';
import type { ModelVersion } from '../api/index.js';
import {
  changedKeys,
  changedProblem,
  copyIn,
  matchesPin,
  pinOf,
  referencingStages,
  selectContent,
} from './pin.js';

function mv(ref: { name: string; key?: string }): ModelVersion {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'adder-1.1.0', namespace: 'ml' },
    spec: {
      model: 'adder',
      version: '1.1.0',
      runtime: 'triton',
      format: 'python',
      storageUri: 'https://store/model.py',
      processing: { postprocess: { handler: 'labels:postprocess', configMapRef: ref } },
    },
  } as ModelVersion;
}

const cm = (data: Record<string, string>, binaryData?: Record<string, string>): V1ConfigMap => ({
  metadata: { name: 'labels' },
  data,
  ...(binaryData ? { binaryData } : {}),
});

describe('selectContent', () => {
  test('without a key, every data key', () => {
    expect(selectContent(mv({ name: 'labels' }), 'postprocess', cm({ a: '1', b: '2' }))).toEqual({
      ok: true,
      content: { data: { a: '1', b: '2' } },
    });
  });

  test('with a key, that key only', () => {
    expect(selectContent(mv({ name: 'labels', key: 'b' }), 'postprocess', cm({ a: '1', b: '2' }))).toEqual({
      ok: true,
      content: { data: { b: '2' } },
    });
  });

  test.each([
    [
      'a missing ConfigMap',
      mv({ name: 'labels' }),
      undefined,
      'ConfigMapNotFound',
      'spec.processing.postprocess.configMapRef.name',
    ],
    [
      'a missing key',
      mv({ name: 'labels', key: 'c' }),
      cm({ a: '1' }),
      'ConfigMapKeyNotFound',
      'spec.processing.postprocess.configMapRef.key',
    ],
    [
      'a binary key',
      mv({ name: 'labels', key: 'c' }),
      cm({}, { c: 'AA==' }),
      'ProcessingBinaryData',
      'spec.processing.postprocess.configMapRef.key',
    ],
    [
      'binary keys among all',
      mv({ name: 'labels' }),
      cm({ a: '1' }, { c: 'AA==' }),
      'ProcessingBinaryData',
      'spec.processing.postprocess.configMapRef',
    ],
  ])('%s is a problem naming the field', (_what, v, c, reason, field) => {
    const got = selectContent(v, 'postprocess', c);
    expect(got).toMatchObject({ ok: false, reason });
    expect(!got.ok && got.message).toContain(field);
    expect(!got.ok && got.message).toContain('ml/labels');
  });
});

describe('pins', () => {
  const pin = pinOf(
    'labels',
    { data: { 'labels.json': '{"3":"cat"}', 'labels.py': 'x' } },
    '2026-12-04T20:00:00.000Z',
  );

  test('one digest over the content, one per key; the order of the keys does not matter', () => {
    expect(pin.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Object.keys(pin.keys!)).toEqual(['labels.json', 'labels.py']);
    expect(pinOf('labels', { data: { 'labels.py': 'x', 'labels.json': '{"3":"cat"}' } }, '').digest).toBe(
      pin.digest,
    );
  });

  test('a change, an added and a removed key are named', () => {
    const now = { data: { 'labels.json': '{"3":"dog"}', 'extra.txt': '' } };
    expect(matchesPin(pin, now)).toBe(false);
    expect(changedKeys(pin, now)).toEqual([
      'labels.json (changed)',
      'labels.py (removed)',
      'extra.txt (added)',
    ]);
    const p = changedProblem(mv({ name: 'labels' }), 'postprocess', pin, now);
    expect(p.reason).toBe('ProcessingChanged');
    expect(p.message).toContain('ConfigMap ml/labels (spec.processing.postprocess.configMapRef)');
    expect(p.message).toContain(pin.digest);
  });

  test('the same content matches; no pin matches anything', () => {
    expect(matchesPin(pin, { data: { 'labels.py': 'x', 'labels.json': '{"3":"cat"}' } })).toBe(true);
    expect(matchesPin(undefined, { data: {} })).toBe(true);
  });
});

test("copyIn reads a stage's copied keys from a revision ConfigMap", () => {
  const revision = cm({
    'config.pbtxt': 'x',
    'postprocess.json': '{}',
    'postprocess--labels.json': 'L',
    'postprocess--labels.py': 'P',
    'preprocess--a': 'A',
  });
  expect(copyIn(revision, 'postprocess')).toEqual({ data: { 'labels.json': 'L', 'labels.py': 'P' } });
  expect(copyIn(revision, 'preprocess')).toEqual({ data: { a: 'A' } });
  expect(copyIn(cm({ 'config.pbtxt': 'x' }), 'postprocess')).toBeUndefined();
});

test('referencingStages', () => {
  expect(referencingStages(mv({ name: 'labels' }))).toEqual(['postprocess']);
});
