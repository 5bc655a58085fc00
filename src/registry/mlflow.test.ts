import {
  IMPORTED_FROM_ANNOTATION,
  ImportError,
  chooseArtifact,
  chooseVersion,
  mapSchema,
  mapStorageUri,
  proxiedArtifactPath,
  renderImportedModelVersion,
  withoutCredentials,
  type ImportInput,
} from './mlflow.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

const tensor = (name: string | undefined, dtype: string, shape: number[]) => ({
  type: 'tensor',
  'tensor-spec': { dtype, shape },
  ...(name === undefined ? {} : { name }),
});

function error(fn: () => unknown): ImportError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ImportError) return e;
    throw e;
  }
  throw new Error('expected an ImportError');
}

describe('mapSchema: tensor-based signatures', () => {
  test.each([
    ['float32', [-1, 4], 'FP32', [4]],
    ['float64', [-1, 3, 224, 224], 'FP64', [3, 224, 224]],
    ['int64', [-1], 'INT64', [1]],
    ['uint8', [2, 2], 'UINT8', [2, 2]],
    ['bool', [-1, -1], 'BOOL', [-1]],
    ['float16', [-1, 8], 'FP16', [8]],
    ['object', [-1], 'BYTES', [1]],
    ['<U12', [-1, 2], 'BYTES', [2]],
  ])('%s %j -> %s %j (the leading -1 is the batch)', (dtype, shape, datatype, out) => {
    expect(mapSchema(JSON.stringify([tensor('x', dtype, shape)]), 'inputs')).toEqual([
      { name: 'x', datatype, shape: out },
    ]);
  });

  test('a dtype with no datatype names the field', () => {
    const e = error(() => mapSchema(JSON.stringify([tensor('t', 'complex64', [-1])]), 'outputs'));
    expect(e.field).toBe('signature.outputs[0] ("t").tensor-spec.dtype');
    expect(e.message).toContain('complex64');
  });

  test('an unnamed tensor is refused: servers address tensors by name', () => {
    const e = error(() => mapSchema(JSON.stringify([tensor(undefined, 'float32', [-1, 4])]), 'inputs'));
    expect(e.field).toBe('signature.inputs[0]');
    expect(e.message).toContain('no name');
  });

  test('a bad shape names the field', () => {
    const e = error(() => mapSchema(JSON.stringify([tensor('t', 'float32', [-2])]), 'inputs'));
    expect(e.field).toBe('signature.inputs[0] ("t").tensor-spec.shape');
  });
});

describe('mapSchema: column-based signatures', () => {
  test('one tensor per column, one value per row', () => {
    const cols = [
      { type: 'double', name: 'a' },
      { type: 'long', name: 'b', required: false },
      { type: 'string', name: 'c' },
      { type: 'boolean', name: 'd' },
      { type: 'integer', name: 'e' },
      { type: 'float', name: 'f' },
      { type: 'binary', name: 'g' },
    ];
    expect(mapSchema(JSON.stringify(cols), 'inputs')).toEqual([
      { name: 'a', datatype: 'FP64', shape: [1] },
      { name: 'b', datatype: 'INT64', shape: [1] },
      { name: 'c', datatype: 'BYTES', shape: [1] },
      { name: 'd', datatype: 'BOOL', shape: [1] },
      { name: 'e', datatype: 'INT32', shape: [1] },
      { name: 'f', datatype: 'FP32', shape: [1] },
      { name: 'g', datatype: 'BYTES', shape: [1] },
    ]);
  });

  test('array columns are variable dimensions', () => {
    const cols = [
      { type: 'array', items: { type: 'double' }, name: 'v' },
      { type: 'array', items: { type: 'array', items: { type: 'long' } }, name: 'm' },
    ];
    expect(mapSchema(JSON.stringify(cols), 'inputs')).toEqual([
      { name: 'v', datatype: 'FP64', shape: [-1] },
      { name: 'm', datatype: 'INT64', shape: [-1, -1] },
    ]);
  });

  test.each([
    [{ type: 'datetime', name: 'when' }, 'signature.inputs[1] ("when").type', 'datetime'],
    [{ type: 'object', name: 'o', properties: {} }, 'signature.inputs[1] ("o").type', 'object'],
    [{ type: 'map', name: 'm', values: { type: 'string' } }, 'signature.inputs[1] ("m").type', 'map'],
    [{ type: 'any', name: 'x' }, 'signature.inputs[1] ("x").type', 'any'],
    [
      { type: 'array', items: { type: 'datetime' }, name: 'ts' },
      'signature.inputs[1] ("ts").items.type',
      'datetime',
    ],
  ])('%j: an error that names %s', (col, field, type) => {
    const e = error(() => mapSchema(JSON.stringify([{ type: 'double', name: 'ok' }, col]), 'inputs'));
    expect(e.field).toBe(field);
    expect(e.message).toContain(`MLflow type "${type}"`);
  });

  test('a name used twice is refused', () => {
    const cols = [
      { type: 'double', name: 'a' },
      { type: 'long', name: 'a' },
    ];
    expect(error(() => mapSchema(JSON.stringify(cols), 'inputs')).field).toBe('signature.inputs[1] ("a")');
  });

  test('not JSON', () => {
    expect(error(() => mapSchema('{', 'inputs')).field).toBe('signature.inputs');
  });
});

describe('chooseVersion', () => {
  const mv = (tags: Array<{ key: string; value: string }> = []) => ({ name: 'm', version: '7', tags });
  test('--version wins over the tag', () => {
    expect(chooseVersion(mv([{ key: 'modelship.version', value: '1.0.0' }]), '2.0.0')).toBe('2.0.0');
  });
  test('the modelship.version tag', () => {
    expect(chooseVersion(mv([{ key: 'modelship.version', value: '1.3.0-rc.1' }]), undefined)).toBe(
      '1.3.0-rc.1',
    );
  });
  test('neither: says both ways', () => {
    const e = error(() => chooseVersion(mv(), undefined));
    expect(e.message).toContain('--version');
    expect(e.message).toContain('modelship.version=');
  });
  test('not semver: names where it came from', () => {
    expect(error(() => chooseVersion(mv(), '7')).field).toBe('--version');
    expect(error(() => chooseVersion(mv([{ key: 'modelship.version', value: 'v1' }]), undefined)).field).toBe(
      'tag modelship.version',
    );
  });
});

describe('chooseArtifact and mapStorageUri', () => {
  const onnx = { flavors: { onnx: { data: 'model.onnx' }, python_function: {} } };
  test("the ONNX flavor's file", () => {
    expect(chooseArtifact(onnx, 'triton', {})).toEqual({ format: 'onnx', path: 'model.onnx' });
  });
  test('no flavor a server loads: asks for --format', () => {
    expect(error(() => chooseArtifact({ flavors: { sklearn: {} } }, 'triton', {})).message).toContain(
      '--format',
    );
  });
  test('a format the runtime does not serve', () => {
    expect(error(() => chooseArtifact(onnx, 'torchserve', {})).field).toBe('spec.format');
  });
  test('--artifact-path . is the whole directory; .. is refused', () => {
    expect(chooseArtifact({}, 'triton', { format: 'python', artifactPath: '.' })).toEqual({
      format: 'python',
      path: '',
    });
    expect(error(() => chooseArtifact({}, 'triton', { format: 'python', artifactPath: '../x' })).field).toBe(
      '--artifact-path',
    );
  });
  test.each([
    ['s3://b/1/models/m-1/artifacts', 'model.onnx', {}, 's3://b/1/models/m-1/artifacts/model.onnx'],
    ['gs://b/x/', '', {}, 'gs://b/x/'],
    [
      'mlflow-artifacts:/1/models/m-1/artifacts',
      'model.onnx',
      { artifactsDestination: 's3://mlflow/' },
      's3://mlflow/1/models/m-1/artifacts/model.onnx',
    ],
    [
      'mlflow-artifacts://host:5000/1/a',
      'model.onnx',
      { artifactsDestination: 'gs://d' },
      'gs://d/1/a/model.onnx',
    ],
    ['file:///tmp/x', 'model.onnx', { storageUri: 'pvc://models/x.onnx' }, 'pvc://models/x.onnx'],
  ])('%s + %s %j -> %s', (download, path, opts, uri) => {
    expect(mapStorageUri(download, path, opts)).toBe(uri);
  });
  test.each([
    ['mlflow-artifacts:/1/models/m-1/artifacts', '1/models/m-1/artifacts'],
    ['mlflow-artifacts://mlflow:5000/1/a/', '1/a'],
    ['s3://b/1/a', undefined],
  ])('proxiedArtifactPath(%s) = %s', (uri, path) => {
    expect(proxiedArtifactPath(uri)).toBe(path);
  });
  test('a proxied artifact without --artifacts-destination', () => {
    expect(error(() => mapStorageUri('mlflow-artifacts:/1/a', 'model.onnx', {})).message).toContain(
      '--artifacts-destination',
    );
  });
  test.each(['file:///tmp/mlruns/1/a', 'dbfs:/databricks/x', 'wasbs://c@a.blob.core.windows.net/x'])(
    '%s cannot be fetched: asks for --storage-uri',
    (download) => {
      expect(error(() => mapStorageUri(download, 'model.onnx', {})).message).toContain('--storage-uri');
    },
  );
  test('a directory over https is refused', () => {
    expect(error(() => mapStorageUri('https://h/a', '', {})).message).toContain('https:// fetches one file');
  });
});

describe('renderImportedModelVersion', () => {
  const input = (over: Partial<ImportInput> = {}): ImportInput => ({
    trackingUri: 'https://user:secret@mlflow.example.com/',
    modelVersion: {
      name: 'fraud',
      version: '3',
      creation_timestamp: 1764806400123,
      user_id: 'alice@example.com',
      description: 'retrained on November data',
      run_id: 'r1',
      tags: [
        { key: 'team', value: 'risk' },
        { key: 'modelship.version', value: '1.4.0' },
      ],
    },
    run: {
      info: { run_id: 'r1', experiment_id: '5', user_id: 'bob' },
      data: {
        params: [
          { key: 'lr', value: '0.01' },
          { key: 'epochs', value: '3' },
        ],
        metrics: [
          { key: 'auc', value: 0.91 },
          { key: 'loss', value: 'NaN' },
        ],
      },
      inputs: {
        dataset_inputs: [
          {
            tags: [{ key: 'mlflow.data.context', value: 'eval' }],
            dataset: { name: 'holdout', digest: 'e1' },
          },
          {
            tags: [{ key: 'mlflow.data.context', value: 'training' }],
            dataset: { name: 'nov', digest: 'f00d', source_type: 's3', source: '{"uri": "s3://data/nov"}' },
          },
        ],
      },
    },
    mlmodel: {
      flavors: { onnx: { data: 'model.onnx' } },
      signature: {
        inputs: JSON.stringify([tensor('x', 'float32', [-1, 4])]),
        outputs: JSON.stringify([tensor('y', 'float32', [-1, 1])]),
      },
    },
    downloadUri: 's3://mlflow/5/models/m-9/artifacts',
    computedDigest: DIGEST,
    runtime: 'triton',
    unverified: false,
    ...over,
  });

  test('every mapped field', () => {
    const { mv, notes } = renderImportedModelVersion(input());
    expect(mv).toEqual({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelVersion',
      metadata: {
        name: 'fraud-1.4.0',
        annotations: { [IMPORTED_FROM_ANNOTATION]: 'https://mlflow.example.com/#/models/fraud/versions/3' },
      },
      spec: {
        model: 'fraud',
        version: '1.4.0',
        runtime: 'triton',
        format: 'onnx',
        storageUri: 's3://mlflow/5/models/m-9/artifacts/model.onnx',
        digest: DIGEST,
        interface: {
          inputs: [{ name: 'x', datatype: 'FP32', shape: [4] }],
          outputs: [{ name: 'y', datatype: 'FP32', shape: [1] }],
        },
        record: {
          owner: 'alice@example.com',
          dataset: { name: 'nov', hash: 'f00d', uri: 's3://data/nov' },
          trainingParams: { epochs: '3', lr: '0.01' },
          metrics: { auc: 0.91 },
          tags: { team: 'risk' },
          changelog: 'retrained on November data',
          createdAt: '2025-12-04T00:00:00Z',
          runLink: 'https://mlflow.example.com/#/experiments/5/runs/r1',
        },
      },
    });
    expect(notes).toEqual(['run.data.metrics.loss is NaN, not a number JSON can hold: left out']);
  });

  test('the owner falls back to the run; run_link as MLflow gives it', () => {
    const base = input();
    const { mv } = renderImportedModelVersion(
      input({ modelVersion: { ...base.modelVersion, user_id: '', run_link: 'https://git/x' } }),
    );
    expect(mv.spec.record?.owner).toBe('bob');
    expect(mv.spec.record?.runLink).toBe('https://git/x');
  });

  test('digest: --digest, else the computed one, else --unverified, else an error', () => {
    const other = `sha256:${'b'.repeat(64)}`;
    expect(renderImportedModelVersion(input({ digest: other })).mv.spec.digest).toBe(other);
    const { computedDigest: _, ...none } = input();
    const unverified = renderImportedModelVersion({ ...none, unverified: true }).mv.spec;
    expect(unverified.digest).toBeUndefined();
    expect(unverified.digestPolicy).toBe('Unverified');
    const e = error(() => renderImportedModelVersion(none));
    expect(e.field).toBe('digest');
    expect(e.message).toContain('--unverified');
    expect(error(() => renderImportedModelVersion(input({ digest: 'md5:1' }))).field).toBe('--digest');
  });

  test('no signature: an error naming it', () => {
    const e = error(() => renderImportedModelVersion(input({ mlmodel: { flavors: { onnx: {} } } })));
    expect(e.field).toBe('signature');
  });

  test('too many params: names the field', () => {
    const params = Array.from({ length: 65 }, (_, i) => ({ key: `p${i}`, value: '1' }));
    const e = error(() =>
      renderImportedModelVersion(input({ run: { info: { run_id: 'r1' }, data: { params } } })),
    );
    expect(e.field).toBe('run.data.params');
  });

  test('a name that is no DNS label needs --model', () => {
    const base = input();
    const e = error(() =>
      renderImportedModelVersion(input({ modelVersion: { ...base.modelVersion, name: 'Fraud Model' } })),
    );
    expect(e.message).toContain('--model');
    const { mv } = renderImportedModelVersion(
      input({ modelVersion: { ...base.modelVersion, name: 'Fraud Model' }, model: 'fraud' }),
    );
    expect(mv.metadata?.annotations?.[IMPORTED_FROM_ANNOTATION]).toContain(
      '/models/Fraud%20Model/versions/3',
    );
  });

  test('links carry no credentials', () => {
    expect(withoutCredentials('https://u:p@h.example.com:5000/')).toBe('https://h.example.com:5000');
  });
});
