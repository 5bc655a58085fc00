/**
 * kubectl modelship import against a real MLflow tracking server and model registry (PyPI's
 * mlflow, sqlite backend, started here) and the real apiserver: model versions registered by
 * MLflow's own Python client (a run with params, metrics, a dataset input and an ONNX model with a
 * signature) become ModelVersions that the CRD's schema and CEL rules accept, with the fields mapped;
 * a signature that cannot be mapped is a command error naming the field, and nothing is created;
 * importing a version again is refused and leaves the stored ModelVersion as it was.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import type { ModelVersion } from '../../src/api/index.js';
import { directoryDigest } from '../../src/plugin/commands/digest.js';
import { clusterEnv, repoRoot } from '../harness/env.js';
import { kubectl, kubectlOk, run, tempNamespace, type RunResult } from '../harness/kube.js';
import { startMlflow, type MlflowServer } from '../harness/mlflow.js';

const MAIN = join(repoRoot, 'dist', 'plugin', 'main.js');
// What the fetch step would read: the bucket the tracking server's --artifacts-destination is, in
// production. The server here writes to a local directory; the mapping is what is under test.
const DESTINATION = 's3://mlflow-artifacts';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let mlflow: MlflowServer;
let versions: Record<string, string>;

function plugin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, [MAIN, '--kubeconfig', clusterEnv().kubeconfig, '-n', ns.name, ...args], {
    env: { ...process.env, MLFLOW_TRACKING_URI: mlflow.url, ...env },
  });
}

async function getMv(name: string): Promise<ModelVersion> {
  return JSON.parse(await kubectlOk(['get', 'mv', name, '-n', ns.name, '-o', 'json'])) as ModelVersion;
}

/** The model file MLflow stored for a registered model (the only model.onnx of that model id). */
function storedFile(storageUri: string): Buffer {
  const rel = storageUri.slice(`${DESTINATION}/`.length);
  return readFileSync(join(mlflow.artifactsDir, rel));
}

beforeAll(async () => {
  ns = await tempNamespace('import');
  let t = Date.now();
  mlflow = await startMlflow();
  const started = Date.now() - t;
  t = Date.now();
  const registered = await mlflow.register('plus-one:tensor', 'iris:columns:0.3.0', 'clock:datetime');
  versions = Object.fromEntries(registered.map((r) => [r.name, r.version]));
  // Figures for the CI budget (docs/registry.md), not assertions.
  process.stderr.write(
    `[import.test] mlflow: installed and serving in ${Math.round(started / 1000)} s; 3 model versions registered in ${Math.round((Date.now() - t) / 1000)} s\n`,
  );
}, 1_500_000);

afterAll(async () => {
  await mlflow?.stop();
  await ns?.remove();
});

test('a tensor signature: the ModelVersion the apiserver stores carries the mapped fields', async () => {
  const r = await plugin([
    'import',
    'plus-one',
    versions['plus-one']!,
    '--version',
    '1.0.0',
    '--artifacts-destination',
    DESTINATION,
    '--apply',
  ]);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toContain(`Created ModelVersion ${ns.name}/plus-one-1.0.0`);

  const mv = await getMv('plus-one-1.0.0');
  const { spec } = mv;
  expect(spec).toMatchObject({ model: 'plus-one', version: '1.0.0', runtime: 'triton', format: 'onnx' });
  expect(spec.storageUri).toMatch(
    /^s3:\/\/mlflow-artifacts\/\d+\/models\/m-[0-9a-f]+\/artifacts\/model\.onnx$/,
  );
  // The digest is the sha256 of the very bytes MLflow stored.
  expect(spec.digest).toBe(
    `sha256:${createHash('sha256').update(storedFile(spec.storageUri)).digest('hex')}`,
  );
  expect(spec.digestPolicy).toBeUndefined();
  expect(spec.interface).toEqual({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [4] }],
    outputs: [{ name: 'output', datatype: 'FP32', shape: [4] }],
  });
  const record = spec.record!;
  expect(record.trainingParams).toEqual({ epochs: '3', lr: '0.01' });
  expect(record.metrics).toEqual({ accuracy: 0.93, loss: 0.21 });
  expect(record.dataset).toMatchObject({ name: 'plus-one-train', uri: 's3://datasets/plus-one/2026-12' });
  expect(record.dataset!.hash).toMatch(/^\w+$/);
  expect(record.tags).toEqual({ stage: 'candidate', team: 'ml-vision' });
  expect(record.changelog).toBe('plus-one, tensor signature');
  expect(record.owner).toBeTruthy();
  expect(record.runLink).toMatch(new RegExp(`^${mlflow.url}/#/experiments/\\d+/runs/[0-9a-f]{32}$`));
  expect(Date.parse(record.createdAt!)).toBeGreaterThan(Date.now() - 3_600_000);
  expect(mv.metadata!.annotations!['modelship.io/imported-from']).toBe(
    `${mlflow.url}/#/models/plus-one/versions/${versions['plus-one']}`,
  );
});

test('importing the same version again is refused and changes nothing', async () => {
  const before = await getMv('plus-one-1.0.0');
  // Even asked for a different spec (no digest), the stored ModelVersion stays as it is.
  const r = await plugin([
    'import',
    'plus-one',
    versions['plus-one']!,
    '--version',
    '1.0.0',
    '--artifacts-destination',
    DESTINATION,
    '--unverified',
    '--apply',
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    `modelship: ModelVersion ${ns.name}/plus-one-1.0.0 already exists; ModelVersions are immutable, so it was left as it is. ` +
      `To release MLflow model "plus-one" version ${versions['plus-one']} as another version, import it with another --version\n`,
  );
  const after = await getMv('plus-one-1.0.0');
  expect(after.metadata!.resourceVersion).toBe(before.metadata!.resourceVersion);
  expect(after.spec).toEqual(before.spec);
});

test('a column signature, the version from the modelship.version tag; YAML without --apply', async () => {
  const args = ['import', 'iris', versions.iris!, '--artifacts-destination', DESTINATION];
  const printed = await plugin(args);
  expect(printed).toMatchObject({ code: 0, stderr: '' });
  const manifest = load(printed.stdout) as ModelVersion;
  expect(manifest.metadata!.name).toBe('iris-0.3.0');
  expect(manifest.spec.interface).toEqual({
    inputs: [
      { name: 'sepal_length', datatype: 'FP64', shape: [1] },
      { name: 'count', datatype: 'INT64', shape: [1] },
      { name: 'label', datatype: 'BYTES', shape: [1] },
    ],
    outputs: [{ name: 'score', datatype: 'FP64', shape: [1] }],
  });
  // Printing wrote nothing; the printed manifest is what the apiserver accepts.
  expect((await kubectl(['get', 'mv', 'iris-0.3.0', '-n', ns.name])).code).toBe(1);
  await kubectlOk(['create', '-n', ns.name, '-f', '-'], printed.stdout);
  expect((await getMv('iris-0.3.0')).spec).toEqual(manifest.spec);
});

test("the whole artifact directory: its directory digest, computed through MLflow's artifact proxy", async () => {
  const r = await plugin([
    'import',
    'plus-one',
    versions['plus-one']!,
    '--version',
    '1.0.1',
    '--format',
    'onnx',
    '--artifact-path',
    '.',
    '--artifacts-destination',
    DESTINATION,
  ]);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const manifest = load(r.stdout) as ModelVersion;
  expect(manifest.spec.storageUri).toMatch(/^s3:\/\/mlflow-artifacts\/.*\/artifacts\/$/);
  // The same digest as kubectl modelship digest over the directory MLflow stored, which is what the
  // fetch step's verify-model checks.
  const local = join(mlflow.artifactsDir, manifest.spec.storageUri.slice(`${DESTINATION}/`.length));
  expect(manifest.spec.digest).toBe((await directoryDigest(local)).digest);
  await kubectlOk(['create', '-n', ns.name, '-f', '-'], r.stdout);
});

test('a signature that cannot be mapped is an error naming the field; nothing is created', async () => {
  const r = await plugin([
    'import',
    'clock',
    versions.clock!,
    '--version',
    '1.0.0',
    '--artifacts-destination',
    DESTINATION,
    '--apply',
  ]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(
    new RegExp(
      `^modelship: cannot import MLflow model "clock" version ${versions.clock}: signature\\.inputs\\[1\\] \\("when"\\)\\.type: MLflow type "datetime" has no tensor datatype`,
    ),
  );
  const list = JSON.parse(await kubectlOk(['get', 'mv', '-n', ns.name, '-o', 'json'])) as {
    items: ModelVersion[];
  };
  expect(list.items.map((v) => v.metadata!.name).sort()).toEqual([
    'iris-0.3.0',
    'plus-one-1.0.0',
    'plus-one-1.0.1',
  ]);
});

test('MLflow that is not there, and a model version that does not exist: clear errors', async () => {
  const missing = await plugin(['import', 'plus-one', '99', '--version', '1.0.0']);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain(
    'cannot import MLflow model "plus-one" version 99: MLflow /api/2.0/mlflow/model-versions/get answered 404: RESOURCE_DOES_NOT_EXIST',
  );
  const down = await plugin(['import', 'plus-one', '1', '--version', '1.0.0'], {
    MLFLOW_TRACKING_URI: 'http://127.0.0.1:9',
  });
  expect(down.code).toBe(1);
  expect(down.stderr).toContain('cannot reach the MLflow tracking server at http://127.0.0.1:9');
});
