import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import { foreignOnlyFields, formatPath, leafPaths } from './managed-fields.js';

const IMAGE = ['f:template', 'f:spec', 'f:containers', 'k:{"name":"triton"}', 'f:image'];

/** modelship's apply of a Deployment spec, as the apiserver records it (abridged). */
const ours: V1ManagedFieldsEntry = {
  manager: 'modelship',
  operation: 'Apply',
  fieldsType: 'FieldsV1',
  fieldsV1: {
    'f:spec': {
      'f:replicas': {},
      'f:template': {
        'f:spec': {
          'f:containers': { 'k:{"name":"triton"}': { '.': {}, 'f:name': {}, 'f:image': {} } },
        },
      },
    },
  },
};

test('leaf paths leave out `.` (a node is described by its children)', () => {
  expect(leafPaths({ 'f:a': { '.': {}, 'f:b': {} }, 'f:c': {} })).toEqual([['f:a', 'f:b'], ['f:c']]);
  expect(leafPaths({ 'f:a': { '.': {} } })).toEqual([['f:a']]);
  expect(leafPaths({})).toEqual([]);
});

test('nobody else: no foreign fields', () => {
  expect(foreignOnlyFields([ours], 'modelship', ['f:spec'])).toEqual([]);
  expect(foreignOnlyFields(undefined, 'modelship', ['f:spec'])).toEqual([]);
});

test('a field another manager changed (it owns it, modelship no longer does) is foreign', () => {
  // After `kubectl set image`, modelship's entry no longer holds the image.
  const moved: V1ManagedFieldsEntry = {
    ...ours,
    fieldsV1: {
      'f:spec': {
        'f:replicas': {},
        'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"triton"}': { '.': {}, 'f:name': {} } } } },
      },
    },
  };
  const edit: V1ManagedFieldsEntry = {
    manager: 'kubectl-set',
    operation: 'Update',
    time: new Date('2026-12-04T10:00:00Z'),
    fieldsV1: {
      'f:spec': {
        'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"triton"}': { 'f:image': {} } } } },
      },
    },
  };
  expect(foreignOnlyFields([moved, edit], 'modelship', ['f:spec'])).toEqual([
    { manager: 'kubectl-set', operation: 'Update', time: '2026-12-04T10:00:00.000Z', paths: [IMAGE] },
  ]);
});

test('a field set to the same value by another manager (co-owned) is not foreign', () => {
  const same: V1ManagedFieldsEntry = {
    manager: 'argocd',
    operation: 'Apply',
    fieldsV1: structuredClone(ours.fieldsV1),
  };
  expect(foreignOnlyFields([ours, same], 'modelship', ['f:spec'])).toEqual([]);
});

test('a field added beside modelship is foreign; ignored paths and other roots are not', () => {
  const added: V1ManagedFieldsEntry = {
    manager: 'kubectl-edit',
    operation: 'Update',
    fieldsV1: {
      'f:metadata': { 'f:labels': { 'f:team': {} } },
      'f:spec': { 'f:paused': {}, 'f:replicas': {} },
    },
  };
  const ignoreReplicas = (p: readonly string[]) => p[0] === 'f:replicas';
  expect(foreignOnlyFields([ours, added], 'modelship', ['f:spec'], ignoreReplicas)).toEqual([
    { manager: 'kubectl-edit', operation: 'Update', paths: [['f:paused']] },
  ]);
});

test('paths read as a person writes them', () => {
  expect(formatPath(IMAGE)).toBe('template.spec.containers[name=triton].image');
  expect(formatPath(['f:ports', 'k:{"containerPort":8000,"protocol":"TCP"}'])).toBe(
    'ports[containerPort=8000,protocol=TCP]',
  );
  expect(formatPath(['f:args', 'v:"--x"'])).toBe('args["--x"]');
});
