import type { V1Deployment, V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import fc from 'fast-check';
import type { ModelDeployment } from '../api/index.js';
import { servingPodsByService, toPodObservation } from '../core/observed.js';
import { podTargets } from '../gates/observe.js';
import {
  slimDeployment,
  slimEndpointSlice,
  slimPod,
  slimService,
  specDrift,
  withoutManagedFields,
} from './cache-shape.js';

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

test('a Deployment keeps replicas, selector and the replica counts, not its pod template or status conditions', () => {
  const d: V1Deployment = {
    metadata: { name: 'd', annotations: { 'modelship.io/version': '1.0.0' }, managedFields },
    spec: {
      replicas: 2,
      selector: { matchLabels: { rev: 'h1' } },
      template: { metadata: { labels: { rev: 'h1' } }, spec: { containers: [{ name: 'c' }] } },
    },
    status: {
      readyReplicas: 2,
      replicas: 2,
      conditions: [{ type: 'Available', status: 'True', message: 'Deployment has minimum availability.' }],
    },
  };
  const slim = slimDeployment(d);
  expect(slim).toEqual({
    metadata: { name: 'd', annotations: { 'modelship.io/version': '1.0.0' } },
    spec: { replicas: 2, selector: { matchLabels: { rev: 'h1' } }, template: {} },
    status: { readyReplicas: 2, replicas: 2 },
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

test('an EndpointSlice keeps its name, version, deletion, three labels, ready endpoints and ports; not what the controller copies onto it', () => {
  const slice: V1EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'm-abc12-x7k2p',
      generateName: 'm-abc12-',
      namespace: 'ns',
      uid: 'u1',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: new Date('2026-12-05T09:00:00Z'),
      labels: {
        'app.kubernetes.io/managed-by': 'modelship',
        'app.kubernetes.io/name': 'm',
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        'kubernetes.io/service-name': 'm-abc12',
        'modelship.io/deployment': 'm',
        'modelship.io/model': 'm',
      },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-12-05T09:00:00Z' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'm-abc12', uid: 's1' }],
      managedFields,
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8000, protocol: 'TCP' }],
    endpoints: [
      {
        addresses: ['10.0.0.1'],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', name: 'p1', namespace: 'ns', uid: 'pu1' },
        nodeName: 'n1',
        zone: 'z',
      },
    ],
  };
  const copy = structuredClone(slice);
  expect(slimEndpointSlice(slice)).toEqual({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'm-abc12-x7k2p',
      namespace: 'ns',
      uid: 'u1',
      resourceVersion: '42',
      labels: {
        'app.kubernetes.io/managed-by': 'modelship',
        'kubernetes.io/service-name': 'm-abc12',
        'modelship.io/deployment': 'm',
      },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8000 }],
    endpoints: [
      { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'p1' } },
    ],
  });
  expect(slice).toEqual(copy);
});

test('the reconcile and the pre-traffic checks read slim EndpointSlices exactly as whole ones', () => {
  const md = { metadata: { name: 'm', namespace: 'ns' } } as ModelDeployment;
  const endpoint = fc.record({
    addresses: fc.array(fc.constantFrom('10.0.0.1', '10.0.0.2', 'fd00::1'), { maxLength: 2 }),
    conditions: fc.option(
      fc.record({ ready: fc.option(fc.boolean(), { nil: undefined }), serving: fc.boolean() }),
      { nil: undefined },
    ),
    targetRef: fc.option(
      fc.record({
        kind: fc.constantFrom('Pod', 'Node'),
        name: fc.constantFrom('p1', 'p2', ''),
        uid: fc.constant('u'),
      }),
      { nil: undefined },
    ),
    zone: fc.constant('z'),
  });
  const slice: fc.Arbitrary<V1EndpointSlice> = fc.record({
    metadata: fc.record({
      name: fc.constantFrom('s1', 's2'),
      labels: fc.record(
        {
          'kubernetes.io/service-name': fc.constantFrom('m-h1', 'm-h2', 'other'),
          'modelship.io/deployment': fc.constant('m'),
          'app.kubernetes.io/name': fc.constant('m'),
        },
        { requiredKeys: [] },
      ),
      annotations: fc.constant({ 'endpoints.kubernetes.io/last-change-trigger-time': 't' }),
    }),
    addressType: fc.constant('IPv4'),
    ports: fc.option(
      fc.array(
        fc.record({
          name: fc.constantFrom('http', 'grpc'),
          port: fc.integer({ min: 1, max: 9000 }),
          protocol: fc.constant('TCP'),
        }),
        { maxLength: 2 },
      ),
      { nil: undefined },
    ),
    endpoints: fc.array(endpoint, { maxLength: 3 }),
  });
  fc.assert(
    fc.property(fc.array(slice, { maxLength: 4 }), fc.constantFrom('h1', 'h2'), (slices, revision) => {
      const slim = slices.map(slimEndpointSlice);
      expect(servingPodsByService(slim)).toEqual(servingPodsByService(slices));
      expect(podTargets(md, revision, slim)).toEqual(podTargets(md, revision, slices));
    }),
    { numRuns: 300 },
  );
});

test('a Service keeps its metadata, ports, selector and type; not its status or its addressing', () => {
  const svc: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'm',
      namespace: 'ns',
      uid: 'u',
      labels: { 'modelship.io/deployment': 'm' },
      annotations: { 'modelship.io/applied': 'h', 'modelship.io/weights': 'h1=100' },
      ownerReferences: [
        {
          apiVersion: 'modelship.io/v1alpha1',
          kind: 'ModelDeployment',
          name: 'm',
          uid: 'md',
          controller: true,
        },
      ],
      managedFields,
    },
    spec: {
      type: 'ClusterIP',
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
      selector: { 'modelship.io/deployment': 'm' },
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
    },
    status: { loadBalancer: {} },
  };
  const copy = structuredClone(svc);
  const { managedFields: _m, ...metadata } = svc.metadata!;
  expect(slimService(svc)).toEqual({
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ClusterIP',
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
      selector: { 'modelship.io/deployment': 'm' },
    },
  });
  expect(svc).toEqual(copy);
  expect(slimService({ metadata: { name: 'bare' } })).toEqual({ metadata: { name: 'bare' } });
});
