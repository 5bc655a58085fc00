/**
 * modelship's revisions served for real (docs/data-plane.md): the pods run on the data plane's node
 * as real processes — the rendered fetch-model init container downloads the model with curl from an
 * HTTPS model store and checks its digest, then the real Triton Inference Server serves it with the
 * rendered arguments, config.pbtxt and mounts — the rendered probes decide Ready, the real
 * kube-controller-manager builds EndpointSlices from the pods' addresses, and a KServe v2 request to
 * that address is answered by the model. Then two versions that fail for real are reverted: one whose
 * model fails to load in Triton, one whose artifact does not match spec.digest. Last, a version in
 * the S3 store fetched with the credentials spec.pod.storageCredentials names: wrong keys fail for
 * real and are reverted, the right ones serve it.
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import {
  containerLogs,
  failingModel,
  addModel,
  infer,
  onDataPlane,
  publish,
  publishS3,
  pythonModelVersion,
  s3Env,
  withDataPlane,
  type DataPlaneConfig,
} from '../harness/dataplane.js';
import {
  GROUP_VERSION,
  Recorder,
  TEST_TIMEOUT_MS,
  apply,
  condition,
  current,
  endSuite,
  getMd,
  getObject,
  listObjects,
  podReady,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { tempNamespace } from '../harness/kube.js';

const MD = 'adder';

interface EndpointSlice {
  metadata?: { name?: string; labels?: Record<string, string> };
  endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }>;
  ports?: Array<{ name?: string; port?: number }>;
}

withDataPlane(suite);

function suite(cfg: DataPlaneConfig): void {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let op: Operator | undefined;
  let slices: Recorder<EndpointSlice>;
  let pods: Recorder<V1Pod>;
  const until = waiter(
    () => ns.name,
    () => op,
  );

  /** The ModelDeployment: one replica on the data plane's node, a canary that waits at 50 %. */
  const adder = (version: string): object => ({
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version,
      replicas: 1,
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 50 }, { pause: {} }], scaleDownDelaySeconds: 0 },
      },
      traffic: { router: 'service' },
      pod: {
        ...onDataPlane(cfg),
        // Bookkeeping for the scheduler; the data plane enforces no limits.
        resources: { requests: { cpu: '100m', memory: '256Mi' } },
      },
    },
  });

  const podsOf = async (revision: string): Promise<V1Pod[]> =>
    listObjects<V1Pod>(ns.name, 'pods', `modelship.io/deployment=${MD},modelship.io/revision=${revision}`);

  /** Every pod the revision ever had (a reverted revision's pods are gone by the time it is reverted). */
  const podNamesEver = (revision: string): string[] => [
    ...new Set(
      pods.events
        .filter((e) => e.object.metadata?.labels?.['modelship.io/revision'] === revision)
        .map((e) => e.object.metadata!.name!),
    ),
  ];
  const logsOf = (revision: string, container: string): string[] =>
    podNamesEver(revision).flatMap((name) => containerLogs(cfg, ns.name, name, container));

  /** Every address any EndpointSlice of the revision's Service ever listed as ready. */
  const everReady = (revision: string): string[] =>
    slices.events
      .filter((e) => e.object.metadata?.labels?.['kubernetes.io/service-name'] === `${MD}-${revision}`)
      .flatMap((e) => (e.object.endpoints ?? []).filter((x) => x.conditions?.ready === true))
      .flatMap((x) => x.addresses);

  const rolledBackFrom = async (version: string): Promise<ModelDeployment> =>
    until(
      `a rollback from ${version}`,
      async () => {
        const m = await getMd(ns.name, MD);
        return (
          current(m) &&
          m.status?.phase === 'RolledBack' &&
          m.status.lastRollback?.from?.version === version &&
          m
        );
      },
      { md: MD, timeoutMs: 90_000 },
    );

  let stable: { revision: string; ip: string; port: number };

  beforeAll(async () => {
    ns = await tempNamespace('dataplane');
    slices = await Recorder.start<EndpointSlice>(
      `/apis/discovery.k8s.io/v1/namespaces/${ns.name}/endpointslices`,
    );
    pods = await Recorder.start<V1Pod>(`/api/v1/namespaces/${ns.name}/pods`);
    op = startE2EOperator(ns.name);
  });

  afterAll(async () => {
    await slices?.stop();
    await pods?.stop();
    await endSuite('dataplane', ns, op ? [op] : []);
  }, TEST_TIMEOUT_MS);

  test(
    '1.0.0 becomes Ready through its real readiness probe and answers a KServe v2 request at its EndpointSlice address',
    async () => {
      const { url, digest } = publish(cfg, `${ns.name}/${MD}/1.0.0/model.py`, addModel('1.0.0'));
      await apply(ns.name, pythonModelVersion({ model: MD, version: '1.0.0', url, digest }));
      const t0 = Date.now();
      await apply(ns.name, adder('1.0.0'));

      const md = await until(
        '1.0.0 Healthy',
        async () => {
          const m = await getMd(ns.name, MD);
          return current(m) && m.status?.phase === 'Healthy' && m.status.stableVersion === '1.0.0' && m;
        },
        { md: MD, timeoutMs: 120_000 },
      );
      const revision = md.status!.stableRevision!;
      const [pod] = await podsOf(revision);
      expect(pod).toBeDefined();
      process.stderr.write(`dataplane.test: 1.0.0 applied -> Healthy in ${Date.now() - t0} ms\n`);

      // The pod ran on the data plane's node, and Ready came from the probes the operator rendered.
      expect(pod!.spec?.nodeName).toBe(cfg.nodeName);
      expect(podReady(pod!)).toBe(true);
      const server = pod!.status?.containerStatuses?.find((c) => c.name === 'model-server');
      expect(server).toMatchObject({ ready: true, started: true, restartCount: 0 });
      expect(pod!.spec?.containers[0]?.readinessProbe?.httpGet?.path).toBe(`/v2/models/${MD}/ready`);
      const fetch = pod!.status?.initContainerStatuses?.find((c) => c.name === 'fetch-model');
      expect(fetch?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
      expect(containerLogs(cfg, ns.name, pod!.metadata!.name!, 'fetch-model').join('')).toContain(
        `modelship: digest ${digest} verified`,
      );
      const scheduled = new Date(
        pod!.status!.conditions!.find((c) => c.type === 'PodScheduled')!
          .lastTransitionTime as unknown as string,
      );
      const ready = new Date(
        pod!.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime as unknown as string,
      );
      const fetched = new Date(fetch!.state!.terminated!.finishedAt as unknown as string);
      const serverStarted = new Date(server!.state!.running!.startedAt as unknown as string);
      // Second precision (the status's timestamps); the startup probe's 10 s period dominates.
      process.stderr.write(
        `dataplane.test: 1.0.0 pod scheduled -> fetched ${fetched.getTime() - scheduled.getTime()} ms, ` +
          `-> model-server started ${serverStarted.getTime() - scheduled.getTime()} ms, -> Ready ${ready.getTime() - scheduled.getTime()} ms\n`,
      );

      // The real kube-controller-manager's EndpointSlice for the revision's Service names the pod's
      // address, ready; the Service's http port is the server's.
      const slice = await until('an EndpointSlice of the 1.0.0 Service with a ready endpoint', async () => {
        const all = await listObjects<EndpointSlice>(
          ns.name,
          'endpointslices.discovery.k8s.io',
          `kubernetes.io/service-name=${MD}-${revision}`,
        );
        return all.find((s) => (s.endpoints ?? []).some((e) => e.conditions?.ready));
      });
      const endpoint = slice.endpoints!.find((e) => e.conditions?.ready)!;
      expect(endpoint.addresses).toEqual([pod!.status!.podIP]);
      const port = slice.ports!.find((p) => p.name === 'http')!.port!;
      expect(port).toBe(8000);

      const r = await infer(endpoint.addresses[0]!, port, MD, [1, 2, 3, 4]);
      expect(r).toMatchObject({ status: 200, output: [2, 3, 4, 5], version: '1.0.0' });
      stable = { revision, ip: endpoint.addresses[0]!, port };
    },
    TEST_TIMEOUT_MS + 60_000,
  );

  test(
    '1.1.0, whose model fails to load, is never Ready and is reverted; no endpoint of it is ever ready',
    async () => {
      expect(stable).toBeDefined();
      const { url, digest } = publish(cfg, `${ns.name}/${MD}/1.1.0/model.py`, failingModel('1.1.0'));
      await apply(ns.name, pythonModelVersion({ model: MD, version: '1.1.0', url, digest }));
      await apply(ns.name, adder('1.1.0'));

      const md = await rolledBackFrom('1.1.0');
      const failed = md.status!.lastRollback!.from!.revision!;
      expect(md.status).toMatchObject({ stableRevision: stable.revision, stableVersion: '1.0.0' });
      expect(md.status!.lastRollback).toMatchObject({ to: { version: '1.0.0' }, reason: 'CrashLoopBackOff' });
      expect(condition(md.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
      // The reason carries Triton's own last words (its termination message, from its output).
      expect(md.status!.lastRollback!.message).toMatch(/model-server last exited with code [1-9]\d*.*load/);

      // What made it fail is Triton itself: it loaded the model, the model raised, Triton exited.
      const all = logsOf(failed, 'model-server').join('\n');
      expect(all).toContain('cannot load: the weights are corrupt');
      expect(all).toMatch(/failed to load 'adder'/);
      expect(everReady(failed)).toEqual([]);

      // 1.0.0 serves on.
      const r = await infer(stable.ip, stable.port, MD, [0, 0, 0, 1]);
      expect(r).toMatchObject({ status: 200, output: [1, 1, 1, 2], version: '1.0.0' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '1.2.0, whose artifact does not match spec.digest, fails in fetch-model and is reverted',
    async () => {
      expect(stable).toBeDefined();
      const { url } = publish(cfg, `${ns.name}/${MD}/1.2.0/model.py`, addModel('1.2.0'));
      const wrong = `sha256:${'0'.repeat(64)}`;
      await apply(ns.name, pythonModelVersion({ model: MD, version: '1.2.0', url, digest: wrong }));
      await apply(ns.name, adder('1.2.0'));

      const md = await rolledBackFrom('1.2.0');
      const failed = md.status!.lastRollback!.from!.revision!;
      expect(md.status).toMatchObject({ stableRevision: stable.revision, stableVersion: '1.0.0' });
      expect(md.status!.lastRollback).toMatchObject({ to: { version: '1.0.0' }, reason: 'CrashLoopBackOff' });
      expect(md.status!.lastRollback!.message).toContain('fetch-model');
      // ... and the fetch script's own words: the rollback says why, not only "back-off restarting".
      expect(md.status!.lastRollback!.message).toContain(`modelship: digest mismatch for ${url}`);

      // The rendered fetch script ran, downloaded the model, and refused it; the server never started.
      expect(podNamesEver(failed).length).toBeGreaterThan(0);
      expect(logsOf(failed, 'fetch-model').join('\n')).toContain(
        `modelship: digest mismatch for ${url}: spec.digest is ${wrong}`,
      );
      expect(logsOf(failed, 'model-server')).toEqual([]);
      expect(everReady(failed)).toEqual([]);

      const r = await infer(stable.ip, stable.port, MD, [1, 1, 1, 1]);
      expect(r).toMatchObject({ status: 200, output: [2, 2, 2, 2], version: '1.0.0' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "1.3.0 from s3:// with spec.pod.storageCredentials: wrong keys fail the fetch with the store's error and are reverted; the right keys serve it",
    async () => {
      expect(stable).toBeDefined();
      const { uri, digest } = publishS3(cfg, 'models', `${ns.name}/${MD}/1.3.0/model.py`, addModel('1.3.0'));
      await apply(ns.name, pythonModelVersion({ model: MD, version: '1.3.0', url: uri, digest }));
      // Secrets holding the AWS CLI's own variables: the store's endpoint and a key pair.
      const secret = (name: string, secretKey: string): object => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name },
        stringData: Object.fromEntries(
          s3Env(cfg).map((e) => [e.name, e.name === 'AWS_SECRET_ACCESS_KEY' ? secretKey : e.value]),
        ),
      });
      await apply(ns.name, secret('s3-wrong', 'not-the-secret-key'));
      await apply(ns.name, secret('s3-keys', cfg.s3.secretKey));
      const withKeys = (secretName: string): object => {
        const m = adder('1.3.0') as { spec: { pod: Record<string, unknown> } };
        m.spec.pod.storageCredentials = { secretName };
        return m;
      };

      // Wrong keys: the S3 store refuses the download, fetch-model fails for real, 1.3.0 is reverted
      // and its rollback says what the store said.
      await apply(ns.name, withKeys('s3-wrong'));
      const md = await rolledBackFrom('1.3.0');
      const failed = md.status!.lastRollback!.from!.revision!;
      expect(md.status).toMatchObject({ stableRevision: stable.revision, stableVersion: '1.0.0' });
      const logs = logsOf(failed, 'fetch-model').join('\n');
      expect(logs).toMatch(/403|Forbidden|SignatureDoesNotMatch|InvalidAccessKeyId/);
      expect(md.status!.lastRollback!.message).toContain('fetch-model last exited with code 1');
      expect(everReady(failed)).toEqual([]);

      // The right keys: a new revision (the Secret's name is part of the pod template) fetches from
      // the store, verifies the digest, and Triton serves 1.3.0 as the canary.
      await apply(ns.name, withKeys('s3-keys'));
      const canary = await until(
        '1.3.0 with the right keys as the canary at 50 %',
        async () => {
          const m = await getMd(ns.name, MD);
          return current(m) && m.status?.canaryVersion === '1.3.0' && m.status.canaryWeight === 50 && m;
        },
        { md: MD, timeoutMs: 90_000 },
      );
      const revision = canary.status!.canaryRevision!;
      expect(revision).not.toBe(failed);
      const [pod] = (await podsOf(revision)).filter(podReady);
      expect(pod).toBeDefined();
      expect(containerLogs(cfg, ns.name, pod!.metadata!.name!, 'fetch-model').join('')).toContain(
        `modelship: digest ${digest} verified`,
      );
      // The server container never had the keys.
      const d = await getObject<V1Deployment>(ns.name, 'deployment', `${MD}-${revision}`);
      expect(d!.spec!.template.spec!.containers[0]!.envFrom).toBeUndefined();
      const r = await infer(pod!.status!.podIP!, 8000, MD, [5, 6, 7, 8]);
      expect(r).toMatchObject({ status: 200, output: [6, 7, 8, 9], version: '1.3.0' });
    },
    TEST_TIMEOUT_MS,
  );
}
