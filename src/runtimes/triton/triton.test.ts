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

  test('a directory with a digest is checked by verify-model before the generated files go in', () => {
    const pod = render(mv({ storageUri: 's3://m/r/', format: 'python', digest: DIGEST }));
    const [fetch, verify] = pod.initContainers;
    expect(pod.initContainers.map((c) => c.name)).toEqual(['fetch-model', 'verify-model']);
    expect(script(fetch!)).not.toContain('config.pbtxt');
    expect(verify!.image).toBe(DEFAULT_IMAGES.unpack);
    expect(env(verify!, 'MODEL_DIGEST')).toBe(DIGEST);
    const v = script(verify!);
    expect(v.indexOf('config.pbtxt')).toBeGreaterThan(v.indexOf('digest $got verified'));
  });

  test.each([
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
  test('inline handlers and configMapRefs are mounted read-only under /mnt/processing', () => {
    const pod = render(
      mv({
        processing: {
          preprocess: { handler: 'pre:run', config: { resize: 256, normalize: 'imagenet' } },
          postprocess: { configMapRef: { name: 'labels-v2' } },
        },
      }),
    );
    expect(JSON.parse(pod.files['preprocess.json']!)).toEqual({
      handler: 'pre:run',
      config: { normalize: 'imagenet', resize: 256 },
    });
    expect(pod.files['postprocess.json']).toBeUndefined();
    expect(pod.volumes).toContainEqual({
      name: 'preprocess',
      projected: {
        sources: [
          {
            configMap: { name: 'resnet50-abc', items: [{ key: 'preprocess.json', path: 'preprocess.json' }] },
          },
        ],
      },
    });
    // Without a key every key of the ConfigMap is a file.
    expect(pod.volumes).toContainEqual({
      name: 'postprocess',
      projected: { sources: [{ configMap: { name: 'labels-v2' } }] },
    });
    expect(pod.container.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'preprocess', mountPath: '/mnt/processing/preprocess', readOnly: true },
        { name: 'postprocess', mountPath: '/mnt/processing/postprocess', readOnly: true },
      ]),
    );
    expect(env(pod.container, 'MODELSHIP_PROCESSING_DIR')).toBe('/mnt/processing');
  });

  test('a configMapRef with a key projects that key only, before the inline file', () => {
    const pod = render(
      mv({
        processing: {
          postprocess: { handler: 'post:topk', configMapRef: { name: 'labels', key: 'labels.txt' } },
        },
      }),
    );
    expect(pod.volumes).toContainEqual({
      name: 'postprocess',
      projected: {
        sources: [
          { configMap: { name: 'labels', items: [{ key: 'labels.txt', path: 'labels.txt' }] } },
          {
            configMap: {
              name: 'resnet50-abc',
              items: [{ key: 'postprocess.json', path: 'postprocess.json' }],
            },
          },
        ],
      },
    });
  });

  test('no processing, no processing volumes', () => {
    const pod = render(mv());
    expect(pod.volumes.map((v) => v.name)).toEqual(['model-store', 'revision-config', 'tmp', 'dshm']);
    expect(env(pod.container, 'MODELSHIP_PROCESSING_DIR')).toBeUndefined();
  });
});
