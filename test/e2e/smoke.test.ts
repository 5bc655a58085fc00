/**
 * The pre-traffic gates on real components (docs/rollouts.md, "Pre-traffic gates"): real Triton
 * servers on the data plane, the real Gateway (Traefik) in front, a real webhook receiver on
 * loopback. Clients send KServe v2 requests through the Gateway the whole time (each reply says
 * which version answered). A version whose model answers other than its ModelVersion's samples is
 * reverted with SmokeTestFailed, and not one client request reached it; a version whose loaded
 * interface is not the declared one is reverted with InterfaceMismatch, likewise before any
 * traffic; a webhook gate that answers 503 holds a good version at weight 0, and once it answers
 * 200 the version takes traffic and is promoted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ModelDeployment, ModelVersion } from '../../src/api/index.js';
import {
  addModel,
  onDataPlane,
  publish,
  pythonModelVersion,
  withDataPlane,
  type DataPlaneConfig,
} from '../harness/dataplane.js';
import {
  GROUP_VERSION,
  Recorder,
  TEST_TIMEOUT_MS,
  apply,
  current,
  endSuite,
  getMd,
  paths,
  routeWeights,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { localGateway, type LocalGateway } from '../harness/gateway.js';
import { kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';
import { LoadGenerator, clientAgent, inferMany, tally, type Target } from '../harness/serving.js';

const MD = 'checked';

/** addModel with another offset: OUTPUT0 = INPUT0 + offset. A model that loads and answers, wrongly. */
function offsetModel(version: string, offset: number): string {
  return addModel(version).replace('(x + 1)', `(x + ${offset})`);
}

/**
 * addModel whose auto_complete_config adds a second required input: Triton loads a model whose
 * interface is not the one the ModelVersion declares (and generated config.pbtxt says).
 */
function extraInputModel(version: string): string {
  return addModel(version).replace(
    'class TritonPythonModel:\n',
    `class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        auto_complete_model_config.add_input({"name": "INPUT1", "data_type": "TYPE_FP32", "dims": [4]})
        return auto_complete_model_config

`,
  );
}

/** The sample a version must answer: OUTPUT0 = INPUT0 + 1 and its own version. */
const smokeTest = (version: string) => ({
  timeout: '5s',
  requests: [
    {
      name: 'adds-one',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }],
      expected: [
        { name: 'OUTPUT0', data: [2, 3, 4, 5], absoluteTolerance: 0.001 },
        { name: 'MODEL_VERSION', data: [version] },
      ],
    },
  ],
});

/** A webhook receiver on loopback: records each call, answers `status`. */
class Receiver {
  status = 503;
  calls: Array<Record<string, unknown>> = [];
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        this.calls.push(JSON.parse(body) as Record<string, unknown>);
      } catch {
        this.calls.push({ raw: body });
      }
      res.writeHead(this.status, { 'content-type': 'text/plain' });
      res.end(this.status === 200 ? 'evaluation passed' : 'evaluation still running');
    });
  });
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/gate`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
  of(version: string) {
    return this.calls.filter((c) => c.version === version);
  }
}

withDataPlane(suite);

function suite(cfg: DataPlaneConfig): void {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let op: Operator | undefined;
  let gw: LocalGateway;
  let target: Target;
  let mds: Recorder<ModelDeployment>;
  const receiver = new Receiver();
  let gateUrl: string;
  const agent = clientAgent(8);
  const until = waiter(
    () => ns.name,
    () => op,
  );

  const checked = (version: string): object => ({
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version,
      replicas: 1,
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }], scaleDownDelaySeconds: 0 },
        gates: [{ name: 'offline-eval', url: gateUrl, interval: '1s', timeout: '2s' }],
      },
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

  const release = async (version: string, model: string): Promise<void> => {
    const { url, digest } = publish(cfg, `${ns.name}/${MD}/${version}/model.py`, model);
    const mv = pythonModelVersion({ model: MD, version, url, digest });
    await apply(ns.name, { ...mv, spec: { ...mv.spec, smokeTest: smokeTest(version) } } as ModelVersion);
  };

  const status = (pred: (m: ModelDeployment) => boolean, what: string): Promise<ModelDeployment> =>
    until(
      what,
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && pred(m) && m;
      },
      { md: MD, timeoutMs: 150_000, intervalMs: 300 },
    );

  const servedOnlyBy = (version: string): Promise<true> =>
    until(
      `20 requests in a row through the Gateway answered by ${version}`,
      async () =>
        (await inferMany(target, 20, { agent, concurrency: 4 })).every((r) => r.version === version),
      { timeoutMs: 30_000, intervalMs: 200 },
    );

  /** Every status the ModelDeployment had while `version` was its canary. */
  const whileCanary = (version: string): ModelDeployment[] =>
    mds.of(MD).flatMap((e) => (e.object.status?.canaryVersion === version ? [e.object] : []));

  const warnings = async (): Promise<string[]> =>
    (
      await kubectlOk([
        'get',
        'events',
        '-n',
        ns.name,
        '--field-selector',
        `involvedObject.name=${MD},type=Warning`,
        '-o',
        'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}',
      ])
    )
      .trim()
      .split('\n')
      .filter(Boolean);

  /**
   * Rolls out `version` while clients send requests through the Gateway; waits for the revert.
   * Returns the replies: none may come from `version`.
   */
  const revertedBeforeTraffic = async (version: string, reason: string): Promise<ModelDeployment> => {
    const load = new LoadGenerator(target, { concurrency: 2 }).start();
    let md: ModelDeployment;
    let replies: Awaited<ReturnType<LoadGenerator['stop']>>;
    try {
      await apply(ns.name, checked(version));
      md = await status(
        (m) => m.status?.phase === 'RolledBack' && m.status.lastRollback?.from?.version === version,
        `a rollback from ${version}`,
      );
    } finally {
      replies = await load.stop();
    }
    process.stderr.write(`smoke.test: while ${version} was tried: ${JSON.stringify(tally(replies))}\n`);
    expect(replies.length).toBeGreaterThan(20);
    // Not one client request reached the version; every one was answered by the stable one.
    expect(tally(replies)).toEqual({ '1.0.0': replies.length });
    const s = md.status!;
    expect(s.lastRollback).toMatchObject({ reason, to: { version: '1.0.0' } });
    expect(s.stableVersion).toBe('1.0.0');
    expect(s.traffic).toEqual([{ revision: s.stableRevision, version: '1.0.0', weight: 100 }]);
    expect(s.history?.at(-1)).toMatchObject({ version, result: 'RolledBack', reason });
    // The canary never had a weight, in any status written while it ran.
    expect(whileCanary(version).length).toBeGreaterThan(0);
    expect(whileCanary(version).every((m) => (m.status?.canaryWeight ?? 0) === 0)).toBe(true);
    const failed = s.lastRollback!.from!.revision!;
    await until(`the failed revision ${failed} scaled to 0`, async () => {
      const d = JSON.parse(
        await kubectlOk(['get', 'deployment', '-n', ns.name, `${MD}-${failed}`, '-o', 'json']),
      ) as { spec?: { replicas?: number } };
      return d.spec?.replicas === 0;
    });
    expect((await warnings()).some((w) => w.startsWith('RolledBack') && w.includes(version))).toBe(true);
    // The webhook gate comes after the failed check: it was never asked about this version.
    expect(receiver.of(version)).toEqual([]);
    return md;
  };

  beforeAll(async () => {
    gw = await localGateway();
    gateUrl = await receiver.start();
    ns = await tempNamespace('smoke');
    target = { url: gw.url, host: `${ns.name}.smoke.test`, model: MD };
    mds = await waitFor('the ModelDeployment API to answer a list and watch', () =>
      Recorder.start<ModelDeployment>(paths.modelDeployments(ns.name)),
    );
    op = startE2EOperator(ns.name, ['--pre-traffic-checks=true']);
  }, 900_000);

  afterAll(async () => {
    agent.destroy();
    await mds?.stop();
    await receiver.stop();
    await endSuite('smoke', ns, op ? [op] : []);
  }, TEST_TIMEOUT_MS);

  test(
    '1.0.0, the first version, serves without gates (there is no stable revision to keep traffic on)',
    async () => {
      await release('1.0.0', addModel('1.0.0'));
      await apply(ns.name, checked('1.0.0'));
      const md = await status((m) => m.status?.phase === 'Healthy', '1.0.0 Healthy');
      expect(await routeWeights(ns.name, MD)).toEqual({ [md.status!.stableRevision!]: 100 });
      expect(md.status?.gates).toBeUndefined();
      await servedOnlyBy('1.0.0');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '1.1.0 answers other than its samples: reverted with SmokeTestFailed, the first difference in the message, no client request reached it',
    async () => {
      await release('1.1.0', offsetModel('1.1.0', 2));
      const md = await revertedBeforeTraffic('1.1.0', 'SmokeTestFailed');
      const msg = md.status!.lastRollback!.message!;
      expect(msg).toContain('the pre-traffic checks of version 1.1.0');
      expect(msg).toMatch(
        /request adds-one on pod \S+ \(10\.[0-9.]+\): output OUTPUT0\[0\]: expected 2, got 3/,
      );
      expect(md.status?.gates).toMatchObject({
        revision: md.status!.lastRollback!.from!.revision,
        beforeTraffic: { result: 'Failed', reason: 'SmokeTestFailed' },
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '1.3.0 loads an interface other than the declared one: reverted with InterfaceMismatch before any traffic',
    async () => {
      await release('1.3.0', extraInputModel('1.3.0'));
      const md = await revertedBeforeTraffic('1.3.0', 'InterfaceMismatch');
      expect(md.status!.lastRollback!.message).toContain('loaded input INPUT1 (FP32 [4]) is not declared');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '1.2.0 passes its checks; the webhook gate answering 503 holds it at weight 0; answering 200 lets it take traffic and be promoted',
    async () => {
      receiver.status = 503;
      await release('1.2.0', addModel('1.2.0'));
      const load = new LoadGenerator(target, { concurrency: 2 }).start();
      let held: ModelDeployment;
      let heldReplies: Awaited<ReturnType<LoadGenerator['stop']>>;
      try {
        await apply(ns.name, checked('1.2.0'));
        held = await status(
          (m) =>
            m.status?.canaryVersion === '1.2.0' &&
            m.status.gates?.beforeTraffic?.reason === 'GateRejected' &&
            receiver.of('1.2.0').length >= 2,
          '1.2.0 held by the webhook gate (asked twice)',
        );
      } finally {
        heldReplies = await load.stop();
      }
      expect(held.status?.canaryWeight ?? 0).toBe(0);
      expect(held.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('GateRejected');
      expect(held.status?.gates?.beforeTraffic?.message).toContain('answered 503');
      expect(tally(heldReplies)).toEqual({ '1.0.0': heldReplies.length });
      expect(receiver.of('1.2.0')[0]).toEqual({
        stage: 'BeforeTraffic',
        gate: 'offline-eval',
        namespace: ns.name,
        modelDeployment: MD,
        model: MD,
        version: '1.2.0',
        revision: held.status!.canaryRevision,
      });

      receiver.status = 200;
      const md = await status(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.2.0',
        '1.2.0 promoted',
      );
      // Traffic moved only after every check passed: the record says which.
      const gates = md.status!.gates!;
      expect(gates.beforeTraffic).toMatchObject({ result: 'Passed' });
      expect(gates.beforeTraffic!.message).toContain(
        'the loaded interface matches the declared one on 1 pod(s)',
      );
      expect(gates.beforeTraffic!.message).toContain('1 sample request(s) answered as expected on 1 pod(s)');
      expect(gates.beforeTraffic!.message).toContain('gate offline-eval: ');
      expect(whileCanary('1.2.0').some((m) => m.status?.canaryWeight === 50)).toBe(true);
      await servedOnlyBy('1.2.0');
    },
    TEST_TIMEOUT_MS,
  );
}
