/**
 * Real serving through the real Gateway (docs/data-plane.md, docs/routers.md): a ModelDeployment
 * with router gatewayApi attached to the local Gateway (Traefik), its pods on the real data plane
 * (real Triton, a Python-backend model whose reply says which version answered). Every request here
 * is a KServe v2 inference request sent to the Gateway, which routes it by the HTTPRoute modelship
 * wrote to the EndpointSlice addresses of the revisions' pods: 1.0.0 answers; a canary to 1.1.0 at
 * 25 % gets a share of the replies within a binomial bound; `x-model-version` pins a version; 1.1.0
 * promoted takes all traffic; 1.2.0, whose model fails to load, never answers a request through the
 * Gateway (the others keep being served meanwhile) and is reverted.
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
  promote,
  routeWeights,
  sameWeights,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { binomialBound, localGateway, type LocalGateway } from '../harness/gateway.js';
import { tempNamespace } from '../harness/kube.js';
import {
  LoadGenerator,
  clientAgent,
  inferMany,
  inferThrough,
  ok,
  tally,
  type Reply,
  type Target,
} from '../harness/serving.js';

const MD = 'summer';

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

  /** One replica on the data plane's node, served through the local Gateway under the namespace's own hostname. */
  const summer = (version: string): object => ({
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version,
      replicas: 1,
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 25 }, { pause: {} }], scaleDownDelaySeconds: 0 },
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
    await apply(ns.name, pythonModelVersion({ model: MD, version, url, digest }));
  };

  const status = async (pred: (m: ModelDeployment) => boolean, what: string): Promise<ModelDeployment> =>
    until(
      what,
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && pred(m) && m;
      },
      { md: MD, timeoutMs: 120_000 },
    );

  /** Waits until `n` requests in a row through the Gateway are all answered by `version`. */
  const servedOnlyBy = (version: string, n = 20): Promise<true> =>
    until(
      `${n} requests in a row through the Gateway answered by ${version}`,
      async () => (await inferMany(target, n, { agent, concurrency: 4 })).every((r) => r.version === version),
      { timeoutMs: 30_000, intervalMs: 200 },
    );

  beforeAll(async () => {
    gw = await localGateway();
    ns = await tempNamespace('serving');
    target = { url: gw.url, host: `${ns.name}.serving.test`, model: MD };
    op = startE2EOperator(ns.name);
  }, 900_000);

  afterAll(async () => {
    agent.destroy();
    await endSuite('serving', ns, op ? [op] : []);
  }, TEST_TIMEOUT_MS);

  let stable: string;

  test(
    '1.0.0 answers real inference requests through the Gateway',
    async () => {
      await release('1.0.0', addModel('1.0.0'));
      await apply(ns.name, summer('1.0.0'));
      const md = await status(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.0.0',
        '1.0.0 Healthy',
      );
      stable = md.status!.stableRevision!;
      expect(await routeWeights(ns.name, MD)).toEqual({ [stable]: 100 });

      // Traefik applies a route a second or two after it is written.
      await servedOnlyBy('1.0.0');
      const r = await inferThrough(target, { agent });
      expect(r).toMatchObject({ status: 200, version: '1.0.0' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a canary to 1.1.0 at 25 % answers its share of requests through the Gateway; x-model-version pins a version',
    async () => {
      expect(stable).toBeDefined();
      await release('1.1.0', addModel('1.1.0'));
      // A client sends requests the whole time the canary starts: none may fail. (The weight moves
      // only once the canary's pods are endpoints of its Service; moved on Ready alone, the Gateway
      // answered 503 for the share it sent to a Service with no endpoint yet.)
      const during = new LoadGenerator(target, { concurrency: 2 }).start();
      let startReplies: Reply[];
      let canary: string;
      try {
        await apply(ns.name, summer('1.1.0'));
        const md = await status(
          (m) => m.status?.canaryVersion === '1.1.0' && m.status.canaryWeight === 25,
          '1.1.0 canary at 25 %',
        );
        canary = md.status!.canaryRevision!;
        expect(sameWeights(await routeWeights(ns.name, MD), { [stable]: 75, [canary]: 25 })).toBe(true);
        // The canary answers once Traefik has applied the weights (before, it had weight 0 and no share).
        await until(
          'a request through the Gateway answered by the canary',
          async () => (await inferMany(target, 8, { agent })).some((r) => r.version === '1.1.0'),
          { timeoutMs: 30_000, intervalMs: 100 },
        );
      } finally {
        startReplies = await during.stop();
      }
      process.stderr.write(
        `serving.test: while the canary started: ${JSON.stringify(tally(startReplies))}\n`,
      );
      expect(startReplies.length).toBeGreaterThan(100);
      expect(startReplies.filter((r) => !ok(r))).toEqual([]);

      // 400 requests, 8 at a time. A correct random 25 % split puts the canary's count within 4
      // standard deviations of 100 (sd = sqrt(400 * 0.25 * 0.75) = 8.66, so 65..135) in all but
      // about 6 of 100,000 runs. Traefik's weighted round robin is deterministic, so the count is
      // exact in practice; the bound is what the Gateway API promises (weights, not an order).
      const n = 400;
      const replies = await inferMany(target, n, { agent, concurrency: 8 });
      const counts = tally(replies);
      process.stderr.write(
        `serving.test: ${n} requests at 75/25 through the Gateway: ${JSON.stringify(counts)}\n`,
      );
      expect(replies.every(ok)).toBe(true);
      const bound = binomialBound(n, 0.25);
      expect(counts['1.1.0']).toBeGreaterThanOrEqual(bound.low);
      expect(counts['1.1.0']).toBeLessThanOrEqual(bound.high);
      expect((counts['1.0.0'] ?? 0) + (counts['1.1.0'] ?? 0)).toBe(n);

      // x-model-version pins either version, whatever the split.
      for (const version of ['1.0.0', '1.1.0']) {
        const pinned = await inferMany(target, 50, { agent, headers: { 'X-Model-Version': version } });
        expect(tally(pinned)).toEqual({ [version]: 50 });
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'promoted, 1.1.0 answers every request through the Gateway',
    async () => {
      await promote(ns.name, MD);
      const md = await status(
        (m) =>
          m.status?.phase === 'Healthy' && m.status.stableVersion === '1.1.0' && !m.status.canaryRevision,
        '1.1.0 promoted',
      );
      stable = md.status!.stableRevision!;
      expect(await routeWeights(ns.name, MD)).toEqual({ [stable]: 100 });
      await servedOnlyBy('1.1.0', 40);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '1.2.0, whose model fails to load, never answers through the Gateway and is reverted; 1.1.0 serves every request meanwhile',
    async () => {
      expect(stable).toBeDefined();
      await release('1.2.0', failingModel('1.2.0'));
      // Clients that do not pin a version, and one that asks for 1.2.0 by name, for the whole episode.
      const load = new LoadGenerator(target, { concurrency: 4 }).start();
      const pinned = new LoadGenerator(target, {
        concurrency: 1,
        headers: { 'X-Model-Version': '1.2.0' },
      }).start();
      let replies: ReturnType<LoadGenerator['between']>;
      let asked: typeof replies;
      try {
        await apply(ns.name, summer('1.2.0'));
        const md = await status(
          (m) => m.status?.phase === 'RolledBack' && m.status.lastRollback?.from?.version === '1.2.0',
          'a rollback from 1.2.0',
        );
        expect(md.status).toMatchObject({ stableRevision: stable, stableVersion: '1.1.0' });
        expect(md.status!.lastRollback).toMatchObject({
          to: { version: '1.1.0' },
          reason: 'CrashLoopBackOff',
        });
      } finally {
        replies = await load.stop();
        asked = await pinned.stop();
      }
      process.stderr.write(
        `serving.test: during the 1.2.0 episode: ${JSON.stringify(tally(replies))}; pinned to 1.2.0: ${JSON.stringify(tally(asked))}\n`,
      );
      expect(replies.length).toBeGreaterThan(100);
      // Nothing was answered by 1.2.0, and no client that did not ask for it saw a failure.
      expect(tally(replies)).toEqual({ '1.1.0': replies.length });
      // A client that asks for 1.2.0 by name (docs/routers.md#header-routing): while 1.2.0 is not in
      // the weight table (before its canary starts, after the revert) the header matches no rule and
      // the request takes the split, answered by 1.1.0; while it is in the table at weight 0 with no
      // ready endpoint, the Gateway refuses it (503). Never an answer from 1.2.0.
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.some((r) => r.version === '1.2.0')).toBe(false);
      const byWho = tally(asked);
      expect(Object.keys(byWho).filter((k) => k !== '1.1.0' && k !== 'HTTP 503')).toEqual([]);
      expect(byWho['HTTP 503']).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS,
  );
}
