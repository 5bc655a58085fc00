/**
 * A 3-way experiment end to end on the real data plane: real Triton servers (each answers with the
 * version it was built as), the real Gateway (Traefik) splitting by the HTTPRoute the operator
 * writes, and a real Prometheus scraping the servers, which the operator reads for the comparison.
 *
 * - 1.0.0 serves. The spec asks for an experiment: 1.1.0 (the challenger) at 30 %, the arm 1.2.0 at
 *   20 %, so 1.0.0 keeps 50 %, for 60 s.
 * - Once the three serve, N = 1000 requests through the Gateway are answered in shares that match
 *   the weights: each version's count lies within 5 binomial standard deviations of N·p
 *   (sd = sqrt(N·p·(1−p)): 1.0.0 500 ± 80, 1.1.0 300 ± 73, 1.2.0 200 ± 64). A gateway that picks a
 *   backend at random with those weights falls outside that with a chance below 1e-6 per version;
 *   Traefik's weighted round robin is closer still. Nothing else is answered (no errors).
 * - When the 60 s are over, status.experiment holds what Prometheus counted of each version since the
 *   start (within 25 % of what the test sent it: increase() extrapolates a little at the window's
 *   edges), no errors, a mean latency, and the winner on ErrorRate: with no errors anywhere the tie
 *   goes to the stable version. onEnd is Rollback: 1.0.0 answers every request again, and nothing
 *   was promoted.
 * - A second experiment, 1.1.0 at 30 % and 1.3.0 (a model that cannot load) at 20 %: 1.3.0 fails,
 *   gets weight 0 and its share goes to 1.0.0, while 1.1.0 runs on; 1000 requests through the Gateway
 *   are all answered, by 1.0.0 and 1.1.0 only, 70/30 within 5 sd.
 */
import type { ModelDeployment } from '../../src/api/index.js';
import {
  addModel,
  failingModel,
  onDataPlane,
  publish,
  pythonModelVersion,
  withDataPlane,
} from '../harness/dataplane.js';
import type { DataPlaneConfig } from '../harness/dataplane.js';
import {
  GROUP_VERSION,
  TEST_TIMEOUT_MS,
  apply,
  current,
  endSuite,
  getMd,
  routeWeights,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { binomialBound, localGateway, type LocalGateway } from '../harness/gateway.js';
import { tempNamespace } from '../harness/kube.js';
import { clientAgent, inferMany, tally, type Reply, type Target } from '../harness/serving.js';

const MD = 'trio';
const N = 1000;
const SIGMAS = 5;
const WEIGHTS: Record<string, number> = { '1.0.0': 50, '1.1.0': 30, '1.2.0': 20 };

withDataPlane((cfg) => {
  const url = process.env.MODELSHIP_PROMETHEUS_URL;
  if (!url) {
    test('a real Prometheus runs beside the cluster', () => {
      throw new Error(
        process.env.MODELSHIP_PROMETHEUS_STATE ??
          'MODELSHIP_PROMETHEUS_URL is not set: the jest global setup starts hack/cluster/prometheus.sh with the data plane',
      );
    });
    return;
  }
  suite(cfg, url);
});

function suite(cfg: DataPlaneConfig, promUrl: string): void {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let op: Operator | undefined;
  let gw: LocalGateway;
  let target: Target;
  const agent = clientAgent(8);
  const until = waiter(
    () => ns.name,
    () => op,
  );

  const spec = (
    version: string,
    experiment: object = { weight: 30, arms: [{ version: '1.2.0', weight: 20 }], duration: '60s' },
  ): object => ({
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version,
      replicas: 1,
      strategy: { type: 'Experiment', experiment, progressDeadlineSeconds: 30 },
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

  const release = async (version: string, model = addModel(version)): Promise<void> => {
    const { url, digest } = publish(cfg, `${ns.name}/${MD}/${version}/model.py`, model);
    await apply(ns.name, pythonModelVersion({ model: MD, version, url, digest }));
  };

  const status = async (
    pred: (m: ModelDeployment) => boolean,
    what: string,
    timeoutMs = 150_000,
  ): Promise<ModelDeployment> =>
    until(
      what,
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && pred(m) && m;
      },
      { md: MD, timeoutMs, intervalMs: 500 },
    );

  beforeAll(async () => {
    gw = await localGateway();
    ns = await tempNamespace('experiment');
    target = { url: gw.url, host: `${ns.name}.experiment.test`, model: MD };
    op = startE2EOperator(ns.name, ['--prometheus-url', promUrl, '--prometheus-timeout', '2s']);
  }, 900_000);

  afterAll(async () => {
    agent.destroy();
    await endSuite('experiment-dataplane', ns, op ? [op] : []);
  }, TEST_TIMEOUT_MS);

  test('a 3-way experiment through the real Gateway: shares match the weights, the comparison comes from Prometheus, and it ends on 1.0.0', async () => {
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await release(v);
    await apply(ns.name, spec('1.0.0'));
    await status((m) => m.status?.phase === 'Healthy', '1.0.0 Healthy');
    await until(
      '20 requests in a row answered by 1.0.0',
      async () =>
        (await inferMany(target, 20, { agent, concurrency: 4 })).every((r) => r.version === '1.0.0'),
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    await apply(ns.name, spec('1.1.0'));
    const running = await status((m) => m.status?.experiment?.phase === 'Running', 'experiment Running');
    const revisionOf = Object.fromEntries(
      running.status!.experiment!.arms!.map((a) => [a.version, a.revision]),
    );
    expect(await routeWeights(ns.name, MD)).toEqual({
      [revisionOf['1.0.0']!]: 50,
      [revisionOf['1.1.0']!]: 30,
      [revisionOf['1.2.0']!]: 20,
    });

    // Every request sent from here on is counted, to compare with what Prometheus says.
    const sent: Reply[] = [];
    // The Gateway applies the route's new table a moment after it is written: until each version
    // has answered, requests are warm-up (counted above, not judged below).
    await until(
      'the Gateway sends requests to all three versions',
      async () => {
        const batch = await inferMany(target, 50, { agent, concurrency: 4 });
        sent.push(...batch);
        const t = tally(batch);
        return Object.keys(WEIGHTS).every((v) => (t[v] ?? 0) > 0);
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const replies = await inferMany(target, N, { agent, concurrency: 8 });
    sent.push(...replies);
    const shares = tally(replies);
    const bounds = Object.fromEntries(
      Object.entries(WEIGHTS).map(([v, w]) => [v, binomialBound(N, w / 100, SIGMAS)]),
    );
    process.stderr.write(
      `experiment-dataplane.test: ${N} requests answered ${JSON.stringify(shares)}; bounds (${SIGMAS} sd) ${JSON.stringify(
        Object.fromEntries(Object.entries(bounds).map(([v, b]) => [v, [b.low, b.high]])),
      )}\n`,
    );
    expect(Object.keys(shares).sort()).toEqual(Object.keys(WEIGHTS).sort());
    for (const [v, b] of Object.entries(bounds)) {
      const answered = shares[v] ?? 0;
      expect({ version: v, answered, within: answered >= b.low && answered <= b.high }).toEqual({
        version: v,
        answered,
        within: true,
      });
    }

    // The end: the comparison, from Prometheus, and the traffic back on 1.0.0.
    const done = await status(
      (m) => m.status?.experiment?.phase === 'Concluded',
      'experiment Concluded',
      120_000,
    );
    const x = done.status!.experiment!;
    const total = tally(sent);
    process.stderr.write(
      `experiment-dataplane.test: sent ${JSON.stringify(total)}; status.experiment ${JSON.stringify(
        x.arms!.map((a) => [a.version, a.requests, a.errorRate, a.meanLatencyMs]),
      )}; ${x.result}\n`,
    );
    expect(x.metrics).toBeUndefined();
    for (const a of x.arms!) {
      const want = total[a.version] ?? 0;
      const got = a.requests ?? -1;
      expect({ version: a.version, got, want, within: got >= 0.75 * want && got <= 1.25 * want }).toEqual({
        version: a.version,
        got,
        want,
        within: true,
      });
      expect(a.errors).toBe(0);
      expect(a.errorRate).toBe('0.0000');
      expect(Number(a.meanLatencyMs)).toBeGreaterThan(0);
    }
    expect(x.winner).toMatchObject({ version: '1.0.0', role: 'Stable', value: '0.0000' });
    expect(done.status!.stableVersion).toBe('1.0.0');
    expect(done.status!.history!.some((h) => h.result === 'Promoted' && h.version !== '1.0.0')).toBe(false);
    await until(
      '20 requests in a row answered by 1.0.0 after the experiment',
      async () =>
        (await inferMany(target, 20, { agent, concurrency: 4 })).every((r) => r.version === '1.0.0'),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }, 300_000);

  test('a version that cannot load fails, and its share goes to 1.0.0: every request through the Gateway is answered, 70/30', async () => {
    await release('1.3.0', failingModel('1.3.0'));
    await apply(
      ns.name,
      spec('1.1.0', { weight: 30, arms: [{ version: '1.3.0', weight: 20 }], duration: '10m' }),
    );
    // Running only once every version that has not failed serves: 1.3.0 must have failed first.
    const md = await status(
      (m) =>
        m.status?.experiment?.phase === 'Running' &&
        m.status.experiment.arms?.find((a) => a.version === '1.3.0')?.state === 'Failed',
      'experiment Running with 1.3.0 Failed',
    );
    const arms = md.status!.experiment!.arms!;
    const failed = arms.find((a) => a.version === '1.3.0')!;
    process.stderr.write(`experiment-dataplane.test: 1.3.0 ${failed.state} (${failed.reason})\n`);
    expect(arms.map((a) => [a.version, a.weight])).toEqual([
      ['1.0.0', 70],
      ['1.1.0', 30],
      ['1.3.0', 0],
    ]);
    expect(md.status!.traffic!.map((t) => t.version)).not.toContain('1.3.0');
    const r = Object.fromEntries(arms.map((a) => [a.version, a.revision]));
    expect(await routeWeights(ns.name, MD)).toEqual({ [r['1.0.0']!]: 70, [r['1.1.0']!]: 30 });

    await until(
      'the Gateway sends requests to 1.1.0 again',
      async () => tally(await inferMany(target, 50, { agent, concurrency: 4 }))['1.1.0'] !== undefined,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const shares = tally(await inferMany(target, N, { agent, concurrency: 8 }));
    const b70 = binomialBound(N, 0.7, SIGMAS);
    const b30 = binomialBound(N, 0.3, SIGMAS);
    process.stderr.write(
      `experiment-dataplane.test: with 1.3.0 failed, ${N} requests answered ${JSON.stringify(shares)}; bounds (${SIGMAS} sd) 1.0.0 [${b70.low}, ${b70.high}], 1.1.0 [${b30.low}, ${b30.high}]\n`,
    );
    // Nothing but the two serving versions answered: no error from a backend without endpoints.
    expect(Object.keys(shares).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(shares['1.0.0']! >= b70.low && shares['1.0.0']! <= b70.high).toBe(true);
    expect(shares['1.1.0']! >= b30.low && shares['1.1.0']! <= b30.high).toBe(true);
  }, 300_000);
}
