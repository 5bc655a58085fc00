// Sample objects shared by the test harness and the benchmarks. Plain data: no test framework, no
// cluster access.
import { createHash } from 'node:crypto';
import type { ModelVersion } from '../../src/api/index.js';
import { modelVersionName } from '../../src/core/model-version.js';

export const GROUP_VERSION = 'modelship.io/v1alpha1';

/**
 * A digest for an artifact nothing fetches (kwok pods): the CRD requires one (or digestPolicy
 * Unverified), and a real fetch of such a URI would fail anyway.
 */
export const fakeDigest = (uri: string): string => `sha256:${createHash('sha256').update(uri).digest('hex')}`;

/** A minimal, valid Triton ONNX ModelVersion named `<model>-<version>` (in `namespace`, if given). */
export function sampleModelVersion(model: string, version: string, namespace?: string): ModelVersion {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelVersion',
    metadata: { name: modelVersionName(model, version), ...(namespace ? { namespace } : {}) },
    spec: {
      model,
      version,
      runtime: 'triton',
      format: 'onnx',
      storageUri: `s3://models/${model}/${version}/model.onnx`,
      digest: fakeDigest(`s3://models/${model}/${version}/model.onnx`),
      interface: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [4] }],
        outputs: [{ name: 'output', datatype: 'FP32', shape: [3] }],
      },
    },
  } as ModelVersion;
}
