// What tests on the real data plane share: where it is (the config hack/dataplane/up.sh wrote),
// how to put a ModelDeployment's pods on its node, the test models (Python-backend Triton models,
// published to the data plane's HTTPS model store), and KServe v2 requests to a pod.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import type { ModelVersion } from '../../src/api/index.js';
import { readConfig, type DataPlaneConfig } from './dataplane/config.js';
import { clusterEnv } from './env.js';
import { GROUP_VERSION } from './objects.js';

export type { DataPlaneConfig };

/**
 * The running data plane, or why there is none: the jest global setup starts it where the machine
 * can run it and says in MODELSHIP_DATAPLANE_STATE `running`, why the machine cannot, or
 * `failed: ...` when it should have started and did not.
 */
export function dataPlane(): { cfg: DataPlaneConfig } | { unavailable: string; failed: boolean } {
  const state = process.env.MODELSHIP_DATAPLANE_STATE;
  if (state && state !== 'running') return { unavailable: state, failed: state.startsWith('failed:') };
  const file = join(clusterEnv().runDir, 'dataplane', 'config.json');
  if (!existsSync(file)) {
    return {
      unavailable: `no data plane is running (${file} does not exist): bash hack/dataplane/up.sh`,
      failed: false,
    };
  }
  return { cfg: readConfig(file) };
}

/**
 * Declares the tests of a file that needs the real data plane. Where the machine cannot run it, one
 * skipped test names what is missing; where it failed to start, and in CI (which runs as root on a
 * machine that can run it), one test fails with the reason instead.
 */
export function withDataPlane(suite: (cfg: DataPlaneConfig) => void): void {
  const dp = dataPlane();
  if ('cfg' in dp) return suite(dp.cfg);
  if (dp.failed || process.env.CI) {
    test('the real data plane runs', () => {
      throw new Error(dp.unavailable);
    });
  } else {
    test.skip(`real data plane tests skipped: ${dp.unavailable}`, () => undefined);
  }
}

/** spec.pod fields that put a ModelDeployment's pods on the data plane's node, and only there. */
export function onDataPlane(cfg: DataPlaneConfig): { nodeSelector: object; tolerations: object[] } {
  return {
    nodeSelector: { [cfg.nodeLabel]: 'true' },
    tolerations: [{ key: cfg.nodeLabel, operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
  };
}

// ---- test models ----------------------------------------------------------------------------------

/**
 * A Triton Python-backend model: OUTPUT0 = INPUT0 + 1 (FP32, 4 values), and MODEL_VERSION (BYTES, 1
 * value) the version it was built as, so a response says which version answered.
 */
export function addModel(version: string): string {
  return `import numpy as np
import triton_python_backend_utils as pb_utils

VERSION = ${JSON.stringify(version)}


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            out = pb_utils.Tensor("OUTPUT0", (x + 1).astype(np.float32))
            ver = pb_utils.Tensor("MODEL_VERSION", np.array([VERSION.encode()], dtype=np.object_))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out, ver]))
        return responses
`;
}

/** A model whose initialize() raises: Triton fails to load it (and, with --exit-on-error, exits). */
export function failingModel(version: string): string {
  return `import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        raise pb_utils.TritonModelException("model ${version} cannot load: the weights are corrupt (a test model)")

    def execute(self, requests):
        return []
`;
}

export { flakyModel, slowModel, tunableModel } from './test-models.js';

export const ADD_INTERFACE = {
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4] }],
  outputs: [
    { name: 'OUTPUT0', datatype: 'FP32', shape: [4] },
    { name: 'MODEL_VERSION', datatype: 'BYTES', shape: [1] },
  ],
};

/** Puts a file into the model store; returns its https:// URL and sha256 digest. */
export function publish(
  cfg: DataPlaneConfig,
  path: string,
  content: string,
): { url: string; digest: string } {
  const file = join(cfg.store.dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  return {
    url: `${cfg.store.url}/${path}`,
    digest: `sha256:${createHash('sha256').update(content).digest('hex')}`,
  };
}

/** Puts an object into the S3 store's bucket (a folder of its directory); returns its s3:// URI and digest. */
export function publishS3(
  cfg: DataPlaneConfig,
  bucket: string,
  key: string,
  content: string,
): { uri: string; digest: string } {
  const file = join(cfg.s3.dir, bucket, key);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  return {
    uri: `s3://${bucket}/${key}`,
    digest: `sha256:${createHash('sha256').update(content).digest('hex')}`,
  };
}

/**
 * The environment the AWS CLI needs to fetch from the data plane's S3 store: its endpoint and
 * credentials, as the AWS CLI reads them: what a Secret named by spec.pod.storageCredentials holds.
 */
export function s3Env(cfg: DataPlaneConfig): Array<{ name: string; value: string }> {
  return [
    { name: 'AWS_ENDPOINT_URL', value: cfg.s3.endpoint },
    { name: 'AWS_ACCESS_KEY_ID', value: cfg.s3.accessKey },
    { name: 'AWS_SECRET_ACCESS_KEY', value: cfg.s3.secretKey },
    { name: 'AWS_DEFAULT_REGION', value: 'us-east-1' },
  ];
}

/** A ModelVersion of a Python-backend Triton model published at `url`. */
export function pythonModelVersion(o: {
  model: string;
  version: string;
  url: string;
  digest?: string;
}): ModelVersion {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelVersion',
    metadata: { name: `${o.model}-${o.version}` },
    spec: {
      model: o.model,
      version: o.version,
      runtime: 'triton',
      format: 'python',
      storageUri: o.url,
      ...(o.digest ? { digest: o.digest } : { digestPolicy: 'Unverified' }),
      interface: ADD_INTERFACE,
    },
  } as ModelVersion;
}

// ---- requests ---------------------------------------------------------------------------------------

export interface InferResult {
  status: number;
  output?: number[];
  version?: string;
  body: string;
}

/** A KServe v2 inference request (JSON) to http://ip:port/v2/models/<model>/infer. */
export function infer(ip: string, port: number, model: string, input: number[]): Promise<InferResult> {
  const body = JSON.stringify({
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [input.length], data: input }],
  });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: ip,
        port,
        path: `/v2/models/${model}/infer`,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          const r: InferResult = { status: res.statusCode ?? 0, body: text };
          try {
            const j = JSON.parse(text) as { outputs?: Array<{ name: string; data: unknown[] }> };
            const out = j.outputs?.find((o) => o.name === 'OUTPUT0')?.data as number[] | undefined;
            const ver = j.outputs?.find((o) => o.name === 'MODEL_VERSION')?.data?.[0];
            if (out) r.output = out;
            if (typeof ver === 'string') r.version = ver;
          } catch {
            // not JSON: the status and body say what happened
          }
          resolve(r);
        });
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`POST http://${ip}:${port}/v2/models/${model}/infer timed out`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The output of one run of a container of a pod (the data plane keeps them as a kubelet does). */
export function containerLogs(cfg: DataPlaneConfig, ns: string, pod: string, container: string): string[] {
  const base = join(cfg.stateDir, 'logs');
  if (!existsSync(base)) return [];
  const dir = readdirSync(base).find((d) => d.startsWith(`${ns}_${pod}_`));
  if (!dir || !existsSync(join(base, dir, container))) return [];
  return readdirSync(join(base, dir, container))
    .sort((a, b) => parseInt(a) - parseInt(b))
    .map((f) => readFileSync(join(base, dir, container, f), 'utf8'));
}
