import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { toPodObservation } from '../core/observed.js';
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

test('a pod keeps what the controllers read (name, deletion, two labels, Ready, restarts, why it waits) and nothing else', () => {
  const t = new Date('2026-12-05T06:00:00Z');
  const crashed = {
    name: 'model-server',
    image: 'nvcr.io/nvidia/tritonserver:24.08-py3',
    imageID: 'sha256:abc',
    containerID: 'containerd://1',
    ready: false,
    started: false,
    restartCount: 3,
    state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting' } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'failed to load model' } },
  };
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u1',
      resourceVersion: '7',
      generateName: 'm-h1-abc-',
      labels: { 'modelship.io/deployment': 'm', 'modelship.io/revision': 'h1', 'pod-template-hash': 'abc' },
      annotations: { 'modelship.io/version': '1.0.0' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'm-h1-abc', uid: 'r1' }],
      deletionTimestamp: t,
      managedFields,
    },
    spec: { containers: [{ name: 'c', image: 'i', env: [{ name: 'A', value: 'x'.repeat(1000) }] }] },
    status: {
      phase: 'Running',
      startTime: t,
      hostIP: '10.0.0.1',
      podIP: '10.244.0.1',
      podIPs: [{ ip: '10.244.0.1' }],
      qosClass: 'Burstable',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: t },
      ],
      initContainerStatuses: [
        {
          name: 'fetch-model',
          image: 'amazon/aws-cli',
          imageID: '',
          ready: true,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed' } },
        },
      ],
      containerStatuses: [crashed],
    },
  };
  const copy = structuredClone(pod);
  const slim = slimPod(pod);
  expect(slim).toEqual({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u1',
      resourceVersion: '7',
      labels: { 'modelship.io/deployment': 'm', 'modelship.io/revision': 'h1' },
      deletionTimestamp: t,
    },
    status: {
      phase: 'Running',
      startTime: t,
      conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: t }],
      initContainerStatuses: [{ name: 'fetch-model', image: '', imageID: '', ready: true, restartCount: 0 }],
      containerStatuses: [
        {
          name: 'model-server',
          image: '',
          imageID: '',
          ready: false,
          restartCount: 3,
          state: crashed.state,
          lastState: crashed.lastState,
        },
      ],
    },
  });
  expect(pod).toEqual(copy);
  // What the reconcile makes of a pod is the same from the slim copy as from the whole one.
  const serving = new Set(['p']);
  expect(toPodObservation(slim, serving)).toEqual(toPodObservation(pod, serving));
  const plain: V1Pod = { metadata: { name: 'q' } };
  expect(slimPod(plain)).toEqual({ metadata: { name: 'q' } });
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

test('property: the reconcile observes a slim pod exactly as the whole one', () => {
  const time = fc.date({ min: new Date('2026-01-01'), max: new Date('2027-01-01'), noInvalidDate: true });
  const container = fc.record({
    name: fc.constantFrom('fetch-model', 'model-server', 'sidecar'),
    image: fc.string(),
    imageID: fc.string(),
    ready: fc.boolean(),
    restartCount: fc.nat(50),
    started: fc.option(fc.boolean(), { nil: undefined }),
    state: fc.option(
      fc.oneof(
        fc.record({
          waiting: fc.record({
            reason: fc.constantFrom(
              'CrashLoopBackOff',
              'ContainerCreating',
              'ErrImagePull',
              'PodInitializing',
            ),
            message: fc.option(fc.string(), { nil: undefined }),
          }),
        }),
        fc.record({ running: fc.record({ startedAt: time }) }),
      ),
      { nil: undefined },
    ),
    lastState: fc.option(
      fc.record({
        terminated: fc.record({
          exitCode: fc.integer({ min: 0, max: 255 }),
          reason: fc.option(fc.constantFrom('Error', 'OOMKilled'), { nil: undefined }),
          message: fc.option(fc.string(), { nil: undefined }),
        }),
      }),
      { nil: undefined },
    ),
  });
  const condition = fc.record({
    type: fc.constantFrom('Ready', 'PodScheduled', 'ContainersReady', 'Initialized'),
    status: fc.constantFrom('True', 'False', 'Unknown'),
    lastTransitionTime: fc.option(time, { nil: undefined }),
  });
  const pod: fc.Arbitrary<V1Pod> = fc.record({
    metadata: fc.record({
      name: fc.constantFrom('a', 'b'),
      deletionTimestamp: fc.option(time, { nil: undefined }),
      ownerReferences: fc
        .constant([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r', uid: 'u' }])
        .map((r) => [...r]),
    }),
    status: fc.record({
      phase: fc.constantFrom('Pending', 'Running', 'Failed'),
      startTime: fc.option(time, { nil: undefined }),
      podIP: fc.constant('10.0.0.1'),
      conditions: fc.array(condition, { maxLength: 4 }),
      initContainerStatuses: fc.option(fc.array(container, { maxLength: 2 }), { nil: undefined }),
      containerStatuses: fc.option(fc.array(container, { maxLength: 3 }), { nil: undefined }),
    }),
  });
  fc.assert(
    fc.property(pod, fc.subarray(['a', 'b']), (p, ready) => {
      const serving = new Set(ready);
      expect(toPodObservation(slimPod(p), serving)).toEqual(toPodObservation(p, serving));
    }),
    { numRuns: 300 },
  );
});
