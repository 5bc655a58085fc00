import { DEFAULT_MODEL_STORE_SIZE_LIMIT } from '../runtimes/common/pod.js';
import { DEFAULT_IMAGES } from '../runtimes/images.js';
import { parseFlags, usage, UsageError } from './options.js';

test('defaults, then environment, then flags', () => {
  expect(parseFlags([], {})).toMatchObject({
    concurrency: 4,
    unreadyGraceMs: 10_000,
    resyncMs: 300_000,
    routerDiscoveryMs: 30_000,
    metricsAuth: 'kubernetes',
    tlsCertFile: undefined,
    requestTimeoutMs: 30_000,
    stallTimeoutMs: 180_000,
    logFormat: 'json',
    namespaces: undefined,
  });
  expect(parseFlags([], { MODELSHIP_CONCURRENCY: '8', MODELSHIP_NAMESPACES: 'a, b' })).toMatchObject({
    concurrency: 8,
    namespaces: ['a', 'b'],
  });
  expect(
    parseFlags(['--concurrency', '2', '--unready-grace=2s'], { MODELSHIP_CONCURRENCY: '8' }),
  ).toMatchObject({ concurrency: 2, unreadyGraceMs: 2000 });
  expect(parseFlags(['--router-discovery-interval=0s'], {}).routerDiscoveryMs).toBe(0);
  expect(parseFlags(['--help'], {}).help).toBe(true);
});

test.each([
  [['--nope'], /unknown argument "--nope"/],
  [['--concurrency', '0'], /whole number from 1 to 256/],
  [['--unready-grace', 'soon'], /not a duration/],
  [['--log-format', 'xml'], /use json or text/],
  [['--request-timeout', '0s'], /--request-timeout: "0s" must be longer than 0/],
  [['--stall-timeout', 'never'], /not a duration/],
  [['--kubeconfig'], /needs a value/],
  [['--image-fetch-s3', 'mirror/aws cli:2'], /--image-fetch-s3: .* is not an image reference/],
  [['--image-triton=nvcr.io/t@sha256:abc'], /--image-triton: .* is not an image reference/],
  [['--model-store-size-limit', 'lots'], /is not a size/],
  [['--model-store-size-limit', '0'], /is not a size/],
  [['--metrics-auth', 'basic'], /use kubernetes or none/],
  [['--tls-cert-file', '/tls/tls.crt'], /give both or neither/],
])('%j is refused with a clear message', (argv, msg) => {
  expect(() => parseFlags(argv, {})).toThrow(UsageError);
  expect(() => parseFlags(argv, {})).toThrow(msg);
});

test('usage lists every flag with its environment variable', () => {
  expect(usage()).toMatch(/--unready-grace .*MODELSHIP_UNREADY_GRACE/);
});

test('every image and the model store size limit: defaults, environment, flags', () => {
  expect(parseFlags([], {}).settings).toEqual({
    images: { triton: DEFAULT_IMAGES.triton, torchserve: DEFAULT_IMAGES.torchserve },
    fetchImages: {
      s3: DEFAULT_IMAGES.fetchS3,
      gs: DEFAULT_IMAGES.fetchGs,
      https: DEFAULT_IMAGES.fetchHttps,
      pvc: DEFAULT_IMAGES.fetchPvc,
    },
    unpackImage: DEFAULT_IMAGES.unpack,
    modelStoreSizeLimit: DEFAULT_MODEL_STORE_SIZE_LIMIT,
  });
  const mirror = (n: string) => `mirror.example/${n}@sha256:${'a'.repeat(64)}`;
  const s = parseFlags(
    [
      '--image-fetch-s3',
      mirror('aws-cli'),
      '--image-unpack=mirror.example/busybox:1.37.0',
      '--model-store-size-limit=200Gi',
    ],
    {
      MODELSHIP_IMAGE_TRITON: mirror('tritonserver'),
      MODELSHIP_IMAGE_TORCHSERVE: 'mirror.example/torchserve:0.12.0-cpu',
      MODELSHIP_IMAGE_FETCH_GS: mirror('cloud-sdk'),
      MODELSHIP_IMAGE_FETCH_HTTPS: mirror('curl'),
      MODELSHIP_IMAGE_FETCH_PVC: mirror('busybox'),
    },
  ).settings;
  expect(s).toEqual({
    images: { triton: mirror('tritonserver'), torchserve: 'mirror.example/torchserve:0.12.0-cpu' },
    fetchImages: {
      s3: mirror('aws-cli'),
      gs: mirror('cloud-sdk'),
      https: mirror('curl'),
      pvc: mirror('busybox'),
    },
    unpackImage: 'mirror.example/busybox:1.37.0',
    modelStoreSizeLimit: '200Gi',
  });
  // An empty flag sets no limit; an empty variable counts as unset.
  expect(parseFlags(['--model-store-size-limit='], {}).settings.modelStoreSizeLimit).toBe('');
  expect(parseFlags([], { MODELSHIP_MODEL_STORE_SIZE_LIMIT: '' }).settings.modelStoreSizeLimit).toBe(
    DEFAULT_MODEL_STORE_SIZE_LIMIT,
  );
  expect(usage()).toMatch(/--image-fetch-gs .*\[\$MODELSHIP_IMAGE_FETCH_GS\]/);
});
