// Every image in a model pod is one of DEFAULT_IMAGES, each can be replaced operator-wide, and the
// defaults are pinned by digest but for the ones listed here. And the model store's size limit.
import type { ModelVersion, ModelVersionSpec } from '../api/index.js';
import { DEFAULT_MODEL_STORE_SIZE_LIMIT, VOLUME_MODELS } from './common/pod.js';
import { DEFAULT_IMAGES, isPinned, type ImageName } from './images.js';
import { getRuntime } from './index.js';
import type { RuntimePod, RuntimeSettings } from './types.js';

/**
 * Defaults still given by tag, and why (src/runtimes/images.ts): a new default must come pinned,
 * or be added here with its reason in that file.
 */
const NOT_YET_PINNED: ImageName[] = ['triton', 'torchserve'];

function mv(spec: Partial<ModelVersionSpec>): ModelVersion {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'm-1.0.0', namespace: 'ns' },
    spec: {
      model: 'm',
      version: '1.0.0',
      runtime: 'triton',
      format: 'onnx',
      storageUri: 's3://b/m/model.onnx',
      ...spec,
    } as ModelVersionSpec,
  };
}

/** A pod of each runtime, from each storage scheme, as a file and as an archive. */
function pods(settings: RuntimeSettings): RuntimePod[] {
  const out: RuntimePod[] = [];
  for (const [runtime, format, file] of [
    ['triton', 'onnx', 'model.onnx'],
    ['torchserve', 'mar', 'model.mar'],
  ] as const)
    for (const base of ['s3://b/m', 'gs://b/m', 'https://h.example/m', 'pvc://claim/m'])
      for (const name of [file, 'model.tar.gz'])
        out.push(
          getRuntime(runtime).renderPod(
            mv({ runtime, format, storageUri: `${base}/${name}` }),
            settings,
            'cm',
          ),
        );
  return out;
}

const imagesOf = (p: RuntimePod[]): Set<string> =>
  new Set(p.flatMap((x) => [x.container, ...x.initContainers].map((c) => c.image!)));

test('the defaults are pinned by digest, but for the listed ones', () => {
  const unpinned = (Object.keys(DEFAULT_IMAGES) as ImageName[]).filter((n) => !isPinned(DEFAULT_IMAGES[n]));
  expect(unpinned).toEqual(NOT_YET_PINNED);
  expect(isPinned(`busybox:1@sha256:${'0'.repeat(64)}`)).toBe(true);
  expect(isPinned('busybox:1.37.0')).toBe(false);
  expect(isPinned('busybox@sha256:short')).toBe(false);
});

test('without settings, every image rendered is a default, and every default is rendered', () => {
  expect([...imagesOf(pods({}))].sort()).toEqual([...new Set(Object.values(DEFAULT_IMAGES))].sort());
});

test('with an image set for each, no default image is left in any pod', () => {
  const m = (n: string) => `mirror.example/${n}:1`;
  const settings: RuntimeSettings = {
    images: { triton: m('triton'), torchserve: m('torchserve') },
    fetchImages: { s3: m('s3'), gs: m('gs'), https: m('https'), pvc: m('pvc') },
    unpackImage: m('unpack'),
  };
  expect([...imagesOf(pods(settings))].sort()).toEqual(
    ['gs', 'https', 'pvc', 's3', 'torchserve', 'triton', 'unpack'].map(m).sort(),
  );
});

describe('the model store', () => {
  const store = (settings: RuntimeSettings) =>
    pods(settings).map((p) => p.volumes.find((v) => v.name === VOLUME_MODELS)!.emptyDir);

  test(`has a size limit, ${DEFAULT_MODEL_STORE_SIZE_LIMIT} by default`, () => {
    expect(new Set(store({}).map((e) => e?.sizeLimit))).toEqual(new Set([DEFAULT_MODEL_STORE_SIZE_LIMIT]));
  });

  test('takes the limit from the settings, and none when it is empty', () => {
    expect(new Set(store({ modelStoreSizeLimit: '200Gi' }).map((e) => e?.sizeLimit))).toEqual(
      new Set(['200Gi']),
    );
    expect(new Set(store({ modelStoreSizeLimit: '' }).map((e) => JSON.stringify(e)))).toEqual(
      new Set(['{}']),
    );
  });
});
