import { readCrds } from '../../tools/api/crd-files.js';
import { UnknownRuntimeError, getRuntime, runtimeNames } from './index.js';
import { torchserve } from './torchserve/index.js';
import { triton } from './triton/index.js';

describe('runtime registry', () => {
  test.each([
    ['triton', triton],
    ['torchserve', torchserve],
  ])('%s', (name, runtime) => {
    expect(getRuntime(name)).toBe(runtime);
    expect(runtime.name).toBe(name);
  });

  test('every runtime the ModelVersion schema allows is registered, and no other', () => {
    const crd = readCrds().find((c) => c.spec.names.kind === 'ModelVersion');
    const allowed =
      crd?.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec?.properties?.runtime?.enum;
    expect(allowed).toBeDefined();
    expect(runtimeNames()).toEqual([...(allowed as string[])].sort());
  });

  test('an unknown name is a clear error naming the known runtimes', () => {
    expect(() => getRuntime('vllm')).toThrow(UnknownRuntimeError);
    expect(() => getRuntime('vllm')).toThrow(
      'unknown model runtime "vllm": modelship knows torchserve, triton',
    );
  });
});

describe('what every runtime renders', () => {
  const mv = (runtime: 'triton' | 'torchserve', storageUri: string) =>
    ({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelVersion',
      metadata: { name: 'm-1.0.0', namespace: 'ns' },
      spec: {
        model: 'm',
        version: '1.0.0',
        runtime,
        format: runtime === 'triton' ? 'onnx' : 'mar',
        storageUri,
      },
    }) as unknown as Parameters<typeof triton.renderPod>[0];

  test.each([
    ['triton', triton, 's3://b/m/model.onnx'],
    ['triton', triton, 'https://h/m.tar.gz'],
    ['torchserve', torchserve, 'gs://b/m.mar'],
  ] as const)(
    "%s (%s): every container's exit names its cause (termination message from its logs)",
    (name, runtime, uri) => {
      const pod = runtime.renderPod(mv(name, uri), {}, 'cm');
      for (const c of [pod.container, ...(pod.initContainers ?? [])])
        expect({ container: c.name, policy: c.terminationMessagePolicy }).toEqual({
          container: c.name,
          policy: 'FallbackToLogsOnError',
        });
    },
  );
});
