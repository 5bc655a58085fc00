/**
 * Processing that runs, pinned, and rolled back with its version (issue 15 part 2; docs/runtimes.md
 * #processing), on the real data plane: real Triton serves each version as the ensemble modelship
 * generates (model -> post-process), the post-process step being the version's own handler
 * (labels.py) with its label map (labels.json), both shipped in a ConfigMap the version
 * references. Every request goes through the real Gateway to the model's name, as a client sends it.
 *
 * - 1.0.0 answers with 1.0.0's labels; 1.1.0, rolled out, with 1.1.0's.
 * - 1.1.0's ConfigMap edited while 1.1.0 serves: the ModelVersion reports ProcessingChanged naming
 *   the ConfigMap and the key, and the answers do not change, even from a pod started after the edit.
 * - 1.0.0's ConfigMap edited, then a rollback to 1.0.0: the answers carry 1.0.0's pinned labels.
 * - Bad input (a handler missing from the shipped files, a ConfigMap key that does not exist): a
 *   condition with the reason and the field, and the serving revision keeps answering.
 */
import type { ModelDeployment, ModelVersion } from '../../src/api/index.js';
import { addModel, onDataPlane, publish, withDataPlane, type DataPlaneConfig } from '../harness/dataplane.js';
import {
  GROUP_VERSION,
  TEST_TIMEOUT_MS,
  apply,
  condition,
  current,
  endSuite,
  getMd,
  getObject,
  routeWeights,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { localGateway, type LocalGateway } from '../harness/gateway.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import { clientAgent, inferMany, tally, type Reply, type Target } from '../harness/serving.js';

const MD = 'labeller';

/** The post-processing handler each version ships: the label of the largest output, from labels.json. */
const LABELS_PY = `import json
import os

import numpy as np


def postprocess(inputs, context):
    # Read per request: what a pod serves is exactly the file it was given.
    with open(os.path.join(context.directory, "labels.json")) as f:
        labels = json.load(f)
    out = inputs["OUTPUT0"]
    label = labels[str(int(np.argmax(out)))]
    return {"OUTPUT0": out, "MODEL_VERSION": inputs["MODEL_VERSION"], "LABEL": np.array([label], dtype=np.object_)}
`;

const T = (name: string, datatype: string, shape: number[]) => ({ name, datatype, shape });

withDataPlane(suite);

function suite(cfg: DataPlaneConfig): void {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let op: Operator | undefined;
  let gw: LocalGateway;
  let target: Target;
  const agent = clientAgent(8);
  const until = waiter(
    () => ns.name,
    () => op,
  );

  const labeller = (version: string, replicas = 1): object => ({
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version,
      replicas,
      strategy: { type: 'Canary', canary: { steps: [{ setWeight: 50 }], scaleDownDelaySeconds: 0 } },
      traffic: {
        router: 'gatewayApi',
        gatewayApi: {
          parentRefs: [{ name: gw.name, namespace: gw.namespace, sectionName: gw.listener }],
          hostnames: [target.host],
        },
      },
      pod: { ...onDataPlane(cfg), resources: { requests: { cpu: '100m', memory: '256Mi' } } },
    },
  });

  const labelsConfigMap = (name: string, label: string, extra: Record<string, string> = {}): object => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name },
    data: { 'labels.py': LABELS_PY, 'labels.json': JSON.stringify({ '3': label }), ...extra },
  });

  /** A version of the add model whose post-processing (handler and label map) is ConfigMap `cm`. */
  const release = async (
    version: string,
    cm: string,
    postprocess: { handler?: string; key?: string } = {},
  ): Promise<void> => {
    const { url, digest } = publish(cfg, `${ns.name}/${MD}/${version}/model.py`, addModel(version));
    const mv: ModelVersion = {
      apiVersion: GROUP_VERSION,
      kind: 'ModelVersion',
      metadata: { name: `${MD}-${version}` },
      spec: {
        model: MD,
        version,
        runtime: 'triton',
        format: 'python',
        storageUri: url,
        digest,
        // What clients send and get: the ensemble's tensors.
        interface: {
          inputs: [T('INPUT0', 'FP32', [4])],
          outputs: [T('OUTPUT0', 'FP32', [4]), T('MODEL_VERSION', 'BYTES', [1]), T('LABEL', 'BYTES', [1])],
        },
        processing: {
          postprocess: {
            handler: postprocess.handler ?? 'labels:postprocess',
            configMapRef: { name: cm, ...(postprocess.key ? { key: postprocess.key } : {}) },
          },
          // The model's own outputs, which the post-process step gets.
          modelInterface: { outputs: [T('OUTPUT0', 'FP32', [4]), T('MODEL_VERSION', 'BYTES', [1])] },
        },
      },
    } as ModelVersion;
    await apply(ns.name, mv);
  };

  const status = async (pred: (m: ModelDeployment) => boolean, what: string): Promise<ModelDeployment> =>
    until(
      what,
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && pred(m) && m;
      },
      { md: MD, timeoutMs: 180_000 },
    );

  /** `n` requests through the Gateway to the model's name, all answered by `version` with `label`. */
  const answeredBy = (version: string, label: string, n = 20): Promise<Reply[]> =>
    until(
      `${n} requests in a row through the Gateway answered by ${version} with label ${JSON.stringify(label)}`,
      async () => {
        const replies = await inferMany(target, n, { agent, concurrency: 4 });
        return replies.every((r) => r.version === version && r.label === label) && replies;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );

  const mvCondition = async (version: string, type: string) =>
    condition((await getObject<ModelVersion>(ns.name, 'modelversion', `${MD}-${version}`))?.status, type);

  beforeAll(async () => {
    gw = await localGateway();
    ns = await tempNamespace('processing');
    target = { url: gw.url, host: `${ns.name}.processing.test`, model: MD };
    op = startE2EOperator(ns.name);
  }, 900_000);

  afterAll(async () => {
    agent.destroy();
    await endSuite('processing', ns, op ? [op] : []);
  }, TEST_TIMEOUT_MS);

  let rev100: string;
  let rev110: string;

  test(
    '1.0.0 answers through its post-processing: the ensemble runs the handler and label map shipped in its ConfigMap',
    async () => {
      await apply(ns.name, labelsConfigMap('labels-1.0.0', 'cat (1.0.0)'));
      await release('1.0.0', 'labels-1.0.0');
      await apply(ns.name, labeller('1.0.0'));
      const md = await status(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.0.0',
        '1.0.0 Healthy',
      );
      rev100 = md.status!.stableRevision!;
      await answeredBy('1.0.0', 'cat (1.0.0)');
      // Pinned: the digest of what the version first saw, in its status.
      const mv = await getObject<ModelVersion>(ns.name, 'modelversion', `${MD}-1.0.0`);
      expect(mv?.status?.processing?.postprocess).toMatchObject({
        configMap: 'labels-1.0.0',
        digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        keys: { 'labels.json': expect.any(String), 'labels.py': expect.any(String) },
      });
      expect(await mvCondition('1.0.0', 'ProcessingPinned')).toMatchObject({
        status: 'True',
        reason: 'Pinned',
      });
    },
    TEST_TIMEOUT_MS * 2,
  );

  test(
    "rolled out, 1.1.0 answers with 1.1.0's label map",
    async () => {
      expect(rev100).toBeDefined();
      await apply(ns.name, labelsConfigMap('labels-1.1.0', 'tabby cat (1.1.0)'));
      await release('1.1.0', 'labels-1.1.0');
      await apply(ns.name, labeller('1.1.0'));
      const md = await status(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.1.0',
        '1.1.0 Healthy',
      );
      rev110 = md.status!.stableRevision!;
      expect(rev110).not.toBe(rev100);
      await answeredBy('1.1.0', 'tabby cat (1.1.0)', 40);
    },
    TEST_TIMEOUT_MS * 2,
  );

  test(
    "an edit of 1.1.0's ConfigMap while it serves is reported and never served, not even by a pod started after it",
    async () => {
      expect(rev110).toBeDefined();
      await apply(ns.name, labelsConfigMap('labels-1.1.0', 'EDITED under 1.1.0'));
      const c = await until(
        'ModelVersion 1.1.0 reports ProcessingChanged',
        async () => {
          const got = await mvCondition('1.1.0', 'ProcessingPinned');
          return got?.status === 'False' && got;
        },
        { timeoutMs: 90_000, intervalMs: 1000 },
      );
      expect(c.reason).toBe('ProcessingChanged');
      expect(c.message).toContain('labels-1.1.0');
      expect(c.message).toContain('spec.processing.postprocess.configMapRef');
      expect(c.message).toContain('labels.json (changed)');
      expect(c.message).not.toContain('labels.py');
      // A pod started now gets the revision's pinned copy, not the edited ConfigMap: a second replica
      // (a scale-up keeps the revision, and the first pod keeps serving while it starts, so the
      // stable revision never loses readiness). The Gateway spreads the requests over both pods.
      const before = (await listPods()).map((p) => p.metadata.uid);
      await apply(ns.name, labeller('1.1.0', 2));
      await until(
        'a second pod of 1.1.0, started after the edit, is Ready',
        async () => {
          const ready = (await listPods()).filter(
            (p) =>
              p.metadata.labels['modelship.io/revision'] === rev110 &&
              (p.status?.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True'),
          );
          return ready.length === 2 && ready.some((p) => !before.includes(p.metadata.uid));
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
      const replies = await answeredBy('1.1.0', 'tabby cat (1.1.0)', 40);
      process.stderr.write(`processing.test: after the edit: ${JSON.stringify(tally(replies))}\n`);
      const md = await getMd(ns.name, MD);
      expect(md.status).toMatchObject({ phase: 'Healthy', stableRevision: rev110 });
    },
    TEST_TIMEOUT_MS * 2,
  );

  test(
    "a rollback to 1.0.0 brings back 1.0.0's label map, although its ConfigMap was edited meanwhile",
    async () => {
      expect(rev100).toBeDefined();
      await apply(ns.name, labelsConfigMap('labels-1.0.0', 'EDITED under 1.0.0'));
      await apply(ns.name, labeller('1.0.0'));
      const md = await status(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.0.0',
        'back on 1.0.0, Healthy',
      );
      // The revision it left behind, with its pinned copy.
      expect(md.status!.stableRevision).toBe(rev100);
      await answeredBy('1.0.0', 'cat (1.0.0)', 40);
    },
    TEST_TIMEOUT_MS * 2,
  );

  test.each([
    {
      what: 'a handler whose module is not in the shipped files',
      version: '1.3.0',
      cm: 'labels-1.3.0',
      postprocess: { handler: 'nolabels:postprocess' },
      reason: 'ProcessingHandlerNotFound',
      field: 'spec.processing.postprocess.handler',
    },
    {
      what: 'a ConfigMap key that does not exist',
      version: '1.4.0',
      cm: 'labels-1.4.0',
      postprocess: { key: 'labels.yaml' },
      reason: 'ConfigMapKeyNotFound',
      field: 'spec.processing.postprocess.configMapRef.key',
    },
  ])(
    'bad input, $what: a condition naming the field, and the serving revision keeps answering',
    async ({ version, cm, postprocess, reason, field }) => {
      expect(rev100).toBeDefined();
      await apply(ns.name, labelsConfigMap(cm, `never (${version})`));
      await release(version, cm, postprocess);
      await apply(ns.name, labeller(version));
      const md = await status(
        (m) =>
          condition(m.status, 'Degraded')?.status === 'True' &&
          condition(m.status, 'Degraded')?.reason === reason,
        `Degraded, reason ${reason}`,
      );
      expect(condition(md.status, 'Degraded')!.message).toContain(field);
      expect(md.status).toMatchObject({ stableRevision: rev100, stableVersion: '1.0.0' });
      expect(md.status!.canaryRevision).toBeUndefined();
      expect(await routeWeights(ns.name, MD)).toEqual({ [rev100]: 100 });
      await answeredBy('1.0.0', 'cat (1.0.0)', 20);
    },
    TEST_TIMEOUT_MS,
  );

  interface PodLite {
    metadata: { uid: string; labels: Record<string, string> };
    status?: { conditions?: Array<{ type: string; status: string }> };
  }
  async function listPods(): Promise<PodLite[]> {
    return (JSON.parse(await kubectlOk(['get', 'pods', '-n', ns.name, '-o', 'json'])) as { items: PodLite[] })
      .items;
  }
}
