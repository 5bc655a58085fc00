/**
 * Cohorts and shadow traffic end to end, on the real data plane through the real Gateway (Traefik):
 * the operator, given spec.strategy.canary.cohorts and .mirror, routes a rollout's cohorts to the
 * canary once it serves, and the requests prove it. Real Triton answers with the version it was
 * built as, and counts what it served (nv_inference_request_success on its metrics port).
 *
 * - 1.0.0 serves; a rollout to 1.1.0 waits at a pause at weight 0. Once 1.1.0 has a serving pod,
 *   every request with the cohort header or cookie is answered by 1.1.0 and every other request by
 *   1.0.0; 1.1.0's Triton counts exactly the cohort requests; its ModelVersion is Serving.
 * - The mirror (percent 100) is rendered on the stable backendRef; Traefik v3.6 ignores it (see
 *   test/integration/gateway-cohorts.test.ts), so 1.1.0's counter does not move for the others'
 *   requests and clients see only 1.0.0's answers. status.mirror names 1.1.0 and status.traffic
 *   gives it weight 0.
 * - Promoted, 1.1.0 answers everything, and the route has neither the cohort rule nor the mirror.
 */
import http from 'node:http';
import type { ModelDeployment, ModelVersion } from '../../src/api/index.js';
import { modelVersionName } from '../../src/core/model-version.js';
import type { HTTPRoute } from '../../src/routers/gateway-api/router.js';
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
  promote,
  routeWeights,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { localGateway, type LocalGateway } from '../harness/gateway.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import { clientAgent, inferMany, tally, type Target } from '../harness/serving.js';

const MD = 'cohorts';

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

  const spec = (version: string): object => ({
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
          cohorts: [
            { headers: [{ name: 'x-cohort', value: 'beta' }] },
            { cookie: { name: 'modelship-cohort', value: 'canary' } },
          ],
          mirror: { percent: 100 },
          scaleDownDelaySeconds: 0,
        },
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

  const runOf = (version: string, headers: Record<string, string> = {}, n = 20): Promise<true> =>
    until(
      `${n} requests in a row (${JSON.stringify(headers)}) answered by ${version}`,
      async () =>
        (await inferMany(target, n, { agent, concurrency: 4, headers })).every((r) => r.version === version),
      { timeoutMs: 30_000, intervalMs: 200 },
    );

  beforeAll(async () => {
    gw = await localGateway();
    ns = await tempNamespace('cohorts');
    target = { url: gw.url, host: `${ns.name}.cohorts.test`, model: MD };
    op = startE2EOperator(ns.name);
  }, 900_000);

  afterAll(async () => {
    agent.destroy();
    await endSuite('cohorts', ns, op ? [op] : []);
  }, TEST_TIMEOUT_MS);

  let stable: string;
  let canary: string;

  test(
    '1.0.0 serves through the Gateway; no cohort rule while nothing rolls out',
    async () => {
      await release('1.0.0');
      await release('1.1.0');
      await apply(ns.name, spec('1.0.0'));
      const md = await status((m) => m.status?.phase === 'Healthy', '1.0.0 Healthy');
      stable = md.status!.stableRevision!;
      expect(md.status!.cohort).toBeUndefined();
      expect(md.status!.mirror).toBeUndefined();
      await runOf('1.0.0');
      expect(tally(await inferMany(target, 30, { agent, headers: { 'x-cohort': 'beta' } }))).toEqual({
        '1.0.0': 30,
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a rollout to 1.1.0 at weight 0: the cohorts reach 1.1.0, everyone else 1.0.0; the mirror is not served traffic',
    async () => {
      expect(stable).toBeDefined();
      await apply(ns.name, spec('1.1.0'));
      const md = await status(
        (m) => m.status?.cohort?.version === '1.1.0' && m.status.mirror?.version === '1.1.0',
        'cohorts and mirror routed to 1.1.0',
      );
      canary = md.status!.canaryRevision!;
      expect(md.status!.phase).toBe('Paused');
      expect(md.status!.mirror).toEqual({ revision: canary, version: '1.1.0', percent: 100 });
      expect(md.status!.traffic).toEqual([
        expect.objectContaining({ revision: stable, weight: 100 }),
        expect.objectContaining({ revision: canary, weight: 0 }),
      ]);
      expect(await routeWeights(ns.name, MD)).toEqual({ [stable]: 100 }); // the helper leaves out weight 0

      await runOf('1.1.0', { 'x-cohort': 'beta' });
      const pod = JSON.parse(
        await kubectlOk([
          'get',
          'pods',
          '-n',
          ns.name,
          '-l',
          `modelship.io/revision=${canary}`,
          '-o',
          'json',
        ]),
      ) as { items: Array<{ status?: { podIP?: string } }> };
      const ip = pod.items[0]!.status!.podIP!;
      const before = await servedBy(ip, MD);

      const cohort = await inferMany(target, 100, { agent, headers: { 'x-cohort': 'beta' } });
      const cookie = await inferMany(target, 50, {
        agent,
        headers: { cookie: 'a=1; modelship-cohort=canary' },
      });
      const others = [
        ...(await inferMany(target, 100, { agent })),
        ...(await inferMany(target, 50, { agent, headers: { 'x-cohort': 'alpha' } })),
        ...(await inferMany(target, 50, { agent, headers: { cookie: 'modelship-cohort=stable' } })),
      ];
      const after = await servedBy(ip, MD);
      process.stderr.write(
        `cohorts.test: cohort ${JSON.stringify(tally(cohort))}, cookie ${JSON.stringify(tally(cookie))}, others ${JSON.stringify(tally(others))}; 1.1.0's Triton served ${after - before}\n`,
      );
      expect(tally(cohort)).toEqual({ '1.1.0': 100 });
      expect(tally(cookie)).toEqual({ '1.1.0': 50 });
      // Clients outside the cohorts only ever see 1.0.0's answers (weight 0 for 1.1.0).
      expect(tally(others)).toEqual({ '1.0.0': 200 });
      // 1.1.0's server saw exactly the cohort requests: none of the 200 others was copied to it,
      // since Traefik does not carry out RequestMirror (a mirroring gateway would add 200 here).
      expect(after - before).toBe(150);

      // The route carries the cohort rule and the mirror as the spec says.
      const route = (await getObject<HTTPRoute>(ns.name, 'httproutes.gateway.networking.k8s.io', MD))!;
      const stableRef = route.spec.rules!.at(-1)!.backendRefs!.find((b) => b.name === `${MD}-${stable}`)!;
      expect(stableRef.filters).toEqual([
        {
          type: 'RequestMirror',
          requestMirror: {
            backendRef: { group: '', kind: 'Service', name: `${MD}-${canary}`, port: 80 },
            percent: 100,
          },
        },
      ]);

      // Cohort requests are served traffic: 1.1.0's ModelVersion says it serves.
      await until(
        `ModelVersion ${modelVersionName(MD, '1.1.0')} Serving`,
        async () => {
          const mv = await getObject<ModelVersion>(ns.name, 'modelversions', modelVersionName(MD, '1.1.0'));
          return mv?.status?.conditions?.find((c) => c.type === 'Serving')?.status === 'True';
        },
        { timeoutMs: 30_000 },
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'promoted: 1.1.0 answers every request; the cohort rule and the mirror are gone',
    async () => {
      expect(canary).toBeDefined();
      await promote(ns.name, MD);
      const md = await status(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.1.0',
        '1.1.0 promoted',
      );
      expect(md.status!.cohort).toBeUndefined();
      expect(md.status!.mirror).toBeUndefined();
      await runOf('1.1.0');
      const route = (await getObject<HTTPRoute>(ns.name, 'httproutes.gateway.networking.k8s.io', MD))!;
      expect(JSON.stringify(route.spec)).not.toMatch(/x-cohort|RequestMirror/);
    },
    TEST_TIMEOUT_MS,
  );
}
