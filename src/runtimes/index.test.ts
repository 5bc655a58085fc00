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
