/**
 * Router CRDs that appear and disappear while the operator runs. Before, the operator looked the
 * Gateway API and Istio CRDs up once, at start: a CRD installed later (or a failed discovery call)
 * left its router unavailable until a restart. Here the operator starts without the HTTPRoute CRD;
 * a gatewayApi ModelDeployment waits with RouterUnavailable; the CRD is installed and the same
 * process (no restart) watches HTTPRoutes and rolls the ModelDeployment out. The CRD deleted again:
 * RouterUnavailable, with what serves left alone; installed again: the route is written again.
 *
 * The HTTPRoute CRD is cluster-wide state that the global setup installs for every test file. This
 * file deletes only that one CRD (no other test file runs at the same time: jest --runInBand) and
 * installs it back with the script the global setup uses (hack/cluster/install-router-crds.sh), in
 * the test and again in afterAll, so the cluster is left as it was found whatever fails.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ModelDeployment } from '../../src/api/index.js';
import { clusterScripts } from '../harness/env.js';
import { kubectl, kubectlOk, tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  TEST_TIMEOUT_MS,
  apply,
  condition,
  current,
  endSuite,
  getMd,
  modelVersion,
  revisions,
  routeWeights,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';

const CRD = 'httproutes.gateway.networking.k8s.io';
const MD = 'digits';
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

const installRouterCrds = async (): Promise<void> => {
  await promisify(execFile)('bash', [join(clusterScripts, 'install-router-crds.sh')], { env: process.env });
};
const installTraefikCrds = async (): Promise<void> => {
  await promisify(execFile)('bash', [join(clusterScripts, 'install-traefik-crds.sh')], { env: process.env });
};
const deleteCrd = async (): Promise<void> => {
  // Waits until the apiserver has removed every HTTPRoute and stopped serving the kind.
  await kubectlOk(['delete', 'crd', CRD, '--ignore-not-found', '--wait=true', '--timeout=60s']);
};

beforeAll(async () => {
  ns = await tempNamespace('e2e-router-discovery');
  await deleteCrd();
  await apply(ns.name, modelVersion('digits', '1.0.0'));
  op = startE2EOperator(ns.name, ['--router-discovery-interval', '1s']);
}, TEST_TIMEOUT_MS);
afterAll(async () => {
  await installRouterCrds();
  await installTraefikCrds();
  await endSuite('router-discovery', ns, op ? [op] : []);
}, TEST_TIMEOUT_MS);

const reason = async (): Promise<string | undefined> => {
  const md = await getMd(ns.name, MD);
  return current(md) ? condition(md.status, 'Ready')?.reason : undefined;
};

test(
  'without the HTTPRoute CRD, a gatewayApi ModelDeployment reports RouterUnavailable and runs nothing',
  async () => {
    await until('caches synced', async () => op!.lines('caches synced').length === 1);
    await apply(ns.name, {
      apiVersion: GROUP_VERSION,
      kind: 'ModelDeployment',
      metadata: { name: MD },
      spec: {
        model: 'digits',
        version: '1.0.0',
        replicas: 1,
        traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
      },
    });
    await until('Ready=False RouterUnavailable', async () => (await reason()) === 'RouterUnavailable', {
      md: MD,
    });
    expect(condition((await getMd(ns.name, MD)).status, 'Ready')?.message).toContain('HTTPRoute');
    expect(await revisions(ns.name, MD)).toEqual([]);
  },
  TEST_TIMEOUT_MS,
);

test(
  'the CRD installed: the same operator process watches HTTPRoutes and the rollout completes',
  async () => {
    await installRouterCrds();
    const md = await until(
      'Ready=True',
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && condition(m.status, 'Ready')?.status === 'True' && m;
      },
      { md: MD, timeoutMs: 60000 },
    );
    const stable = md.status!.stableRevision!;
    expect(await routeWeights(ns.name, MD)).toEqual({ [stable]: 100 });
    // No restart: one process, one start, one initial sync; the kind was added while it ran.
    expect(op!.proc.exitCode).toBeNull();
    expect(op!.lines('"message":"starting"')).toHaveLength(1);
    expect(op!.lines('caches synced')).toHaveLength(1);
    expect(op!.lines('router kind available')).toHaveLength(1);
  },
  TEST_TIMEOUT_MS,
);

// Found with this test (fixed): while its router's kind was missing the reconcile kept writing the
// HTTPRoute of the stable revision, which 404s, and failed before it could write RouterUnavailable.
test(
  'the CRD deleted: RouterUnavailable, and what serves is left alone',
  async () => {
    const before = await revisions(ns.name, MD);
    await deleteCrd();
    await until('Ready=False RouterUnavailable', async () => (await reason()) === 'RouterUnavailable', {
      md: MD,
      timeoutMs: 20000,
    });
    expect(op!.lines('router kind no longer served')).toHaveLength(1);
    const during = await revisions(ns.name, MD);
    expect(during.map((r) => [r.name, r.replicas])).toEqual(before.map((r) => [r.name, r.replicas]));
  },
  TEST_TIMEOUT_MS,
);

test(
  'the CRD deleted, then installed again: the operator stops and starts watching, and routes again',
  async () => {
    // The test before may have failed before or after the deletion; either way it is gone now.
    await deleteCrd();
    await until('the operator to notice', async () => op!.lines('router kind no longer served').length === 1);
    await installRouterCrds();
    const md = await until(
      'Ready=True again, with its HTTPRoute',
      async () => {
        const m: ModelDeployment = await getMd(ns.name, MD);
        const routed = (await kubectl(['get', 'httproute', MD, '-n', ns.name])).code === 0;
        return current(m) && condition(m.status, 'Ready')?.status === 'True' && routed && m;
      },
      { md: MD, timeoutMs: 60000 },
    );
    expect(await routeWeights(ns.name, MD)).toEqual({ [md.status!.stableRevision!]: 100 });
    expect(op!.lines('router kind available')).toHaveLength(2);
    expect(op!.lines('caches synced')).toHaveLength(1);
  },
  TEST_TIMEOUT_MS,
);

// A kind that only a setting needs: traffic.gatewayApi.mirrorWith TraefikService needs Traefik's
// TraefikService CRD; the HTTPRoute alone does not (docs/decisions/0012-traefik-mirroring.md).
test(
  'mirrorWith TraefikService without the TraefikService CRD: RouterUnavailable naming the setting, the route left as it is; the CRD installed: Ready again',
  async () => {
    const TS_CRD = 'traefikservices.traefik.io';
    await kubectlOk(['delete', 'crd', TS_CRD, '--ignore-not-found', '--wait=true', '--timeout=60s']);
    const stable = (await getMd(ns.name, MD)).status!.stableRevision!;
    const spec = (gatewayApi: object): object => ({
      apiVersion: GROUP_VERSION,
      kind: 'ModelDeployment',
      metadata: { name: MD },
      spec: { model: 'digits', version: '1.0.0', replicas: 1, traffic: { router: 'gatewayApi', gatewayApi } },
    });
    await apply(ns.name, spec({ parentRefs: [{ name: 'gw' }], mirrorWith: 'TraefikService' }));
    await until('Ready=False RouterUnavailable', async () => (await reason()) === 'RouterUnavailable', {
      md: MD,
      timeoutMs: 20000,
    });
    const message = condition((await getMd(ns.name, MD)).status, 'Ready')?.message;
    expect(message).toContain(
      'traffic.gatewayApi.mirrorWith TraefikService needs the TraefikService CRD (traefik.io/v1alpha1)',
    );
    expect(message).toContain('or change that setting');
    expect(await routeWeights(ns.name, MD)).toEqual({ [stable]: 100 });

    await installTraefikCrds();
    await until(
      'Ready=True again',
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && condition(m.status, 'Ready')?.status === 'True';
      },
      { md: MD, timeoutMs: 60000 },
    );
    expect(await routeWeights(ns.name, MD)).toEqual({ [stable]: 100 });
    // No mirror in the strategy: nothing to write.
    expect(JSON.parse(await kubectlOk(['get', TS_CRD, '-n', ns.name, '-o', 'json'])).items).toEqual([]);
  },
  TEST_TIMEOUT_MS,
);
