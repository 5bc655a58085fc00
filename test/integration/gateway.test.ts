/**
 * Requests through a real Gateway API implementation follow the HTTPRoutes modelship renders.
 *
 * Traefik (hack/cluster/gateway.sh) watches the local apiserver; the HTTPRoute is exactly what the
 * gatewayApi router renders for a weight table, applied under modelship's field manager and owned by
 * a stored ModelDeployment. Its backends are the revision Services `<md>-<revision>`, here without a
 * selector, each with a hand-made EndpointSlice pointing at a small HTTP server of this test that
 * answers with its name. So the only thing between the request and the answer is Traefik acting on
 * the route as it is stored: the split, the x-model-version rules, a weight-0 backend.
 *
 * Also measured (printed, never asserted): how long after the route's watch event Traefik routes by
 * the new weights.
 */
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { FIELD_MANAGER, LABEL_DEPLOYMENT, revisionObjectName } from '../../src/core/labels.js';
import { gatewayApiRouter, type HTTPRoute } from '../../src/routers/gateway-api/router.js';
import type { WeightEntry } from '../../src/routers/index.js';
import { Recorder, paths } from '../harness/e2e.js';
import {
  binomialBound,
  countByBackend,
  gatewayAgent,
  hostAddress,
  localGateway,
  send,
  sendMany,
  startBackend,
  type Backend,
  type LocalGateway,
} from '../harness/gateway.js';
import { kubectl, kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';

const CONTROLLER = 'traefik.io/gateway-controller';
const MD = 'iris';
const revisions = [
  { revision: 'a1b2c3d4e5', version: '1.0.0' },
  { revision: 'f6a7b8c9d0', version: '1.1.0' },
];

let gw: LocalGateway;
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let md: ModelDeployment;
let url: string;
const backends = new Map<string, Backend>(); // by revision; each server answers with its revision
const agent = gatewayAgent();

beforeAll(async () => {
  // A first run on a machine builds Traefik (about 4 minutes on 2 cores).
  gw = await localGateway();
  ns = await tempNamespace('gateway');
  const address = hostAddress();
  for (const r of revisions) backends.set(r.revision, await startBackend(r.revision, address));

  // A path of this namespace's own: other suites may attach routes to the same Gateway.
  const path = `/${ns.name}/v2/models/${MD}`;
  await kubectlOk(
    ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}-test`, '-f', '-'],
    JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: MD, namespace: ns.name },
      spec: {
        model: MD,
        version: '1.0.0',
        traffic: {
          router: 'gatewayApi',
          gatewayApi: {
            parentRefs: [{ name: gw.name, namespace: gw.namespace, sectionName: gw.listener }],
            path: { type: 'PathPrefix', value: path },
          },
        },
      },
    }),
  );
  md = JSON.parse(
    await kubectlOk(['get', 'modeldeployment', MD, '-n', ns.name, '-o', 'json']),
  ) as ModelDeployment;
  url = `${gw.url}${path}/infer`;

  // The revision Services as the gateway sees them, with the test's servers as their endpoints.
  const port = md.spec.traffic!.port!;
  const objs: object[] = [];
  for (const r of revisions) {
    const svc = revisionObjectName(MD, r.revision);
    const b = backends.get(r.revision)!;
    objs.push(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: svc, namespace: ns.name },
        spec: { ports: [{ name: 'http', port, protocol: 'TCP' }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${svc}-test`,
          namespace: ns.name,
          labels: {
            'kubernetes.io/service-name': svc,
            'endpointslice.kubernetes.io/managed-by': 'gateway-test.modelship.io',
          },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: [b.address], conditions: { ready: true } }],
        ports: [{ name: 'http', port: b.port, protocol: 'TCP' }],
      },
    );
  }
  await kubectlOk(
    ['apply', '--server-side', '--field-manager=gateway-test', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
  );
}, 900_000);

afterAll(async () => {
  agent.destroy();
  for (const b of backends.values()) await b.close();
  await ns?.remove();
});

/** Renders the route for `weights` (stable first) as modelship does and applies it; its generation. */
async function applyWeights(weights: number[]): Promise<number> {
  const owner: V1OwnerReference = {
    apiVersion: md.apiVersion!,
    kind: md.kind!,
    name: MD,
    uid: md.metadata!.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
  const table: WeightEntry[] = weights.map((weight, i) => ({
    ...revisions[i]!,
    weight,
    service: revisionObjectName(MD, revisions[i]!.revision),
  }));
  const objs: KubernetesObject[] = gatewayApiRouter.render({
    md,
    weights: table,
    labels: { 'app.kubernetes.io/managed-by': 'modelship', [LABEL_DEPLOYMENT]: MD },
    ownerReference: owner,
    port: md.spec.traffic!.port!,
    targetPortName: 'http',
  });
  const r = await kubectl(
    ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-n', ns.name, '-o', 'json', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
  );
  if (r.code !== 0) throw new Error(`applying the rendered route failed: ${r.stderr}`);
  const route = await kubectlOk(['get', 'httproute', MD, '-n', ns.name, '-o', 'json']);
  return (JSON.parse(route) as HTTPRoute).metadata!.generation!;
}

/** Traefik accepted this generation of the route on the Gateway and resolved all its backends. */
async function waitAccepted(generation: number): Promise<void> {
  await waitFor(`Traefik to accept generation ${generation} of HTTPRoute ${ns.name}/${MD}`, async () => {
    const route = JSON.parse(await kubectlOk(['get', 'httproute', MD, '-n', ns.name, '-o', 'json'])) as {
      status?: {
        parents?: Array<{
          controllerName: string;
          conditions?: Array<{ type: string; status: string; observedGeneration?: number }>;
        }>;
      };
    };
    const parent = route.status?.parents?.find((p) => p.controllerName === CONTROLLER);
    const ok = (type: string) =>
      parent?.conditions?.some(
        (c) => c.type === type && c.status === 'True' && c.observedGeneration === generation,
      );
    return (ok('Accepted') && ok('ResolvedRefs')) || false;
  });
}

/**
 * Sends requests one at a time until `n` replies in a row all come from `revision`; returns when the
 * first of them was answered. Before that, replies from the other revision (the old split) are
 * expected; gateway errors are not.
 */
async function firstOfRun(revision: string, n: number, timeoutMs = 30000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let runStart = 0;
  let run = 0;
  const seen: Record<string, number> = {};
  while (run < n) {
    if (Date.now() > deadline)
      throw new Error(
        `no ${n} replies in a row from ${revision} in ${timeoutMs} ms: ${JSON.stringify(seen)}`,
      );
    const r = await send(url, { agent });
    const who = r.status === 200 ? r.backend : `status ${r.status}`;
    seen[who] = (seen[who] ?? 0) + 1;
    if (r.status !== 200)
      throw new Error(`the gateway answered ${r.status} during a weight change: ${JSON.stringify(seen)}`);
    if (who === revision) {
      if (run === 0) runStart = Date.now();
      run++;
    } else run = 0;
  }
  return runStart;
}

const [stable, canary] = revisions.map((r) => r.revision) as [string, string];

test('the route is accepted by Traefik and backs the split with both revision Services', async () => {
  await waitAccepted(await applyWeights([75, 25]));
  // The first answer after acceptance may still be a 404 while Traefik loads the configuration.
  await waitFor(
    'the route to answer through the Gateway',
    async () => (await send(url, { agent })).status === 200,
  );
});

test('1,000 requests at 75/25 split within the binomial bound of the weights', async () => {
  const n = 1000;
  const before = { [stable]: backends.get(stable)!.served, [canary]: backends.get(canary)!.served };
  const replies = await sendMany(url, n, { agent, concurrency: 8 });
  const counts = countByBackend(replies);
  const bound = binomialBound(n, 0.25, 4);
  process.stderr.write(
    `gateway share: ${JSON.stringify(counts)} of ${n} at 75/25; canary bound [${bound.low}, ${bound.high}] (25% ± 4σ, σ=${bound.sd.toFixed(1)})\n`,
  );
  // Every request answered by one of the two revisions: no gateway error, no other backend.
  expect(Object.keys(counts).sort()).toEqual([stable, canary].sort());
  expect(counts[stable]! + counts[canary]!).toBe(n);
  expect(counts[canary]).toBeGreaterThanOrEqual(bound.low);
  expect(counts[canary]).toBeLessThanOrEqual(bound.high);
  // The servers saw exactly what the client saw: Traefik neither retried nor duplicated a request.
  expect({
    [stable]: backends.get(stable)!.served - before[stable]!,
    [canary]: backends.get(canary)!.served - before[canary]!,
  }).toEqual(counts);
});

test('x-model-version pins a version whatever the split; an unknown version takes the split', async () => {
  for (const [i, r] of revisions.entries()) {
    // Header names are case-insensitive: send it capitalised.
    const replies = await sendMany(url, 200, { agent, headers: { 'X-Model-Version': r.version } });
    expect(countByBackend(replies)).toEqual({ [revisions[i]!.revision]: 200 });
  }
  const other = countByBackend(await sendMany(url, 200, { agent, headers: { 'x-model-version': '9.9.9' } }));
  expect(Object.keys(other).sort()).toEqual([stable, canary].sort());
});

test('a weight-0 revision gets no request but stays reachable by its version', async () => {
  await waitAccepted(await applyWeights([100, 0]));
  await firstOfRun(stable, 50);
  expect(countByBackend(await sendMany(url, 400, { agent }))).toEqual({ [stable]: 400 });
  const pinned = await sendMany(url, 50, { agent, headers: { 'x-model-version': revisions[1]!.version } });
  expect(countByBackend(pinned)).toEqual({ [canary]: 50 });
});

test('weight changes reach the traffic (time from watch event to new split measured)', async () => {
  const rec = await Recorder.start<HTTPRoute>(paths.httpRoutes(ns.name));
  const delays: number[] = [];
  try {
    // 100/0 (the previous test) -> 0/100 -> 100/0 -> ...: each change flips every request, so the
    // first reply from the newly weighted revision marks when Traefik applied it.
    for (let i = 0; i < 6; i++) {
      const to = i % 2 === 0 ? canary : stable;
      const generation = await applyWeights(to === canary ? [0, 100] : [100, 0]);
      const event = await waitFor(`the watch event of generation ${generation}`, async () =>
        rec.of(MD).find((e) => e.object.metadata?.generation === generation),
      );
      const first = await firstOfRun(to, 50);
      delays.push(first - event.at);
      await waitAccepted(generation);
    }
  } finally {
    await rec.stop();
  }
  const sorted = [...delays].sort((a, b) => a - b);
  const median = (sorted[2]! + sorted[3]!) / 2;
  process.stderr.write(
    `gateway weight change, watch event -> new split: median ${median} ms, range ${sorted[0]}-${sorted[5]} ms (${delays.join(', ')})\n`,
  );
});
