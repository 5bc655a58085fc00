import type { V1Deployment, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import { ANNOTATION_VERSION, LABEL_DEPLOYMENT, LABEL_REVISION } from './labels.js';
import {
  lastExit,
  readiness,
  readyCount,
  servingCount,
  servingPodsByService,
  toObservedRevisions,
  toPodObservation,
} from './observed.js';

const crashLooping = (message?: string): V1Pod => ({
  metadata: { name: 'p' },
  status: {
    initContainerStatuses: [
      {
        name: 'fetch-model',
        image: 'curl',
        imageID: '',
        ready: false,
        restartCount: 2,
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: 'back-off 20s restarting failed container=fetch-model',
          },
        },
        lastState: {
          terminated: { exitCode: 1, reason: 'Error', ...(message === undefined ? {} : { message }) },
        },
      },
    ],
  },
});

test("a crash-looping container's observation says why it last stopped, from its termination message", () => {
  const obs = toPodObservation(
    crashLooping(
      'downloading\nmodelship: digest mismatch for https://h/m.onnx: spec.digest is sha256:aa but the artifact is sha256:bb\n',
    ),
  );
  expect(obs).toMatchObject({ waitingReason: 'CrashLoopBackOff', restarts: 2 });
  expect(obs.waitingMessage).toBe(
    'back-off 20s restarting failed container=fetch-model; fetch-model last exited with code 1 (Error): ' +
      'modelship: digest mismatch for https://h/m.onnx: spec.digest is sha256:aa but the artifact is sha256:bb',
  );
});

test('without a termination message, the exit code still says something', () => {
  expect(toPodObservation(crashLooping()).waitingMessage).toBe(
    'back-off 20s restarting failed container=fetch-model; fetch-model last exited with code 1 (Error)',
  );
});

test("the line that names the error, not a traceback's tail", () => {
  const triton = [
    "E1204 15:33:02 model_lifecycle.cc:654] failed to load 'adder' version 1: Internal: RuntimeError: cannot load: the weights are corrupt",
    '',
    'At:',
    '  /mnt/models/adder/1/model.py(6): initialize',
    ';',
  ].join('\n');
  expect(lastExit('model-server', { exitCode: 1, reason: 'Error', message: triton })).toBe(
    "model-server last exited with code 1 (Error): E1204 15:33:02 model_lifecycle.cc:654] failed to load 'adder' version 1: Internal: RuntimeError: cannot load: the weights are corrupt",
  );
  expect(lastExit('c', { exitCode: 2, message: 'one\ntwo\nthree\nfour' })).toBe(
    'c last exited with code 2: two | three | four',
  );
});

test('a long line is cut from the front: the end of a log line is where its error is', () => {
  const line = lastExit('model-server', {
    exitCode: 1,
    message: `E: failed to load 'adder' ${'x'.repeat(1000)} end`,
  });
  expect(line.length).toBeLessThan(480);
  expect(line.endsWith('x end')).toBe(true);
});

describe('inService: which pods the revision Service reaches', () => {
  const md = { metadata: { name: 'm', namespace: 'ns', uid: 'u' } } as ModelDeployment;
  const deployment: V1Deployment = {
    metadata: {
      name: 'm-abc',
      labels: { [LABEL_DEPLOYMENT]: 'm', [LABEL_REVISION]: 'abc' },
      annotations: { [ANNOTATION_VERSION]: '1.0.0' },
      ownerReferences: [
        {
          apiVersion: 'modelship.io/v1alpha1',
          kind: 'ModelDeployment',
          name: 'm',
          uid: 'u',
          controller: true,
        },
      ],
    },
    spec: { replicas: 3, selector: {}, template: {} },
  };
  const pod = (name: string): V1Pod => ({
    metadata: { name, labels: { [LABEL_DEPLOYMENT]: 'm', [LABEL_REVISION]: 'abc' } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const slice = (service: string, endpoints: Array<[string, boolean | undefined]>): V1EndpointSlice => ({
    metadata: { name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: endpoints.map(([name, ready]) => ({
      addresses: [],
      ...(ready === undefined ? {} : { conditions: { ready } }),
      targetRef: { kind: 'Pod', name },
    })),
  });

  test('a Ready pod counts as serving only once an EndpointSlice of its revision Service lists it as ready', () => {
    const [rev] = toObservedRevisions(
      md,
      [deployment],
      [pod('a'), pod('b'), pod('c')],
      [
        slice('m-abc', [
          ['a', true],
          ['b', false],
        ]),
        // The stable Service `m` lists c: not the revision's own Service, so it does not count.
        slice('m', [['c', true]]),
      ],
    );
    expect(rev!.pods.map((p) => [p.name, p.ready, p.inService])).toEqual([
      ['a', true, true],
      ['b', true, false],
      ['c', true, false],
    ]);
    expect(readyCount(rev)).toBe(3);
    expect(servingCount(rev)).toBe(1);
    expect(readiness(rev, 3, '1.0.0')).toBe(
      "3/3 replicas of 1.0.0 ready (1 of them in the Service's endpoints yet)",
    );
  });

  test('an endpoint whose ready condition is unset counts as ready (the API says to read it so); slices merge', () => {
    const serving = servingPodsByService([slice('m-abc', [['a', undefined]]), slice('m-abc', [['b', true]])]);
    expect([...serving.get('m-abc')!].sort()).toEqual(['a', 'b']);
  });

  test('without any EndpointSlice no pod is in service', () => {
    const [rev] = toObservedRevisions(md, [deployment], [pod('a')]);
    expect(servingCount(rev)).toBe(0);
    expect(readiness(rev, 1, '1.0.0')).toBe(
      "1/1 replicas of 1.0.0 ready (0 of them in the Service's endpoints yet)",
    );
  });
});
