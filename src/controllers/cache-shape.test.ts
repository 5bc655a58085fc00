import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { slimDeployment, slimPod, specDrift, withoutManagedFields } from './cache-shape.js';

const managedFields = [{ manager: 'modelship', operation: 'Apply', fieldsV1: { 'f:spec': {} } }];

test('managedFields go, the rest of metadata stays, and the argument is not changed', () => {
  const o = {
    kind: 'ConfigMap',
    metadata: { name: 'a', labels: { x: '1' }, managedFields },
    data: { k: 'v' },
  };
  const copy = structuredClone(o);
  expect(withoutManagedFields(o)).toEqual({
    kind: 'ConfigMap',
    metadata: { name: 'a', labels: { x: '1' } },
    data: { k: 'v' },
  });
  expect(o).toEqual(copy);
  const bare = { kind: 'ConfigMap', metadata: { name: 'b' } };
  expect(withoutManagedFields(bare)).toBe(bare);
});

test('a pod keeps what the controllers read (labels, deletion, status) and drops its spec', () => {
  const pod: V1Pod = {
    metadata: { name: 'p', labels: { rev: 'h1' }, deletionTimestamp: new Date(0), managedFields },
    spec: { containers: [{ name: 'c', image: 'i', env: [{ name: 'A', value: 'x'.repeat(1000) }] }] },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'c', image: 'i', imageID: '', ready: true, restartCount: 3 }],
    },
  };
  const slim = slimPod(pod);
  expect(slim.spec).toBeUndefined();
  expect(slim.metadata).toEqual({ name: 'p', labels: { rev: 'h1' }, deletionTimestamp: new Date(0) });
  expect(slim.status).toBe(pod.status);
  expect(pod.spec).toBeDefined();
});

test('a Deployment keeps replicas, selector, template labels and status, not the pod spec', () => {
  const d: V1Deployment = {
    metadata: { name: 'd', annotations: { 'modelship.io/version': '1.0.0' }, managedFields },
    spec: {
      replicas: 2,
      selector: { matchLabels: { rev: 'h1' } },
      template: { metadata: { labels: { rev: 'h1' } }, spec: { containers: [{ name: 'c' }] } },
    },
    status: { readyReplicas: 2 },
  };
  const slim = slimDeployment(d);
  expect(slim).toEqual({
    metadata: { name: 'd', annotations: { 'modelship.io/version': '1.0.0' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { rev: 'h1' } },
      template: { metadata: { labels: { rev: 'h1' } } },
    },
    status: { readyReplicas: 2 },
  });
  expect(d.spec!.template.spec).toBeDefined();
});

test('a Deployment keeps, of managedFields, only the spec fields others changed or added', () => {
  const d: V1Deployment = {
    metadata: {
      name: 'd',
      managedFields: [
        {
          manager: 'modelship',
          operation: 'Apply',
          fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:template': { 'f:spec': { 'f:hostNetwork': {} } } } },
        },
        // kubectl scale and kubectl rollout restart own fields by design: not drift.
        {
          manager: 'kubectl',
          operation: 'Update',
          subresource: 'scale',
          fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        },
        {
          manager: 'kubectl-rollout',
          operation: 'Update',
          fieldsV1: {
            'f:spec': {
              'f:template': {
                'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/restartedAt': {} } },
              },
            },
          },
        },
        {
          manager: 'kubectl-edit',
          operation: 'Update',
          fieldsV1: { 'f:metadata': { 'f:labels': {} }, 'f:spec': { 'f:paused': {} } },
        },
      ],
    },
    spec: { replicas: 1, selector: {}, template: { spec: { containers: [] } } },
  };
  const slim = slimDeployment(d);
  expect(slim.metadata!.managedFields).toEqual([
    {
      manager: 'kubectl-edit',
      operation: 'Update',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:spec': { 'f:paused': {} } },
    },
  ]);
  expect(specDrift(slim)).toEqual(specDrift(d));
  expect(specDrift(d)).toEqual([{ manager: 'kubectl-edit', operation: 'Update', paths: [['f:paused']] }]);
});
