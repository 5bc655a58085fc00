import type { V1Container, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { ModelDeployment, ModelVersion } from '../api/index.js';
import { DEFAULT_IMAGES } from '../runtimes/images.js';
import type { RuntimeSettings } from '../runtimes/index.js';
import {
  GPU_RESOURCE,
  HASH_PLACEHOLDER,
  computeRevisionHash,
  renderRevision,
  revisionHash,
  type RenderRevisionInput,
} from './revision.js';

const UID = '7d1c1a5e-0000-4000-8000-00000000000a';

function md(
  patch: Partial<ModelDeployment['spec']> = {},
  metadata: ModelDeployment['metadata'] = {},
): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'resnet50', namespace: 'vision', uid: UID, ...metadata },
    spec: { model: 'resnet50', version: '1.2.0', ...patch },
  };
}

function tritonMv(
  patch: Partial<ModelVersion['spec']> = {},
  metadata: ModelVersion['metadata'] = {},
): ModelVersion {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'resnet50-1.2.0', namespace: 'vision', ...metadata },
    spec: {
      model: 'resnet50',
      version: '1.2.0',
      runtime: 'triton',
      format: 'onnx',
      storageUri: 's3://models/resnet50/1.2.0/model.onnx',
      digest: `sha256:${'c0'.repeat(32)}`,
      interface: { inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 224, 224] }] },
      processing: { preprocess: { config: { resize: 256 } } },
      runtimeConfig: { triton: { maxBatchSize: 32 } },
      record: { owner: 'ml-vision@example.com', metrics: { top1: 0.77 } },
      ...patch,
    },
  };
}

function torchserveMv(): ModelVersion {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'sentiment-bert-2.2.0', namespace: 'vision' },
    spec: {
      model: 'sentiment-bert',
      version: '2.2.0',
      runtime: 'torchserve',
      format: 'mar',
      storageUri: 'gs://b/sentiment-bert.tar.gz',
      runtimeConfig: { torchserve: { batchSize: 8 } },
    },
  };
}

const render = (input: Partial<RenderRevisionInput> = {}) =>
  renderRevision({ md: md(), mv: tritonMv(), replicas: 2, ...input });
const hashOf = (m: ModelDeployment, v: ModelVersion = tritonMv(), settings?: RuntimeSettings) =>
  revisionHash({ md: m, mv: v, ...(settings ? { settings } : {}) });
const server = (t: V1PodTemplateSpec): V1Container => t.spec!.containers[0]!;
const BASE = hashOf(md());

describe('revision hash', () => {
  test('10 lowercase alphanumeric characters, the same for the same input', () => {
    expect(BASE).toMatch(/^[a-z0-9]{10}$/);
    expect(hashOf(md())).toBe(BASE);
    expect(render().hash).toBe(BASE);
  });

  test('does not depend on the order keys were written in', () => {
    const a = { podTemplate: { metadata: { labels: { a: '1', b: '2' } } }, files: { x: '1', y: '2' } };
    const b = { files: { y: '2', x: '1' }, podTemplate: { metadata: { labels: { b: '2', a: '1' } } } };
    expect(computeRevisionHash(a)).toBe(computeRevisionHash(b));
    expect(computeRevisionHash(a)).not.toBe(computeRevisionHash({ ...a, files: { x: '1', y: '3' } }));
  });

  test.each<[string, () => string]>([
    ['version', () => hashOf(md(), tritonMv({ version: '1.2.1' }))],
    ['storageUri', () => hashOf(md(), tritonMv({ storageUri: 's3://models/resnet50/other.onnx' }))],
    ['digest', () => hashOf(md(), tritonMv({ digest: `sha256:${'d1'.repeat(32)}` }))],
    ['format', () => hashOf(md(), tritonMv({ format: 'tensorrt' }))],
    ['interface (config.pbtxt)', () => hashOf(md(), tritonMv({ interface: {} }))],
    [
      'runtimeConfig (config.pbtxt)',
      () => hashOf(md(), tritonMv({ runtimeConfig: { triton: { maxBatchSize: 64 } } })),
    ],
    [
      'processing config (a file)',
      () => hashOf(md(), tritonMv({ processing: { preprocess: { config: { resize: 224 } } } })),
    ],
    ['pod image', () => hashOf(md({ pod: { image: 'mirror/triton:24.08' } }))],
    ['pod resources', () => hashOf(md({ pod: { resources: { requests: { cpu: '4' } } } }))],
    ['pod env', () => hashOf(md({ pod: { env: [{ name: 'OMP_NUM_THREADS', value: '4' }] } }))],
    ['pod nodeSelector', () => hashOf(md({ pod: { nodeSelector: { pool: 'gpu' } } }))],
    [
      'pod tolerations',
      () => hashOf(md({ pod: { tolerations: [{ key: 'dedicated', operator: 'Exists' }] } })),
    ],
    ['pod labels', () => hashOf(md({ pod: { labels: { team: 'vision' } } }))],
    ['pod annotations', () => hashOf(md({ pod: { annotations: { 'prometheus.io/scrape': 'true' } } }))],
    ['runtime image setting', () => hashOf(md(), tritonMv(), { images: { triton: 'mirror/triton:24.09' } })],
    ['fetch image setting', () => hashOf(md(), tritonMv(), { fetchImages: { s3: 'mirror/aws-cli:2' } })],
  ])('changes with the %s', (_what, changed) => {
    expect(changed()).not.toBe(BASE);
  });

  test.each<[string, () => string]>([
    ['replicas', () => hashOf(md({ replicas: 7 }))],
    [
      'strategy',
      () => hashOf(md({ strategy: { type: 'BlueGreen', progressDeadlineSeconds: 900, maxRestarts: 9 } })),
    ],
    ['canary steps', () => hashOf(md({ strategy: { canary: { steps: [{ setWeight: 10 }] } } }))],
    [
      'traffic',
      () => hashOf(md({ traffic: { router: 'istio', port: 9000, istio: { hosts: ['r.example.com'] } } })),
    ],
    ['revisionHistoryLimit and paused', () => hashOf(md({ revisionHistoryLimit: 9, paused: true }))],
    ['spec.version of the ModelDeployment', () => hashOf(md({ version: '9.9.9' }))],
    [
      'labels and annotations of the ModelDeployment',
      () => hashOf(md({}, { labels: { a: 'b' }, annotations: { c: 'd' } })),
    ],
    ['uid and generation of the ModelDeployment', () => hashOf(md({}, { uid: 'other', generation: 12 }))],
    [
      'name and labels of the ModelVersion',
      () => hashOf(md(), tritonMv({}, { name: 'renamed', labels: { x: 'y' } })),
    ],
    [
      'record of the ModelVersion (never reaches the pods)',
      () => hashOf(md(), tritonMv({ record: { owner: 'x' } })),
    ],
    [
      'unused settings',
      () => hashOf(md(), tritonMv(), { images: { torchserve: 'x' }, fetchImages: { gs: 'y' } }),
    ],
  ])('does not change with the %s', (_what, unchanged) => {
    expect(unchanged()).toBe(BASE);
  });

  test('covers the pod template as rendered, with a placeholder for itself', () => {
    const r = render();
    // The rendered template with the hash taken back out is what was hashed.
    const template = JSON.parse(
      JSON.stringify(r.podTemplate).replaceAll(r.hash, HASH_PLACEHOLDER),
    ) as V1PodTemplateSpec;
    delete template.metadata!.labels!['modelship.io/revision'];
    expect(computeRevisionHash({ podTemplate: template, files: r.configMap.data! })).toBe(r.hash);
  });
});

describe('renderRevision', () => {
  test('names, kinds and the ConfigMap the pods mount', () => {
    const r = render();
    expect(r.name).toBe(`resnet50-${r.hash}`);
    for (const [o, apiVersion, kind] of [
      [r.deployment, 'apps/v1', 'Deployment'],
      [r.configMap, 'v1', 'ConfigMap'],
      [r.service, 'v1', 'Service'],
    ] as const) {
      expect(o.apiVersion).toBe(apiVersion);
      expect(o.kind).toBe(kind);
      expect(o.metadata?.name).toBe(r.name);
      expect(o.metadata?.namespace).toBe('vision');
    }
    expect(r.deployment.spec?.template).toBe(r.podTemplate);
    expect(r.podTemplate.spec?.volumes).toContainEqual({
      name: 'revision-config',
      configMap: { name: r.name },
    });
    expect(Object.keys(r.configMap.data ?? {})).toEqual(['config.pbtxt', 'preprocess.json']);
    expect(r.configMap.immutable).toBe(true);
  });

  test('labels on every object and on the pods; the exact version in annotations', () => {
    const r = render();
    const labels = {
      'app.kubernetes.io/name': 'resnet50',
      'app.kubernetes.io/instance': 'resnet50',
      'app.kubernetes.io/version': '1.2.0',
      'app.kubernetes.io/component': 'model-server',
      'app.kubernetes.io/part-of': 'modelship',
      'app.kubernetes.io/managed-by': 'modelship',
      'modelship.io/deployment': 'resnet50',
      'modelship.io/model': 'resnet50',
      'modelship.io/version': '1.2.0',
      'modelship.io/revision': r.hash,
    };
    expect(r.labels).toEqual(labels);
    for (const o of [r.deployment, r.configMap, r.service, r.podTemplate])
      expect(o.metadata?.labels).toEqual(labels);
    expect(r.deployment.metadata?.annotations).toEqual({
      'modelship.io/version': '1.2.0',
      'modelship.io/model-version': 'resnet50-1.2.0',
      'modelship.io/runtime': 'triton',
    });
  });

  test.each([
    ['2.1.0-finetune.datasetx', '2.1.0-finetune.datasetx'],
    ['1.0.0+build.5', '1.0.0_build.5'],
    ['1.0.0-rc.1+sha.5114f85', '1.0.0-rc.1_sha.5114f85'],
    [`1.0.0-${'x'.repeat(80)}+b`, `1.0.0-${'x'.repeat(57)}`],
  ])('version %s is labelled %s, and kept exact in the annotation', (version, label) => {
    const r = render({ mv: tritonMv({ version }) });
    for (const key of ['app.kubernetes.io/version', 'modelship.io/version']) {
      expect(r.podTemplate.metadata?.labels?.[key]).toBe(label);
    }
    expect(label).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
    expect(r.deployment.metadata?.annotations?.['modelship.io/version']).toBe(version);
    expect(r.podTemplate.metadata?.annotations?.['modelship.io/version']).toBe(version);
  });

  test('user pod labels and annotations reach the pods, but never override ours', () => {
    const r = render({
      md: md({
        pod: {
          labels: {
            team: 'vision',
            'modelship.io/revision': 'hijack',
            'modelship.io/deployment': 'other',
            'app.kubernetes.io/name': 'other',
          },
          annotations: { 'prometheus.io/scrape': 'true', 'modelship.io/version': '6.6.6' },
        },
      }),
    });
    const labels = r.podTemplate.metadata!.labels!;
    expect(labels.team).toBe('vision');
    expect(labels['modelship.io/revision']).toBe(r.hash);
    expect(labels['modelship.io/deployment']).toBe('resnet50');
    expect(labels['app.kubernetes.io/name']).toBe('resnet50');
    expect(r.podTemplate.metadata!.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'modelship.io/version': '1.2.0',
    });
    // User labels stay on the pods: the objects and the selector carry only ours.
    expect(r.deployment.metadata?.labels?.team).toBeUndefined();
    expect(r.deployment.spec?.selector.matchLabels).toEqual({
      'modelship.io/deployment': 'resnet50',
      'modelship.io/revision': r.hash,
    });
  });

  test('a controller owner reference on every object; a ModelDeployment without uid is refused', () => {
    const r = render();
    for (const o of [r.deployment, r.configMap, r.service]) {
      expect(o.metadata?.ownerReferences).toEqual([
        {
          apiVersion: 'modelship.io/v1alpha1',
          kind: 'ModelDeployment',
          name: 'resnet50',
          uid: UID,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    expect(() => render({ md: md({}, { uid: undefined }) })).toThrow(/vision\/resnet50 has no metadata.uid/);
  });

  test('the Deployment: replicas as given, no surge of unavailability, no ReplicaSet history', () => {
    const d = render({ replicas: 5, md: md({ strategy: { progressDeadlineSeconds: 900 } }) }).deployment
      .spec!;
    expect(d.replicas).toBe(5);
    expect(d.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' },
    });
    expect(d.revisionHistoryLimit).toBe(0);
    expect(d.progressDeadlineSeconds).toBe(900);
    expect(render({ replicas: 0 }).deployment.spec!.replicas).toBe(0);
    expect(render().deployment.spec!.progressDeadlineSeconds).toBe(300);
  });

  test('the Service selects the revision and serves http on the traffic port', () => {
    const r = render({ md: md({ traffic: { port: 8080 } }) });
    expect(r.service.spec?.selector).toEqual({
      'modelship.io/deployment': 'resnet50',
      'modelship.io/revision': r.hash,
    });
    expect(r.service.spec?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http', appProtocol: 'http' },
      { name: 'grpc', protocol: 'TCP', port: 8001, targetPort: 'grpc', appProtocol: 'grpc' },
      { name: 'metrics', protocol: 'TCP', port: 8002, targetPort: 'metrics', appProtocol: 'http' },
    ]);
    expect(render().service.spec?.ports?.[0]?.port).toBe(80);
  });

  test('a runtime port that clashes with the traffic port is left out of the Service', () => {
    const ports = render({ md: md({ traffic: { port: 8001 } }) }).service.spec!.ports!;
    expect(ports.map((p) => `${p.name}:${p.port}`)).toEqual(['http:8001', 'metrics:8002']);
  });

  test('pod overrides: image, nodeSelector, tolerations, env on the server container', () => {
    const r = render({
      md: md({
        pod: {
          image: 'mirror/triton:24.08',
          nodeSelector: { 'nvidia.com/gpu.product': 'A100' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' }],
          env: [
            { name: 'OMP_NUM_THREADS', value: '2' },
            { name: 'MODELSHIP_PROCESSING_DIR', value: '/elsewhere' },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          ],
        },
      }),
    });
    const c = server(r.podTemplate);
    expect(c.image).toBe('mirror/triton:24.08');
    expect(r.podTemplate.spec?.nodeSelector).toEqual({ 'nvidia.com/gpu.product': 'A100' });
    expect(r.podTemplate.spec?.tolerations).toEqual([
      { key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' },
    ]);
    // A user variable replaces the runtime's of the same name in place: no duplicate names.
    expect(c.env).toEqual([
      { name: 'MODELSHIP_PROCESSING_DIR', value: '/elsewhere' },
      { name: 'OMP_NUM_THREADS', value: '2' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ]);
    // The init containers keep their own images and environment.
    expect(r.podTemplate.spec?.initContainers?.[0]?.image).toBe(DEFAULT_IMAGES.fetchS3);
  });

  test('probes are set on the server container', () => {
    const c = server(render().podTemplate);
    expect(c.readinessProbe?.httpGet?.path).toBe('/v2/models/resnet50/ready');
    expect(c.livenessProbe?.httpGet?.path).toBe('/v2/health/live');
    expect(c.startupProbe?.httpGet?.path).toBe('/v2/models/resnet50/ready');
  });

  test('resources: the runtime defaults without overrides, the user`s as a whole with them', () => {
    expect(server(render().podTemplate).resources).toEqual({ requests: { cpu: '1', memory: '2Gi' } });
    expect(server(render({ md: md({ pod: { resources: {} } }) }).podTemplate).resources).toEqual({
      requests: { cpu: '1', memory: '2Gi' },
    });
    const c = server(
      render({ md: md({ pod: { resources: { limits: { memory: '8Gi', cpu: 2 } } } }) }).podTemplate,
    );
    expect(c.resources).toEqual({ limits: { memory: '8Gi', cpu: '2' } });
  });

  test.each([
    ['limits', { limits: { [GPU_RESOURCE]: 1, memory: '16Gi' } }, '1'],
    ['requests', { requests: { [GPU_RESOURCE]: '2' } }, '2'],
    ['both, limits win', { requests: { [GPU_RESOURCE]: 1 }, limits: { [GPU_RESOURCE]: 4 } }, '4'],
  ])('a GPU in %s is requested and limited alike, and the GPU taint tolerated', (_name, resources, count) => {
    const t = render({ md: md({ pod: { resources } }) }).podTemplate;
    expect(server(t).resources?.limits?.[GPU_RESOURCE]).toBe(count);
    expect(server(t).resources?.requests?.[GPU_RESOURCE]).toBe(count);
    expect(t.spec?.tolerations).toEqual([{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }]);
  });

  test.each([
    ['no GPU', {}, []],
    ['zero GPUs', { resources: { limits: { [GPU_RESOURCE]: 0 } } }, []],
    [
      'already tolerated',
      {
        resources: { limits: { [GPU_RESOURCE]: 1 } },
        tolerations: [{ key: GPU_RESOURCE, operator: 'Exists' as const }],
      },
      [{ key: GPU_RESOURCE, operator: 'Exists' }],
    ],
    [
      'another taint tolerated',
      {
        resources: { limits: { [GPU_RESOURCE]: 1 } },
        tolerations: [{ key: 'dedicated', operator: 'Exists' as const }],
      },
      [
        { key: 'dedicated', operator: 'Exists' },
        { key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' },
      ],
    ],
  ])('GPU toleration: %s', (_name, pod, expected) => {
    expect(render({ md: md({ pod }) }).podTemplate.spec?.tolerations ?? []).toEqual(expected);
  });

  test.each([
    ['triton', tritonMv()],
    ['torchserve', torchserveMv()],
  ])('%s: restricted security context on the pod and every container', (_name, mv) => {
    const spec = render({ mv }).podTemplate.spec!;
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(spec.automountServiceAccountToken).toBe(false);
    const containers = [...(spec.initContainers ?? []), ...spec.containers];
    expect(containers.length).toBeGreaterThanOrEqual(2);
    for (const c of containers) {
      expect(c.securityContext).toEqual({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  test('the runtime comes from the ModelVersion, or from the input', () => {
    expect(server(render({ mv: torchserveMv() }).podTemplate).command?.[0]).toBe('torchserve');
    expect(() =>
      render({ mv: { ...tritonMv(), spec: { ...tritonMv().spec, runtime: 'vllm' as 'triton' } } }),
    ).toThrow(/unknown model runtime "vllm"/);
  });
});

describe('spec.pod.serviceAccountName and storageCredentials', () => {
  const template = (m: ModelDeployment, v: ModelVersion = tritonMv()): V1PodTemplateSpec =>
    renderRevision({ md: m, mv: v, replicas: 1 }).deployment.spec!.template;
  const fetchOf = (t: V1PodTemplateSpec): V1Container =>
    t.spec!.initContainers!.find((c) => c.name === 'fetch-model')!;

  test('the pods run as the ServiceAccount, still without an API token', () => {
    const t = template(md({ pod: { serviceAccountName: 'model-puller' } }));
    expect(t.spec!.serviceAccountName).toBe('model-puller');
    expect(t.spec!.automountServiceAccountToken).toBe(false);
    expect(template(md()).spec!.serviceAccountName).toBeUndefined();
  });

  test('the Secret reaches the fetch step only: its keys as environment, its files read-only; the server never sees it', () => {
    const t = template(md({ pod: { storageCredentials: { secretName: 'bucket-keys' } } }));
    const fetch = fetchOf(t);
    expect(fetch.envFrom).toEqual([{ secretRef: { name: 'bucket-keys' } }]);
    expect(fetch.volumeMounts).toContainEqual({
      name: 'storage-credentials',
      mountPath: '/var/run/secrets/modelship.io/storage',
      readOnly: true,
    });
    expect(fetch.env).toContainEqual({ name: 'CURL_HOME', value: '/var/run/secrets/modelship.io/storage' });
    // s3://: no gcloud credential file.
    expect(fetch.env!.some((e) => e.name === 'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE')).toBe(false);
    expect(t.spec!.volumes).toContainEqual({
      name: 'storage-credentials',
      secret: { secretName: 'bucket-keys', defaultMode: 0o440 },
    });
    const others = [
      ...t.spec!.containers,
      ...t.spec!.initContainers!.filter((c) => c.name !== 'fetch-model'),
    ];
    for (const c of others) {
      expect(c.envFrom).toBeUndefined();
      expect((c.volumeMounts ?? []).some((m) => m.name === 'storage-credentials')).toBe(false);
    }
  });

  test('a key of the Secret cannot replace what the fetch verifies: the rendered variables are set by env, which wins over envFrom', () => {
    const fetch = fetchOf(template(md({ pod: { storageCredentials: { secretName: 's' } } })));
    for (const name of ['MODEL_URI', 'MODEL_DIGEST', 'MODEL_FILE']) {
      expect(fetch.env!.find((e) => e.name === name)?.value).toBeDefined();
    }
  });

  test('gs:// reads its service-account key from the mounted key.json', () => {
    const fetch = fetchOf(
      template(
        md({ pod: { storageCredentials: { secretName: 'gcs-key' } } }),
        tritonMv({ storageUri: 'gs://models/resnet50/1.2.0/model.onnx' }),
      ),
    );
    expect(fetch.env).toContainEqual({
      name: 'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE',
      value: '/var/run/secrets/modelship.io/storage/key.json',
    });
  });

  test('without the fields the pod template is unchanged (no rollout of running models on upgrade)', () => {
    expect(hashOf(md({ pod: {} }))).toBe(BASE);
    expect(hashOf(md({ pod: { storageCredentials: { secretName: 's' } } }))).not.toBe(BASE);
    expect(hashOf(md({ pod: { serviceAccountName: 'sa' } }))).not.toBe(BASE);
  });
});
