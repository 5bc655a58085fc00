/**
 * The images of model pods and the model store's size limit, from the operator's flags and
 * environment to the revision Deployment the apiserver stores: with the defaults, every image is the
 * one src/runtimes/images.ts names (pinned by digest but for the listed model servers) and the model
 * store has the default limit; an operator given mirrors for the images (flags and environment
 * variables, as the chart and deploy/ set them) renders no image outside the mirror and the limit it
 * was given. Before these flags existed, nothing but the code could change either.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { DEFAULT_MODEL_STORE_SIZE_LIMIT } from '../../src/runtimes/common/pod.js';
import { DEFAULT_IMAGES } from '../../src/runtimes/images.js';
import { startOperator } from '../harness/operator.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import {
  TEST_TIMEOUT_MS,
  apply,
  canaryModelDeployment,
  endSuite,
  listObjects,
  modelVersion,
  startE2EOperator,
  waiter,
  withLines,
  type Operator,
} from '../harness/e2e.js';

const MIRROR = 'registry.example.com/mirror';
const operators: Operator[] = [];
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

beforeAll(async () => {
  ns = await tempNamespace('e2e-images');
  // One archive (fetch-model and unpack-model) and one plain file.
  await apply(ns.name, modelVersion('digits', '1.0.0'));
  const archive = modelVersion('digits', '2.0.0');
  archive.spec.storageUri = 's3://models/digits/2.0.0/model.tar.gz';
  await apply(ns.name, archive);
});
afterAll(async () => {
  await endSuite('images', ns, operators);
}, TEST_TIMEOUT_MS);

/** Images and the model store of the revision Deployments of `md`, once there is one per version. */
async function rendered(md: string, versions: number): Promise<{ images: string[]; store: unknown[] }> {
  const ds = await until(
    `${versions} revision Deployment(s) of ${md}`,
    async () => {
      const list = await listObjects<V1Deployment>(ns.name, 'deployments', `modelship.io/deployment=${md}`);
      return list.length === versions && list;
    },
    { md },
  );
  const pods = ds.map((d) => d.spec!.template.spec!);
  return {
    images: [
      ...new Set(pods.flatMap((p) => [...(p.initContainers ?? []), ...p.containers].map((c) => c.image!))),
    ].sort(),
    store: pods.map((p) => p.volumes!.find((v) => v.name === 'model-store')!.emptyDir),
  };
}

/** Rolls `md` to 1.0.0 (a file), then to 2.0.0 (an archive), so both kinds of fetch are rendered. */
async function twoRevisions(md: string): Promise<void> {
  const at = (version: string) =>
    canaryModelDeployment({
      name: md,
      version,
      steps: [{ setWeight: 50 }, { pause: {} }],
      replicas: 1,
      spec: { model: 'digits' },
    });
  await apply(ns.name, at('1.0.0'));
  await rendered(md, 1);
  await apply(ns.name, at('2.0.0'));
}

test(
  'by default: the images of src/runtimes/images.ts, and the default size limit',
  async () => {
    op = startE2EOperator(ns.name);
    operators.push(op);
    await twoRevisions('plain');
    const r = await rendered('plain', 2);
    expect(r.images).toEqual([DEFAULT_IMAGES.fetchS3, DEFAULT_IMAGES.unpack, DEFAULT_IMAGES.triton].sort());
    expect(r.store).toEqual([
      { sizeLimit: DEFAULT_MODEL_STORE_SIZE_LIMIT },
      { sizeLimit: DEFAULT_MODEL_STORE_SIZE_LIMIT },
    ]);
    // The next operator would render it anew (other images) and roll it out: out of its way.
    await kubectlOk(['delete', 'modeldeployment', 'plain', '-n', ns.name]);
    await op.stop();
  },
  TEST_TIMEOUT_MS,
);

test(
  'with mirrors (flags and an environment variable) and another limit: those, and nothing else',
  async () => {
    const digest = `@sha256:${'0'.repeat(64)}`;
    op = withLines(
      startOperator(
        [
          '--unready-grace',
          '2s',
          '--listen=',
          '--namespaces',
          ns.name,
          `--image-triton=${MIRROR}/tritonserver:24.08-py3${digest}`,
          `--image-fetch-s3=${MIRROR}/aws-cli:2.17.0${digest}`,
          '--model-store-size-limit=200Gi',
        ],
        { MODELSHIP_IMAGE_UNPACK: `${MIRROR}/busybox:1.37.0${digest}` },
      ),
    );
    operators.push(op);
    await twoRevisions('mirrored');
    const r = await rendered('mirrored', 2);
    expect(r.images).toEqual(
      [
        `${MIRROR}/aws-cli:2.17.0${digest}`,
        `${MIRROR}/busybox:1.37.0${digest}`,
        `${MIRROR}/tritonserver:24.08-py3${digest}`,
      ].sort(),
    );
    expect(r.store).toEqual([{ sizeLimit: '200Gi' }, { sizeLimit: '200Gi' }]);
  },
  TEST_TIMEOUT_MS,
);
