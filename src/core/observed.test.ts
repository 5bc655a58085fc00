import type { V1Pod } from '@kubernetes/client-node';
import { lastExit, toPodObservation } from './observed.js';

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
