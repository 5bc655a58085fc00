/**
 * Shadow traffic end to end on the real data plane, through the real Gateway (Traefik v3.6 with its
 * kubernetescrd provider, hack/cluster/gateway.sh): spec.strategy.canary.mirror with
 * traffic.gatewayApi.mirrorWith: TraefikService. Real Triton answers with the version it was built
 * as and counts what it served (nv_inference_request_success on its metrics port, 8002).
 *
 * - 1.0.0 serves; no TraefikService exists (no mirror, nothing to write).
 * - A rollout to 1.1.0 waits at a pause at weight 0 with a mirror of 50 %. The operator writes the
 *   TraefikService <md>-<stable>-mirror (main: 1.0.0's Service, mirror: 1.1.0's at 50 %), then points
 *   the route's stable backendRef to it. N = 400 requests through the Gateway: every answer is
 *   1.0.0's (clients never see the candidate's), 1.0.0's Triton served all N, and 1.1.0's Triton
 *   served N·p of copies within 5 binomial standard deviations (200 ± 50: a gateway that copied each
 *   request at random with p = 0.5 falls outside with a chance below 1e-6; Traefik's mirroring
 *   counts, so it is closer still). status.traffic gives 1.1.0 weight 0: copies are not traffic.
 *   Every request sent while the mirror is switched on is answered by 1.0.0.
 * - The mirror removed from the spec while the rollout waits: the route goes back to the Service,
 *   then the TraefikService is deleted; every request sent during the change is answered by 1.0.0
 *   (no error from a route naming a TraefikService Traefik has not loaded or has dropped), and
 *   1.1.0's counter does not move for N more requests.
 * - The mirror on again, and 1.1.0's pod deleted: while 1.1.0's Service has no serving endpoint,
 *   every request is still answered by 1.0.0 (Traefik runs with allowEmptyServices; without it, it
 *   drops the whole TraefikService, and the stable share with it).
 */
import http from 'node:http';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { gatewayApiRouter, type HTTPRoute } from '../../src/routers/gateway-api/router.js';
import type { TraefikService } from '../../src/routers/gateway-api/traefik-service.js';
import { addModel, onDataPlane, publish, pythonModelVersion, withDataPlane } from '../harness/dataplane.js';
import type { DataPlaneConfig } from '../harness/dataplane.js';
import {
  GROUP_VERSION,
  TEST_TIMEOUT_MS,
  apply,
  current,
  endSuite,
  getMd,
  getObject,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { binomialBound, localGateway, type LocalGateway } from '../harness/gateway.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import { LoadGenerator, clientAgent, inferMany, tally, type Target } from '../harness/serving.js';

const MD = 'shadow';
const N = 400;
const PERCENT = 50;
const SIGMAS = 5;
const ROUTE = 'httproutes.gateway.networking.k8s.io';
const TS = 'traefikservices.traefik.io';

withDataPlane(suite);

/** nv_inference_request_success of the model on one Triton pod, from its metrics port (8002). */
function servedBy(ip: string, model: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: ip, port: 8002, path: '/metrics', timeout: 10_000 }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          const line = text
            .split('\n')
            .find((l) => l.startsWith('nv_inference_request_success{') && l.includes(`model="${model}"`));
          resolve(line ? Number(line.split(' ').at(-1)) : 0);
        });
      })
      .on('error', reject);
  });
}

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

  const spec = (version: string, mirror: boolean): object => ({
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version,
      replicas: 1,
      strategy: {
        type: 'Canary',
        canary: {
          steps: [{ pause: {} }],
          ...(mirror ? { mirror: { percent: PERCENT } } : {}),
          scaleDownDelaySeconds: 0,
        },
      },
      traffic: {
        router: 'gatewayApi',
        gatewayApi: {
          parentRefs: [{ name: gw.name, namespace: gw.namespace, sectionName: gw.listener }],
          hostnames: [target.host],
          mirrorWith: 'TraefikService',
        },
      },
      pod: { ...onDataPlane(cfg), resources: { requests: { cpu: '100m', memory: '256Mi' } } },
    },
  });

  const release = async (version: string): Promise<void> => {
    const { url, digest } = publish(cfg, `${ns.name}/${MD}/${version}/model.py`, addModel(version));
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

  const podIP = async (revision: string): Promise<string> => {
    const pods = JSON.parse(
      await kubectlOk([
        'get',
        'pods',
        '-n',
        ns.name,
        '-l',
        `modelship.io/revision=${revision}`,
        '-o',
        'json',
      ]),
    ) as { items: Array<{ status?: { podIP?: string } }> };
    return pods.items[0]!.status!.podIP!;
  };

  const traefikServices = async (): Promise<TraefikService[]> =>
    (JSON.parse(await kubectlOk(['get', TS, '-n', ns.name, '-o', 'json'])) as { items: TraefikService[] })
      .items;

  /** The weights as the operator reads them back: the route and its TraefikServices. */
  const appliedWeights = async (md: ModelDeployment): Promise<Record<string, number>> => {
    const route = (await getObject<HTTPRoute>(ns.name, ROUTE, MD))!;
    const objs: KubernetesObject[] = [route, ...(await traefikServices())];
    return Object.fromEntries(gatewayApiRouter.readWeights(objs, md) ?? []);
  };

  const defaultRefs = async () =>
    (await getObject<HTTPRoute>(ns.name, ROUTE, MD))!.spec.rules!.at(-1)!.backendRefs!;

  beforeAll(async () => {
    // The Gateway first: it installs the traefik.io CRDs, which the operator looks up at start.
    gw = await localGateway();
    ns = await tempNamespace('mirror');
    target = { url: gw.url, host: `${ns.name}.mirror.test`, model: MD };
    op = startE2EOperator(ns.name);
  }, 900_000);

  afterAll(async () => {
    agent.destroy();
    await endSuite('mirror-dataplane', ns, op ? [op] : []);
  }, TEST_TIMEOUT_MS);

  let stable: string;
  let canary: string;
  let canaryIP: string;

  test(
    '1.0.0 serves through the Gateway; without a mirror there is no TraefikService',
    async () => {
      await release('1.0.0');
      await release('1.1.0');
      await apply(ns.name, spec('1.0.0', true));
      const md = await status((m) => m.status?.phase === 'Healthy', '1.0.0 Healthy');
      stable = md.status!.stableRevision!;
      await until(
        '20 requests in a row answered by 1.0.0',
        async () =>
          (await inferMany(target, 20, { agent, concurrency: 4 })).every((r) => r.version === '1.0.0'),
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(await traefikServices()).toEqual([]);
      expect((await defaultRefs()).map((b) => [b.kind, b.name])).toEqual([['Service', `${MD}-${stable}`]]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    `a mirror of ${PERCENT}% through a TraefikService: the candidate's Triton gets the copies, clients only 1.0.0's answers`,
    async () => {
      expect(stable).toBeDefined();
      // Clients during the switch: the route must not name the TraefikService before Traefik has it.
      const switching = new LoadGenerator(target, { concurrency: 4 }).start();
      await apply(ns.name, spec('1.1.0', true));
      const md = await status((m) => m.status?.mirror?.version === '1.1.0', 'mirror routed to 1.1.0');
      canary = md.status!.canaryRevision!;
      expect(md.status!.phase).toBe('Paused');
      expect(md.status!.mirror).toEqual({ revision: canary, version: '1.1.0', percent: PERCENT });
      expect(md.status!.traffic).toEqual([
        expect.objectContaining({ revision: stable, weight: 100 }),
        expect.objectContaining({ revision: canary, weight: 0 }),
      ]);
      await until(
        'the route sends the stable share through the TraefikService',
        async () => (await defaultRefs()).some((b) => b.kind === 'TraefikService'),
        { timeoutMs: 30_000 },
      );
      await new Promise((r) => setTimeout(r, 3000));
      const during = await switching.stop();
      process.stderr.write(
        `mirror-dataplane.test: while the mirror was switched on, ${during.length} requests answered ${JSON.stringify(tally(during))}\n`,
      );
      expect(tally(during)).toEqual({ '1.0.0': during.length });
      expect((await defaultRefs()).map((b) => [b.group, b.kind, b.name, b.weight])).toEqual([
        ['traefik.io', 'TraefikService', `${MD}-${stable}-mirror`, 100],
        ['', 'Service', `${MD}-${canary}`, 0],
      ]);
      const [ts, ...others] = await traefikServices();
      expect(others).toEqual([]);
      expect(ts!.metadata!.name).toBe(`${MD}-${stable}-mirror`);
      expect(ts!.metadata!.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'modelship',
        'modelship.io/deployment': MD,
      });
      expect(ts!.metadata!.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'ModelDeployment',
          name: MD,
          uid: md.metadata!.uid,
          controller: true,
        }),
      ]);
      expect(ts!.spec.mirroring).toEqual({
        kind: 'Service',
        name: `${MD}-${stable}`,
        port: 80,
        mirrors: [{ kind: 'Service', name: `${MD}-${canary}`, port: 80, percent: PERCENT }],
      });
      // Read back whole: the TraefikService counts as 1.0.0's weight, the mirror as nothing.
      expect(await appliedWeights(md)).toEqual({ [stable]: 100, [canary]: 0 });

      canaryIP = await podIP(canary);
      const stableIP = await podIP(stable);
      // Traefik loads the route a moment after it is written: copies start then.
      const start = await servedBy(canaryIP, MD);
      await until(
        "the Gateway copies requests to 1.1.0's Triton",
        async () => {
          await inferMany(target, 10, { agent, concurrency: 2 });
          return (await servedBy(canaryIP, MD)) > start;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      // Copies are sent beside the answer, not before it: wait for the last ones before counting.
      const settled = async (ip: string): Promise<number> => {
        let last = await servedBy(ip, MD);
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          const now = await servedBy(ip, MD);
          if (now === last) return now;
          last = now;
        }
      };
      const canaryBefore = await settled(canaryIP);
      const stableBefore = await servedBy(stableIP, MD);

      const replies = await inferMany(target, N, { agent, concurrency: 8 });
      const canaryAfter = await settled(canaryIP);
      const stableAfter = await servedBy(stableIP, MD);
      const copies = canaryAfter - canaryBefore;
      const b = binomialBound(N, PERCENT / 100, SIGMAS);
      process.stderr.write(
        `mirror-dataplane.test: ${N} requests answered ${JSON.stringify(tally(replies))}; 1.0.0's Triton served ${stableAfter - stableBefore}; 1.1.0's Triton served ${copies} copies (bound ${SIGMAS} sd: [${b.low}, ${b.high}])\n`,
      );
      expect(tally(replies)).toEqual({ '1.0.0': N });
      expect(stableAfter - stableBefore).toBe(N);
      expect({ copies, within: copies >= b.low && copies <= b.high }).toEqual({ copies, within: true });

      // Copies are not served traffic: the weight table is unchanged.
      const after = await getMd(ns.name, MD);
      expect(after.status!.traffic).toEqual([
        expect.objectContaining({ revision: stable, weight: 100 }),
        expect.objectContaining({ revision: canary, weight: 0 }),
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'the mirror removed: the route goes back to the Service, the TraefikService goes, no request fails, no more copies',
    async () => {
      expect(canaryIP).toBeDefined();
      const load = new LoadGenerator(target, { concurrency: 4 }).start();
      await apply(ns.name, spec('1.1.0', false));
      await status(
        (m) => m.status?.mirror === undefined && m.status?.canaryRevision === canary,
        'mirror gone',
      );
      await until('the TraefikService deleted', async () => (await traefikServices()).length === 0, {
        timeoutMs: 30_000,
      });
      // Traefik applies the change a moment after it is written: keep the load on a little longer.
      await new Promise((r) => setTimeout(r, 3000));
      const during = await load.stop();
      process.stderr.write(
        `mirror-dataplane.test: while the mirror was removed, ${during.length} requests answered ${JSON.stringify(tally(during))}\n`,
      );
      expect(tally(during)).toEqual({ '1.0.0': during.length });
      expect((await defaultRefs()).map((b) => [b.kind, b.name, b.weight])).toEqual([
        ['Service', `${MD}-${stable}`, 100],
        ['Service', `${MD}-${canary}`, 0],
      ]);

      const before = await servedBy(canaryIP, MD);
      const replies = await inferMany(target, N, { agent, concurrency: 8 });
      await new Promise((r) => setTimeout(r, 2000));
      const after = await servedBy(canaryIP, MD);
      process.stderr.write(
        `mirror-dataplane.test: mirror off, ${N} requests answered ${JSON.stringify(tally(replies))}; 1.1.0's Triton served ${after - before}\n`,
      );
      expect(tally(replies)).toEqual({ '1.0.0': N });
      expect(after - before).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "the mirror on again and the candidate's pod deleted: while 1.1.0 has no serving endpoint, every request is answered by 1.0.0",
    async () => {
      expect(canary).toBeDefined();
      await apply(ns.name, spec('1.1.0', true));
      await until(
        'the route sends the stable share through the TraefikService again',
        async () => (await defaultRefs()).some((b) => b.kind === 'TraefikService'),
        { timeoutMs: 60_000 },
      );
      const service = `${MD}-${canary}`;
      const serving = async (): Promise<number> => {
        const slices = JSON.parse(
          await kubectlOk([
            'get',
            'endpointslices',
            '-n',
            ns.name,
            '-l',
            `kubernetes.io/service-name=${service}`,
            '-o',
            'json',
          ]),
        ) as { items: Array<{ endpoints?: Array<{ conditions?: { serving?: boolean } }> }> };
        return slices.items.flatMap((sl) => sl.endpoints ?? []).filter((e) => e.conditions?.serving !== false)
          .length;
      };
      const load = new LoadGenerator(target, { concurrency: 4 }).start();
      await kubectlOk([
        'delete',
        'pod',
        '-n',
        ns.name,
        '-l',
        `modelship.io/revision=${canary}`,
        '--wait=false',
      ]);
      // The window this test is about: 1.1.0's Service without a serving endpoint (Traefik builds
      // the TraefikService anyway only with allowEmptyServices).
      const emptyAt = Date.now();
      await until('1.1.0 without a serving endpoint', async () => (await serving()) === 0, {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      const noneSince = Date.now();
      await new Promise((r) => setTimeout(r, 3000));
      const empty = (await serving()) === 0;
      const replies = await load.stop();
      process.stderr.write(
        `mirror-dataplane.test: candidate pod deleted; no serving endpoint from ${noneSince - emptyAt} ms after the delete, still none 3 s later: ${empty}; ${replies.length} requests answered ${JSON.stringify(tally(replies))}\n`,
      );
      expect(tally(replies)).toEqual({ '1.0.0': replies.length });
    },
    TEST_TIMEOUT_MS,
  );
}
