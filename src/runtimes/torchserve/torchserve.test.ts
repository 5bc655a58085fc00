import type { V1Container } from '@kubernetes/client-node';
import type {
  ModelVersion,
  ModelVersionSpec,
  ModelVersionSpecRuntimeConfigTorchserve,
} from '../../api/index.js';
import { DEFAULT_FETCH_IMAGES } from '../common/fetch.js';
import { InvalidModelVersionError, type RuntimeSettings } from '../types.js';
import { renderConfigProperties } from './config-properties.js';
import { TORCHSERVE_IMAGE, modelReadyCommand, torchserve } from './index.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

function mv(spec: Partial<ModelVersionSpec> = {}): ModelVersion {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'sentiment-bert-2.0.0', namespace: 'nlp' },
    spec: {
      model: 'sentiment-bert',
      version: '2.0.0',
      runtime: 'torchserve',
      format: 'mar',
      storageUri: 'gs://ml-models/sentiment-bert/2.0.0/sentiment-bert.mar',
      ...spec,
    },
  };
}
const withTs = (ts: ModelVersionSpecRuntimeConfigTorchserve) => mv({ runtimeConfig: { torchserve: ts } });

const render = (v: ModelVersion, settings: RuntimeSettings = {}) =>
  torchserve.renderPod(v, settings, 'sentiment-bert-abc');
const env = (c: V1Container, name: string) => c.env?.find((e) => e.name === name)?.value;
/** config.properties as key -> value (java.util.Properties: first '=' separates). */
function properties(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
  );
}

describe('config.properties', () => {
  test('addresses, store, the model to load, and safe defaults', () => {
    const p = properties(render(mv()).files['config.properties']!);
    expect(Object.fromEntries(p)).toEqual({
      inference_address: 'http://0.0.0.0:8080',
      management_address: 'http://127.0.0.1:8081',
      metrics_address: 'http://0.0.0.0:8082',
      metrics_mode: 'prometheus',
      model_store: '/mnt/models',
      load_models: 'sentiment-bert=sentiment-bert.mar',
      default_workers_per_model: '1',
      install_py_dep_per_model: 'false',
      disable_token_authorization: 'true',
      enable_envvars_config: 'true',
    });
  });

  test('per-model settings go into the models block, keyed by model and version', () => {
    const p = properties(
      renderConfigProperties(
        withTs({
          minWorkers: 2,
          maxWorkers: 4,
          batchSize: 16,
          maxBatchDelayMs: 30,
          responseTimeoutSeconds: 90,
        }),
        'sentiment-bert.mar',
      ),
    );
    expect(JSON.parse(p.get('models')!)).toEqual({
      'sentiment-bert': {
        '2.0.0': {
          defaultVersion: true,
          marName: 'sentiment-bert.mar',
          minWorkers: 2,
          maxWorkers: 4,
          batchSize: 16,
          maxBatchDelay: 30,
          responseTimeout: 90,
        },
      },
    });
    expect(p.get('default_workers_per_model')).toBe('2');
    expect(p.get('default_response_timeout')).toBe('90');
  });

  test.each([
    [{}, undefined],
    [{ handler: 'text_classifier' }, undefined],
    [{ batchSize: 8 }, { batchSize: 8 }],
    [{ maxBatchDelayMs: 0 }, { maxBatchDelay: 0 }],
    [{ maxWorkers: 3 }, { maxWorkers: 3 }],
  ])('runtimeConfig %j: models block %j', (ts, block) => {
    const models = properties(renderConfigProperties(withTs(ts), 'm.mar')).get('models');
    if (block === undefined) expect(models).toBeUndefined();
    else
      expect(JSON.parse(models!)['sentiment-bert']['2.0.0']).toEqual({
        defaultVersion: true,
        marName: 'm.mar',
        ...block,
      });
  });

  test.each([
    [undefined, '1'],
    [0, '1'],
    [1, '1'],
    [6, '6'],
  ])(
    'minWorkers %s: default_workers_per_model %s (never 0, which means one per node CPU)',
    (minWorkers, expected) => {
      const ts = minWorkers === undefined ? {} : { minWorkers };
      expect(properties(renderConfigProperties(withTs(ts), 'm.mar')).get('default_workers_per_model')).toBe(
        expected,
      );
    },
  );

  test('a handler becomes the default service handler, escaped as a properties value', () => {
    const p = properties(renderConfigProperties(withTs({ handler: 'C:\\handlers\\h.py:handle' }), 'm.mar'));
    expect(p.get('default_service_handler')).toBe('C:\\\\handlers\\\\h.py:handle');
  });
});

describe('model store layout', () => {
  test.each([
    [
      'mar',
      'gs://b/sentiment-bert.mar',
      'sentiment-bert=sentiment-bert.mar',
      'MODEL_FILE',
      '/mnt/models/sentiment-bert.mar',
    ],
    [
      'mar',
      's3://b/whatever-name.mar',
      'sentiment-bert=sentiment-bert.mar',
      'MODEL_FILE',
      '/mnt/models/sentiment-bert.mar',
    ],
    [
      'torchscript',
      's3://b/sentiment-bert/',
      'sentiment-bert=sentiment-bert',
      'MODEL_DIR',
      '/mnt/models/sentiment-bert',
    ],
    [
      'python',
      'pvc://cache/bert/',
      'sentiment-bert=sentiment-bert',
      'MODEL_DIR',
      '/mnt/models/sentiment-bert',
    ],
    [
      'mar',
      'https://h.example.com/bert.tgz',
      'sentiment-bert=sentiment-bert',
      'MODEL_ARCHIVE',
      '/mnt/models/.download/artifact.tar.gz',
    ],
  ] as const)('%s from %s loads %s', (format, storageUri, models, variable, path) => {
    const pod = render(mv({ format, storageUri }));
    expect(pod.container.command).toContain(models);
    expect(properties(pod.files['config.properties']!).get('load_models')).toBe(models);
    expect(env(pod.initContainers[0]!, variable)).toBe(path);
  });

  test('a .tar.gz is extracted into /mnt/models/<model>', () => {
    const pod = render(mv({ storageUri: 'gs://b/bert.tar.gz', digest: DIGEST }));
    expect(pod.initContainers.map((c) => c.name)).toEqual(['fetch-model', 'unpack-model']);
    expect(env(pod.initContainers[1]!, 'MODEL_DIR')).toBe('/mnt/models/sentiment-bert');
  });

  test.each([
    ['torchscript', 's3://b/model.pt'],
    ['python', 'pvc://cache/bert'],
  ] as const)('a single %s file (%s) is rejected: TorchServe needs an archive', (format, storageUri) => {
    expect(() => render(mv({ format, storageUri }))).toThrow(InvalidModelVersionError);
    expect(() => render(mv({ format, storageUri }))).toThrow(/torch-model-archiver.*ending in \//);
  });
});

describe('server container', () => {
  test('runs torchserve in the foreground with the generated configuration', () => {
    const c = render(mv()).container;
    expect(c.image).toBe(TORCHSERVE_IMAGE);
    expect(c.command).toEqual([
      'torchserve',
      '--start',
      '--foreground',
      '--ts-config',
      '/mnt/config/config.properties',
      '--model-store',
      '/mnt/models',
      '--models',
      'sentiment-bert=sentiment-bert.mar',
      '--disable-token-auth',
      '--ncs',
    ]);
    expect(c.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'revision-config', mountPath: '/mnt/config', readOnly: true },
        { name: 'model-store', mountPath: '/mnt/models', readOnly: true },
        { name: 'tmp', mountPath: '/tmp' },
      ]),
    );
    // Everything TorchServe writes goes to the /tmp emptyDir.
    for (const name of ['TEMP', 'HOME']) expect(env(c, name)).toBe('/tmp');
    expect(env(c, 'LOG_LOCATION')).toBe('/tmp/logs');
  });

  test('exposes inference and metrics, never the management API', () => {
    const pod = render(mv());
    expect(pod.container.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8082, protocol: 'TCP' },
    ]);
    expect(pod.ports.map((p) => p.port)).not.toContain(8081);
    expect(pod.servingPortName).toBe('http');
  });

  test('the image comes from the settings when given', () => {
    expect(render(mv(), { images: { torchserve: 'mirror/ts:0.12.0-gpu' } }).container.image).toBe(
      'mirror/ts:0.12.0-gpu',
    );
  });

  test('every container runs restricted, with a read-only root filesystem', () => {
    const pod = render(mv({ storageUri: 's3://b/m.tar.gz' }));
    expect(pod.initContainers).toHaveLength(2);
    for (const c of [pod.container, ...pod.initContainers]) {
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });
});

describe('probes', () => {
  test('readiness asks the management API whether this model has a READY worker', () => {
    const pod = render(mv({ model: 'reviews' }));
    expect(pod.readinessProbe.exec?.command).toEqual(modelReadyCommand('reviews'));
    const [python, flag, code] = modelReadyCommand('reviews');
    expect([python, flag]).toEqual(['python3', '-c']);
    expect(code).toContain("'http://127.0.0.1:8081/models/reviews'");
    expect(code).toContain("x.get('status') == 'READY'");
    expect(code).toContain('sys.exit(0 if any(');
    expect(pod.readinessProbe.timeoutSeconds).toBeGreaterThan(4); // above urlopen's own timeout
  });

  test('liveness is /ping on the inference port; startup waits for the model', () => {
    const pod = render(mv({ model: 'reviews' }));
    expect(pod.livenessProbe.httpGet).toEqual({ path: '/ping', port: 'http' });
    expect(pod.startupProbe?.exec?.command).toEqual(modelReadyCommand('reviews'));
    expect(pod.startupProbe!.periodSeconds! * pod.startupProbe!.failureThreshold!).toBeGreaterThanOrEqual(
      600,
    );
  });
});

describe('fetch-model', () => {
  test.each([
    ['gs', 'gs://b/m.mar', 'gcloud storage cp "$MODEL_URI" "$MODEL_FILE"'],
    ['s3', 's3://b/m.mar', 'aws s3 cp --only-show-errors "$MODEL_URI" "$MODEL_FILE"'],
    ['https', 'https://h/m.mar', '-o "$MODEL_FILE" "$MODEL_URI"'],
    ['pvc', 'pvc://c/m.mar', 'cp "$MODEL_SOURCE" "$MODEL_FILE"'],
  ] as const)('%s', (scheme, storageUri, command) => {
    const c = render(mv({ storageUri })).initContainers[0]!;
    expect(c.image).toBe(DEFAULT_FETCH_IMAGES[scheme]);
    expect(c.command![2]).toContain(command);
  });

  test('gcloud keeps its configuration in /tmp', () => {
    const c = render(mv()).initContainers[0]!;
    expect(env(c, 'CLOUDSDK_CONFIG')).toBe('/tmp/gcloud');
  });

  test.each([true, false])('digest given: %s, checked: the same', (withDigest) => {
    const c = render(mv(withDigest ? { digest: DIGEST } : {})).initContainers[0]!;
    expect(c.command![2]!.includes('sha256sum "$MODEL_FILE"')).toBe(withDigest);
    expect(env(c, 'MODEL_DIGEST')).toBe(withDigest ? DIGEST : undefined);
  });
});

describe('processing', () => {
  test('preprocess config is a file of the revision, mounted with the model', () => {
    const pod = render(
      mv({ processing: { preprocess: { config: { tokenizer: 'bert-base-uncased', maxLength: 256 } } } }),
    );
    expect(JSON.parse(pod.files['preprocess.json']!)).toEqual({
      config: { maxLength: 256, tokenizer: 'bert-base-uncased' },
    });
    expect(pod.container.volumeMounts).toContainEqual({
      name: 'preprocess',
      mountPath: '/mnt/processing/preprocess',
      readOnly: true,
    });
    expect(pod.volumes.find((v) => v.name === 'preprocess')?.projected?.sources?.[0]?.configMap?.name).toBe(
      'sentiment-bert-abc',
    );
  });

  // Rendering only: no TorchServe runs here (torch is gigabytes; docs/runtimes.md). The handler that
  // reads these files is inside the .mar, versioned with it; modelship runs no handler of its own
  // and makes no ensemble for TorchServe.
  test("a configMapRef is copied into the revision ConfigMap (pinned), never mounted from the user's", () => {
    const v = mv({
      processing: {
        preprocess: {
          handler: 'tokenize:preprocess',
          config: { maxLength: 256 },
          configMapRef: { name: 'vocab-v3' },
        },
      },
    });
    const pod = torchserve.renderPod(v, {}, 'sentiment-bert-abc', {
      preprocess: { data: { 'vocab.txt': '[PAD]\n[UNK]\n' } },
    });
    expect(pod.files['preprocess--vocab.txt']).toBe('[PAD]\n[UNK]\n');
    expect(pod.volumes.find((v) => v.name === 'preprocess')).toEqual({
      name: 'preprocess',
      projected: {
        sources: [
          {
            configMap: {
              name: 'sentiment-bert-abc',
              items: [
                { key: 'preprocess--vocab.txt', path: 'vocab.txt' },
                { key: 'preprocess.json', path: 'preprocess.json' },
              ],
            },
          },
        ],
      },
    });
    expect(JSON.stringify(pod)).not.toContain('vocab-v3');
    // The .mar is served as it is: no generated models, no step files.
    expect(Object.keys(pod.files).sort()).toEqual([
      'config.properties',
      'preprocess--vocab.txt',
      'preprocess.json',
    ]);
    expect(env(pod.container, 'MODELSHIP_PROCESSING_DIR')).toBe('/mnt/processing');
  });

  test('a configMapRef whose content was not resolved is refused', () => {
    expect(() => render(mv({ processing: { postprocess: { configMapRef: { name: 'x' } } } }))).toThrow(
      InvalidModelVersionError,
    );
  });
});
