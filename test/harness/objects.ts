// Sample objects shared by the test harness and the benchmarks. Plain data: no test framework, no
// cluster access.
import type { ModelVersion } from '../../src/api/index.js';

export const GROUP_VERSION = 'modelship.io/v1alpha1';

/** A minimal, valid Triton ONNX ModelVersion named `<model>-<version>` (in `namespace`, if given). */
export function sampleModelVersion(model: string, version: string, namespace?: string): ModelVersion {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelVersion',
    metadata: { name: `${model}-${version}`, ...(namespace ? { namespace } : {}) },
    spec: {
      model,
      version,
      runtime: 'triton',
      format: 'onnx',
      storageUri: `s3://models/${model}/${version}/model.onnx`,
      interface: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [4] }],
        outputs: [{ name: 'output', datatype: 'FP32', shape: [3] }],
      },
    },
  } as ModelVersion;
}
