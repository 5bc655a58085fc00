import type { V1Container } from '@kubernetes/client-node';
import type { ModelVersion, ModelVersionSpec } from '../../api/index.js';
import { DEFAULT_FETCH_IMAGES } from '../common/fetch.js';
import { DEFAULT_IMAGES } from '../images.js';
import { InvalidModelVersionError, type RuntimeSettings } from '../types.js';
import { renderConfigPbtxt, tritonDataType } from './config-pbtxt.js';
import { TRITON_IMAGE, triton } from './index.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

function mv(spec: Partial<ModelVersionSpec> = {}): ModelVersion {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'resnet50-1.0.0', namespace: 'vision' },
    spec: {
      model: 'resnet50',
      version: '1.0.0',
      runtime: 'triton',
      format: 'onnx',
      storageUri: 's3://models/resnet50/1.0.0/model.onnx',
      ...spec,
    },
  };
}

const render = (v: ModelVersion, settings: RuntimeSettings = {}) =>
  triton.renderPod(v, settings, 'resnet50-abc');
const fetchOf = (v: ModelVersion, settings: RuntimeSettings = {}): V1Container =>
  render(v, settings).initContainers[0]!;
const script = (c: V1Container): string => c.command![2]!;
const env = (c: V1Container, name: string) => c.env?.find((e) => e.name === name)?.value;
const config = (v: ModelVersion): string => {
  const text = renderConfigPbtxt(v);
  if (text === undefined) throw new Error('no config.pbtxt');
  return text;
};

describe('config.pbtxt', () => {
  test.each([
    ['onnx', 'platform: "onnxruntime_onnx"', undefined],
    ['tensorrt', 'platform: "tensorrt_plan"', undefined],
    ['torchscript', 'platform: "pytorch_libtorch"', undefined],
    ['tensorflow_savedmodel', 'platform: "tensorflow_savedmodel"', undefined],
    ['openvino', undefined, 'backend: "openvino"'],
    ['python', undefined, 'backend: "python"'],
  ] as const)('%s: %s %s', (format, platform, backend) => {
    const text = config(mv({ format, runtimeConfig: { triton: { maxBatchSize: 8 } } }));
    expect(text).toContain('name: "resnet50"\n');
    if (platform) expect(text).toContain(`${platform}\n`);
    else expect(text).not.toContain('platform:');
    if (backend) expect(text).toContain(`${backend}\n`);
    else expect(text).not.toContain('backend:');
  });

  test('a backend given in runtimeConfig is written next to the platform', () => {
    const text = config(mv({ runtimeConfig: { triton: { backend: 'onnxruntime' } } }));
    expect(text).toContain('platform: "onnxruntime_onnx"\nbackend: "onnxruntime"\n');
  });

  test.each([
    ['onnx', false],
    ['tensorrt', false],
    ['tensorflow_savedmodel', false],
    ['torchscript', true],
    ['openvino', true],
    ['python', true],
  ] as const)('without interface or runtimeConfig, %s gets a config: %s', (format, expected) => {
    expect(renderConfigPbtxt(mv({ format })) !== undefined).toBe(expected);
  });

  test.each([
    ['BOOL', 'TYPE_BOOL'],
    ['UINT8', 'TYPE_UINT8'],
    ['UINT16', 'TYPE_UINT16'],
    ['UINT32', 'TYPE_UINT32'],
    ['UINT64', 'TYPE_UINT64'],
    ['INT8', 'TYPE_INT8'],
    ['INT16', 'TYPE_INT16'],
    ['INT32', 'TYPE_INT32'],
    ['INT64', 'TYPE_INT64'],
    ['FP16', 'TYPE_FP16'],
    ['FP32', 'TYPE_FP32'],
    ['FP64', 'TYPE_FP64'],
    ['BF16', 'TYPE_BF16'],
    ['BYTES', 'TYPE_STRING'],
  ] as const)('datatype %s is %s', (datatype, expected) => {
    expect(tritonDataType(datatype)).toBe(expected);
    const text = config(mv({ interface: { inputs: [{ name: 'x', datatype, shape: [-1] }] } }));
    expect(text).toContain(`    data_type: ${expected}\n`);
  });

  test('inputs and outputs with dims; only Triton tensor formats are written', () => {
    const text = config(
      mv({
        interface: {
          inputs: [
            { name: 'image', datatype: 'FP32', shape: [3, 224, 224], format: 'FORMAT_NCHW' },
            { name: 'meta', datatype: 'BYTES', shape: [-1], format: 'application/json' },
          ],
          outputs: [{ name: 'logits', datatype: 'FP32', shape: [1000] }],
        },
      }),
    );
    expect(text).toContain(
      [
        'input [',
        '  {',
        '    name: "image"',
        '    data_type: TYPE_FP32',
        '    format: FORMAT_NCHW',
        '    dims: [ 3, 224, 224 ]',
        '  },',
        '  {',
        '    name: "meta"',
        '    data_type: TYPE_STRING',
        '    dims: [ -1 ]',
        '  }',
        ']',
        'output [',
        '  {',
        '    name: "logits"',
        '    data_type: TYPE_FP32',
        '    dims: [ 1000 ]',
        '  }',
        ']',
      ].join('\n'),
    );
    expect(text).not.toContain('application/json');
  });

  test('tensor names are escaped as protobuf strings', () => {
    const text = config(mv({ interface: { inputs: [{ name: 'a"b\\c\nd', datatype: 'FP32', shape: [1] }] } }));
    expect(text).toContain('name: "a\\"b\\\\c\\nd"');
  });

  test.each([
    [
      'batching with preferred sizes and delay',
      {
        maxBatchSize: 64,
        instanceCount: 2,
        instanceKind: 'KIND_GPU' as const,
        dynamicBatching: { preferredBatchSizes: [16, 32], maxQueueDelayMicroseconds: 200 },
      },
      [
        'max_batch_size: 64',
        'instance_group [\n  {\n    count: 2\n    kind: KIND_GPU\n  }\n]',
        'dynamic_batching {\n  preferred_batch_size: [ 16, 32 ]\n  max_queue_delay_microseconds: 200\n}',
      ],
      [],
    ],
    [
      'an empty dynamicBatching enables the batcher',
      { dynamicBatching: {} },
      ['dynamic_batching {\n}'],
      ['max_batch_size'],
    ],
    [
      'instanceKind alone means one instance',
      { instanceKind: 'KIND_CPU' as const },
      ['count: 1\n    kind: KIND_CPU'],
      [],
    ],
    [
      'maxBatchSize 0 (no batching) is written',
      { maxBatchSize: 0 },
      ['max_batch_size: 0'],
      ['dynamic_batching'],
    ],
  ])('%s', (_name, tritonConfig, present, absent) => {
    const text = config(mv({ runtimeConfig: { triton: tritonConfig } }));
    for (const p of present) expect(text).toContain(p);
    for (const a of absent) expect(text).not.toContain(a);
  });
});

describe('model repository layout', () => {
  test.each([
    ['onnx', 's3://m/r/model.onnx', 'MODEL_FILE', '/mnt/models/resnet50/1/model.onnx'],
    ['onnx', 's3://m/r/exported-v3.onnx', 'MODEL_FILE', '/mnt/models/resnet50/1/model.onnx'],
    ['tensorrt', 's3://m/r/engine.plan', 'MODEL_FILE', '/mnt/models/resnet50/1/model.plan'],
    ['torchscript', 's3://m/r/traced.pt', 'MODEL_FILE', '/mnt/models/resnet50/1/model.pt'],
    ['python', 's3://m/r/model.py', 'MODEL_FILE', '/mnt/models/resnet50/1/model.py'],
    ['python', 's3://m/r/pkg/', 'MODEL_DIR', '/mnt/models/resnet50/1'],
    ['tensorflow_savedmodel', 's3://m/r/saved', 'MODEL_DIR', '/mnt/models/resnet50/1/model.savedmodel'],
    ['openvino', 'gs://m/r/ir', 'MODEL_DIR', '/mnt/models/resnet50/1'],
    ['onnx', 'https://models.example.com/r.tar.gz', 'MODEL_ARCHIVE', '/mnt/models/.download/artifact.tar.gz'],
  ] as const)('%s from %s: %s=%s', (format, storageUri, variable, path) => {
    expect(env(fetchOf(mv({ format, storageUri })), variable)).toBe(path);
  });

  test('an archive is extracted into the version directory by unpack-model', () => {
    const pod = render(mv({ storageUri: 's3://m/r/model.tgz', digest: DIGEST, interface: {} }));
    expect(pod.initContainers.map((c) => c.name)).toEqual(['fetch-model', 'unpack-model']);
    const unpack = pod.initContainers[1]!;
    expect(env(unpack, 'MODEL_DIR')).toBe('/mnt/models/resnet50/1');
    expect(script(unpack)).toContain('tar -xzf "$MODEL_ARCHIVE" -C "$MODEL_DIR"');
    // config.pbtxt is put in place after the extraction, which starts from an empty directory.
    expect(script(unpack)).toContain("cp '/mnt/config/config.pbtxt' '/mnt/models/resnet50/config.pbtxt'");
    expect(script(pod.initContainers[0]!)).not.toContain('config.pbtxt');
    expect(unpack.image).toBe(DEFAULT_IMAGES.unpack);
  });

  test('config.pbtxt is generated into files and copied next to the version directory', () => {
    const pod = render(mv({ runtimeConfig: { triton: { maxBatchSize: 4 } } }));
    expect(pod.files['config.pbtxt']).toContain('max_batch_size: 4');
    const fetch = pod.initContainers[0]!;
    expect(script(fetch)).toContain("cp '/mnt/config/config.pbtxt' '/mnt/models/resnet50/config.pbtxt'");
    expect(fetch.volumeMounts).toContainEqual({
      name: 'revision-config',
      mountPath: '/mnt/config',
      readOnly: true,
    });
  });

  test('without a config.pbtxt nothing is copied and the ConfigMap is not mounted by the fetcher', () => {
    const pod = render(mv());
    expect(pod.files['config.pbtxt']).toBeUndefined();
    expect(script(pod.initContainers[0]!)).not.toContain('config.pbtxt');
    expect(pod.initContainers[0]!.volumeMounts!.map((m) => m.name)).not.toContain('revision-config');
  });
});

describe('server container', () => {
  test('loads exactly this model, explicitly, and exits when it cannot', () => {
    const c = render(mv()).container;
    expect(c.image).toBe(TRITON_IMAGE);
    expect(c.command).toBeUndefined();
    expect(c.args).toEqual([
      'tritonserver',
      '--model-repository=/mnt/models',
      '--model-control-mode=explicit',
      '--load-model=resnet50',
      '--strict-readiness=true',
      '--exit-on-error=true',
      '--http-port=8000',
      '--grpc-port=8001',
      '--metrics-port=8002',
    ]);
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8000, protocol: 'TCP' },
      { name: 'grpc', containerPort: 8001, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8002, protocol: 'TCP' },
    ]);
    expect(c.volumeMounts).toContainEqual({ name: 'model-store', mountPath: '/mnt/models', readOnly: true });
  });

  test('the image comes from the settings when given', () => {
    expect(render(mv(), { images: { triton: 'registry.local/triton:24.08' } }).container.image).toBe(
      'registry.local/triton:24.08',
    );
  });

  test('probes point at the model', () => {
    const pod = render(mv({ model: 'bert-large' }));
    expect(pod.readinessProbe.httpGet).toEqual({ path: '/v2/models/bert-large/ready', port: 'http' });
    expect(pod.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    expect(pod.startupProbe?.httpGet).toEqual({ path: '/v2/models/bert-large/ready', port: 'http' });
    expect(pod.startupProbe!.periodSeconds! * pod.startupProbe!.failureThreshold!).toBeGreaterThanOrEqual(
      600,
    );
    expect(pod.servingPortName).toBe('http');
  });

  test('/dev/shm is a memory-backed volume (Python backend)', () => {
    const pod = render(mv());
    expect(pod.volumes).toContainEqual({ name: 'dshm', emptyDir: { medium: 'Memory' } });
    expect(pod.container.volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
  });

  test('every container runs restricted, with a read-only root filesystem', () => {
    const pod = render(mv({ storageUri: 'pvc://models/r.tar.gz' }));
    for (const c of [pod.container, ...pod.initContainers]) {
      expect(c.securityContext).toEqual({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  test('rejects formats Triton cannot serve', () => {
    expect(() => render(mv({ format: 'mar' }))).toThrow(InvalidModelVersionError);
  });
});

describe('fetch-model', () => {
  test.each([
    ['s3', 's3://models/r/model.onnx', 'aws s3 cp --only-show-errors "$MODEL_URI" "$MODEL_FILE"'],
    ['gs', 'gs://models/r/model.onnx', 'gcloud storage cp "$MODEL_URI" "$MODEL_FILE"'],
    [
      'https',
      'https://h.example.com/r/model.onnx',
      'curl -fsSL --retry 5 --retry-connrefused --proto-redir =https -o "$MODEL_FILE" "$MODEL_URI"',
    ],
    ['pvc', 'pvc://models/r/model.onnx', 'cp "$MODEL_SOURCE" "$MODEL_FILE"'],
  ] as const)('%s: default image and command', (scheme, storageUri, command) => {
    const c = fetchOf(mv({ storageUri }));
    expect(c.name).toBe('fetch-model');
    expect(c.image).toBe(DEFAULT_FETCH_IMAGES[scheme]);
    expect(c.command!.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(script(c).startsWith('set -eu\n')).toBe(true);
    expect(script(c)).toContain(`${command}\n`);
    // The URI reaches the script through the environment, never through its text.
    expect(env(c, 'MODEL_URI')).toBe(storageUri);
    expect(script(c)).not.toContain(storageUri);
  });

  test.each([
    ['s3', 's3://models/r/', 'aws s3 cp --only-show-errors --recursive "$MODEL_URI" "$MODEL_DIR"'],
    ['gs', 'gs://models/r/', 'gcloud storage rsync --recursive "$MODEL_URI" "$MODEL_DIR"'],
    ['pvc', 'pvc://models/r/', 'cp -R "$MODEL_SOURCE/." "$MODEL_DIR/"'],
  ] as const)('%s: a directory is copied recursively', (_scheme, storageUri, command) => {
    expect(script(fetchOf(mv({ format: 'python', storageUri })))).toContain(command);
  });

  test.each(['s3', 'gs', 'https', 'pvc'] as const)(
    '%s: the image comes from the settings when given',
    (scheme) => {
      const uri = {
        s3: 's3://b/m.onnx',
        gs: 'gs://b/m.onnx',
        https: 'https://h/m.onnx',
        pvc: 'pvc://c/m.onnx',
      }[scheme];
      expect(
        fetchOf(mv({ storageUri: uri }), { fetchImages: { [scheme]: `mirror.local/${scheme}:1` } }).image,
      ).toBe(`mirror.local/${scheme}:1`);
    },
  );

  test('pvc:// mounts the claim read-only and reads the path inside it', () => {
    const pod = render(mv({ storageUri: 'pvc://model-cache/resnet50/1.0.0/model.onnx' }));
    expect(pod.volumes).toContainEqual({
      name: 'model-source',
      persistentVolumeClaim: { claimName: 'model-cache', readOnly: true },
    });
    const c = pod.initContainers[0]!;
    expect(c.volumeMounts).toContainEqual({ name: 'model-source', mountPath: '/mnt/source', readOnly: true });
    expect(env(c, 'MODEL_SOURCE')).toBe('/mnt/source/resnet50/1.0.0/model.onnx');
    expect(script(c)).toContain('[ -e "$MODEL_SOURCE" ] ||');
  });

  test.each([
    ['s3://models/r/model.onnx', true],
    ['s3://models/r/model.onnx', false],
    ['https://h.example.com/r/model.tar.gz', true],
    ['https://h.example.com/r/model.tar.gz', false],
  ])('%s, digest %s: the check is there exactly when a digest is given', (storageUri, withDigest) => {
    const c = fetchOf(mv({ storageUri, ...(withDigest ? { digest: DIGEST } : {}) }));
    expect(env(c, 'MODEL_DIGEST')).toBe(withDigest ? DIGEST : undefined);
    expect(script(c).includes('sha256sum')).toBe(withDigest);
    expect(script(c).includes('digest mismatch')).toBe(withDigest);
    if (withDigest)
      expect(script(c)).toMatch(/if \[ "\$got" != "\$MODEL_DIGEST" \]; then\n.*\n.*>&2\n {2}exit 1\nfi/);
  });

  test('an archive is verified before it is extracted', () => {
    const pod = render(mv({ storageUri: 's3://m/r/model.tar.gz', digest: DIGEST }));
    const fetch = script(pod.initContainers[0]!);
    expect(fetch.indexOf('sha256sum "$MODEL_ARCHIVE"')).toBeGreaterThan(fetch.indexOf('aws s3 cp'));
    expect(fetch).not.toContain('tar ');
  });

  test.each([
    [
      'a digest on a directory',
      { storageUri: 's3://m/r/', format: 'python' as const, digest: DIGEST },
      'DigestNeedsSingleFile',
    ],
    [
      'a directory over https',
      { storageUri: 'https://h/r/', format: 'python' as const },
      'UnsupportedStorageUri',
    ],
    ['a pvc:// without a claim', { storageUri: 'pvc:///x.onnx' }, 'UnsupportedStorageUri'],
    ['a pvc:// path with ..', { storageUri: 'pvc://c/../x.onnx' }, 'UnsupportedStorageUri'],
  ])('rejects %s with a reason', (_name, spec, reason) => {
    try {
      render(mv(spec));
      throw new Error('expected an InvalidModelVersionError');
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidModelVersionError);
      expect((e as InvalidModelVersionError).reason).toBe(reason);
      expect((e as Error).message).toContain('vision/resnet50-1.0.0');
    }
  });
});

describe('processing', () => {
  const LABELS_PY = 'import json\n\ndef postprocess(inputs, context):\n    return {}\n';
  /** The version of the e2e test: a post-processing handler and its label map from a ConfigMap. */
  const labelled = (spec: Partial<ModelVersionSpec> = {}): ModelVersion =>
    mv({
      format: 'python',
      storageUri: 'https://store/adder/model.py',
      interface: {
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4] }],
        outputs: [
          { name: 'OUTPUT0', datatype: 'FP32', shape: [4] },
          { name: 'LABEL', datatype: 'BYTES', shape: [1] },
        ],
      },
      processing: {
        postprocess: { handler: 'labels:postprocess', configMapRef: { name: 'labels-1.0.0' } },
        modelInterface: { outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [4] }] },
      },
      ...spec,
    });
  const content = { postprocess: { data: { 'labels.py': LABELS_PY, 'labels.json': '{"3": "cat"}' } } };
  const fail = (f: () => unknown): InvalidModelVersionError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidModelVersionError);
      return e as InvalidModelVersionError;
    }
    throw new Error('did not throw');
  };

  test('config and a configMapRef without a handler: files only, all from the revision ConfigMap (the pinned copy)', () => {
    const pod = triton.renderPod(
      mv({
        processing: {
          preprocess: { config: { resize: 256, normalize: 'imagenet' } },
          postprocess: { configMapRef: { name: 'labels-v2' } },
        },
      }),
      {},
      'resnet50-abc',
      { postprocess: { data: { 'labels.txt': 'cat\ndog\n', 'extra.json': '{}' } } },
    );
    expect(JSON.parse(pod.files['preprocess.json']!)).toEqual({
      config: { normalize: 'imagenet', resize: 256 },
    });
    expect(pod.files['postprocess.json']).toBeUndefined();
    // The user's ConfigMap is copied, never mounted: an edit of it cannot reach a pod.
    expect(pod.files['postprocess--labels.txt']).toBe('cat\ndog\n');
    expect(pod.volumes).toContainEqual({
      name: 'postprocess',
      projected: {
        sources: [
          {
            configMap: {
              name: 'resnet50-abc',
              items: [
                { key: 'postprocess--extra.json', path: 'extra.json' },
                { key: 'postprocess--labels.txt', path: 'labels.txt' },
              ],
            },
          },
        ],
      },
    });
    expect(JSON.stringify(pod.volumes)).not.toContain('labels-v2');
    expect(pod.container.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'preprocess', mountPath: '/mnt/processing/preprocess', readOnly: true },
        { name: 'postprocess', mountPath: '/mnt/processing/postprocess', readOnly: true },
      ]),
    );
    expect(env(pod.container, 'MODELSHIP_PROCESSING_DIR')).toBe('/mnt/processing');
    // No handler, no ensemble: the model keeps its name and its directory.
    expect(env(pod.initContainers[0]!, 'MODEL_FILE')).toBe('/mnt/models/resnet50/1/model.onnx');
    expect(Object.keys(pod.files).filter((k) => k.endsWith('.pbtxt'))).toEqual([]);
  });

  test('the spec file wins over a ConfigMap key of the same name', () => {
    const pod = triton.renderPod(
      mv({ processing: { preprocess: { config: { a: 1 }, configMapRef: { name: 'c' } } } }),
      {},
      'cm',
      { preprocess: { data: { 'preprocess.json': '{"evil": true}' } } },
    );
    const items = pod.volumes.find((v) => v.name === 'preprocess')!.projected!.sources![0]!.configMap!.items!;
    expect(items.filter((i) => i.path === 'preprocess.json')).toEqual([
      { key: 'preprocess.json', path: 'preprocess.json' },
    ]);
  });

  test('a configMapRef whose content was not resolved is refused, naming the field', () => {
    const e = fail(() => triton.renderPod(labelled(), {}, 'cm'));
    expect(e.reason).toBe('ProcessingNotResolved');
    expect(e.message).toContain('spec.processing.postprocess.configMapRef');
  });

  test('a handler makes an ensemble under the model name: model -> postprocess, tensors mapped between the steps', () => {
    const pod = triton.renderPod(labelled(), {}, 'resnet50-abc', content);
    expect(pod.files['config.pbtxt']).toBe(
      [
        '# Generated by modelship for resnet50 1.0.0 (ensemble: model -> postprocess); do not edit.',
        'name: "resnet50"',
        'platform: "ensemble"',
        'input [',
        '  {',
        '    name: "INPUT0"',
        '    data_type: TYPE_FP32',
        '    dims: [ 4 ]',
        '  }',
        ']',
        'output [',
        '  {',
        '    name: "OUTPUT0"',
        '    data_type: TYPE_FP32',
        '    dims: [ 4 ]',
        '  },',
        '  {',
        '    name: "LABEL"',
        '    data_type: TYPE_STRING',
        '    dims: [ 1 ]',
        '  }',
        ']',
        'ensemble_scheduling {',
        '  step [',
        '    {',
        '      model_name: "resnet50__model"',
        '      model_version: -1',
        '      input_map { key: "INPUT0" value: "INPUT0" }',
        '      output_map { key: "OUTPUT0" value: "model.OUTPUT0" }',
        '    },',
        '    {',
        '      model_name: "resnet50__postprocess"',
        '      model_version: -1',
        '      input_map { key: "OUTPUT0" value: "model.OUTPUT0" }',
        '      output_map { key: "OUTPUT0" value: "OUTPUT0" }',
        '      output_map { key: "LABEL" value: "LABEL" }',
        '    }',
        '  ]',
        '}',
        '',
      ].join('\n'),
    );
    // The model itself, renamed, with its own tensors.
    const model = pod.files['model.config.pbtxt']!;
    expect(model).toContain('name: "resnet50__model"');
    expect(model).toContain('backend: "python"');
    expect(model).not.toContain('LABEL');
    // The step: a Python-backend model that calls the version's handler.
    const step = pod.files['postprocess.config.pbtxt']!;
    expect(step).toContain('name: "resnet50__postprocess"');
    expect(step).toContain('backend: "python"');
    expect(step).toContain('kind: KIND_CPU');
    expect(step).toContain(
      'parameters { key: "modelship.handler" value: { string_value: "labels:postprocess" } }',
    );
    expect(step).toContain(
      'parameters { key: "modelship.directory" value: { string_value: "/mnt/processing/postprocess" } }',
    );
    expect(step).toContain(
      'parameters { key: "modelship.artifact" value: { string_value: "/mnt/models/resnet50__model/1" } }',
    );
    expect(pod.files['postprocess.model.py']).toContain('class TritonPythonModel');
    // fetch-model puts the artifact under the step name and every generated file in place.
    const sh = script(pod.initContainers[0]!);
    expect(env(pod.initContainers[0]!, 'MODEL_FILE')).toBe('/mnt/models/resnet50__model/1/model.py');
    for (const line of [
      "mkdir -p '/mnt/models/resnet50/1'",
      "cp '/mnt/config/config.pbtxt' '/mnt/models/resnet50/config.pbtxt'",
      "cp '/mnt/config/model.config.pbtxt' '/mnt/models/resnet50__model/config.pbtxt'",
      "cp '/mnt/config/postprocess.config.pbtxt' '/mnt/models/resnet50__postprocess/config.pbtxt'",
      "cp '/mnt/config/postprocess.model.py' '/mnt/models/resnet50__postprocess/1/model.py'",
    ])
      expect(sh).toContain(line);
    // Clients call the name they always called: the ensemble is what is probed.
    expect(pod.readinessProbe.httpGet?.path).toBe('/v2/models/resnet50/ready');
    expect(pod.container.args).toContain('--load-model=resnet50');
  });

  test("preprocess -> model -> postprocess: the model's tensors come from spec.processing.modelInterface", () => {
    const pod = triton.renderPod(
      labelled({
        interface: {
          inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1] }],
          outputs: [{ name: 'LABEL', datatype: 'BYTES', shape: [1] }],
        },
        processing: {
          preprocess: { handler: 'tok', configMapRef: { name: 'p' } },
          postprocess: { handler: 'labels:postprocess', configMapRef: { name: 'labels-1.0.0' } },
          modelInterface: {
            inputs: [{ name: 'IDS', datatype: 'INT64', shape: [-1] }],
            outputs: [{ name: 'LOGITS', datatype: 'FP32', shape: [3] }],
          },
        },
      }),
      {},
      'cm',
      { ...content, preprocess: { data: { 'tok.py': 'def preprocess(inputs, context):\n    pass\n' } } },
    );
    const ens = pod.files['config.pbtxt']!;
    expect(ens).toContain('(ensemble: preprocess -> model -> postprocess)');
    expect(ens).toContain('input_map { key: "TEXT" value: "TEXT" }');
    expect(ens).toContain('output_map { key: "IDS" value: "preprocess.IDS" }');
    expect(ens).toContain('input_map { key: "IDS" value: "preprocess.IDS" }');
    expect(ens).toContain('output_map { key: "LOGITS" value: "model.LOGITS" }');
    expect(ens).toContain('input_map { key: "LOGITS" value: "model.LOGITS" }');
    expect(ens).toContain('output_map { key: "LABEL" value: "LABEL" }');
    expect(pod.files['preprocess.config.pbtxt']).toContain('name: "IDS"');
    expect(pod.files['model.config.pbtxt']).toContain('name: "LOGITS"');
  });

  test.each([
    [
      'a handler module that is not shipped',
      labelled(),
      { postprocess: { data: { 'labels.json': '{}' } } },
      'ProcessingHandlerNotFound',
      'spec.processing.postprocess.handler',
      'has no key labels.py',
    ],
    [
      'a handler function the module does not define',
      labelled({
        processing: {
          postprocess: { handler: 'labels:topk', configMapRef: { name: 'labels-1.0.0' } },
          modelInterface: { outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [4] }] },
        },
      }),
      content,
      'ProcessingHandlerNotFound',
      'spec.processing.postprocess.handler',
      'defines no top-level function topk',
    ],
    [
      'a handler that is not module:function',
      labelled({
        processing: {
          postprocess: { handler: 'labels-post', configMapRef: { name: 'labels-1.0.0' } },
          modelInterface: { outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [4] }] },
        },
      }),
      content,
      'InvalidProcessingHandler',
      'spec.processing.postprocess.handler',
      'is not module:function',
    ],
    [
      'a handler without an interface',
      labelled({ interface: undefined }),
      content,
      'ProcessingNeedsInterface',
      'spec.interface',
      'ensemble',
    ],
    [
      'model outputs that are not the client outputs, without a postprocess handler',
      labelled({
        processing: {
          preprocess: { handler: 'labels:postprocess', configMapRef: { name: 'labels-1.0.0' } },
          modelInterface: { outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [4] }] },
        },
      }),
      { preprocess: content.postprocess },
      'ModelInterfaceMismatch',
      'spec.processing.modelInterface.outputs',
      'without a postprocess handler',
    ],
  ])('bad input: %s', (_what, v, c, reason, field, words) => {
    const e = fail(() => triton.renderPod(v, {}, 'cm', c));
    expect(e.reason).toBe(reason);
    expect(e.message).toContain(`vision/resnet50-1.0.0: ${field}:`);
    expect(e.message).toContain(words);
  });

  test('a handler module may ship in a directory or archive artifact: checked when Triton loads the step', () => {
    const v = labelled({ storageUri: 'https://store/adder/1.0.0.tar.gz', digest: DIGEST });
    const pod = triton.renderPod(v, {}, 'cm', { postprocess: { data: { 'labels.json': '{}' } } });
    expect(pod.files['postprocess.model.py']).toContain('cannot import module');
    // The ensemble's empty version directory is made after the archive is extracted.
    expect(script(pod.initContainers[1]!)).toContain("mkdir -p '/mnt/models/resnet50/1'");
  });

  test('content that is unknown (validation only) skips the checks that read it', () => {
    expect(() =>
      triton.renderPod(labelled(), {}, 'cm', { postprocess: { data: {}, unknown: true } }),
    ).not.toThrow();
  });

  test('no processing, no processing volumes', () => {
    const pod = render(mv());
    expect(pod.volumes.map((v) => v.name)).toEqual(['model-store', 'revision-config', 'tmp', 'dshm']);
    expect(env(pod.container, 'MODELSHIP_PROCESSING_DIR')).toBeUndefined();
  });
});
