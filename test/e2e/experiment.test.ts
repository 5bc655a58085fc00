/**
 * Experiments (strategy.type Experiment) on the real control plane, driven by the built operator:
 * kwok runs the pods, the real Gateway API and Istio CRDs store the routes.
 *
 * - The apiserver refuses what the CRD's rules can see: weights that leave the stable revision
 *   nothing, an arm naming spec.version, an experiment on the service router, a strategy.experiment
 *   without type Experiment.
 * - For each of gatewayApi and istio: 1.0.0 serves; an experiment with 1.1.0 at 30% and the arm 1.2.0
 *   at 20% makes the operator write a 3-way route that the router's CRD accepts and that carries
 *   50/30/20, and status.experiment lists the three versions at those weights and what was measured
 *   of them (0 requests: kwok's pods serve nothing). `kubectl modelship status` shows it, and
 *   `kubectl modelship experiment stop` ends it: the route goes back to 1.0.0 alone, nothing is
 *   promoted, and the history says Concluded. `experiment promote --to 1.2.0` then rolls 1.2.0 out.
 * - An arm naming a version without a ModelVersion: Degraded, reason ExperimentVersionNotFound, and
 *   the route still sends everything to the stable version (1.2.0 by then), 1.1.0 not started.
 */
import type { ModelDeployment } from '../../src/api/index.js';
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
  vsWeights,
  waitReady,
  waiter,
  type Operator,
  type Weights,
} from '../harness/e2e.js';
import { join } from 'node:path';
import { clusterEnv, repoRoot } from '../harness/env.js';
import { kubectl, run, tempNamespace } from '../harness/kube.js';

/** The built kubectl plugin, run as a user would, in the test's namespace. */
const plugin = (args: string[]) =>
  run(process.execPath, [
    join(repoRoot, 'dist', 'plugin', 'main.js'),
    '--kubeconfig',
    clusterEnv().kubeconfig,
    '-n',
    ns.name,
    ...args,
  ]);

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

const routers = {
  gatewayApi: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
  istio: { router: 'istio', istio: { hosts: ['exp.models.example.com'] } },
} as const;

function md(
  name: string,
  version: string,
  traffic: object,
  experiment: object | undefined,
  strategyType = experiment ? 'Experiment' : 'Canary',
): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name },
    spec: {
      model: 'exp',
      version,
      replicas: 2,
      strategy: { type: strategyType, ...(experiment ? { experiment } : {}) },
      traffic,
    },
  };
}

beforeAll(async () => {
  ns = await tempNamespace('e2e-experiment');
  op = startE2EOperator(ns.name);
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await apply(ns.name, modelVersion('exp', v));
});
afterAll(() => endSuite('experiment', ns, op ? [op] : []), TEST_TIMEOUT_MS);

test('the apiserver refuses experiments the CRD rules can judge', async () => {
  const refused = async (obj: object): Promise<string> => {
    const r = await kubectl(['apply', '-n', ns.name, '--dry-run=server', '-f', '-'], JSON.stringify(obj));
    expect(r.code).not.toBe(0);
    return r.stderr;
  };
  const gw = routers.gatewayApi;
  expect(
    await refused(md('bad', '1.1.0', gw, { weight: 60, arms: [{ version: '1.2.0', weight: 40 }] })),
  ).toMatch(/must be below 100: the stable revision is the experiment's control/);
  expect(
    await refused(md('bad', '1.1.0', gw, { weight: 30, arms: [{ version: '1.1.0', weight: 20 }] })),
  ).toMatch(/arms must not name spec.version/);
  expect(await refused(md('bad', '1.1.0', { router: 'service' }, { weight: 30 }))).toMatch(
    /Experiment needs traffic.router gatewayApi or istio/,
  );
  expect(await refused(md('bad', '1.1.0', gw, { weight: 30 }, 'Canary'))).toMatch(
    /strategy.experiment is required with strategy.type Experiment and only allowed with it/,
  );
  expect(
    await refused(
      md('bad', '1.1.0', gw, {
        weight: 10,
        arms: [
          { version: '1.2.0', weight: 10 },
          { version: '1.2.0', weight: 5 },
        ],
      }),
    ),
  ).toMatch(/Duplicate value/);
  // The same experiment with sound weights is accepted.
  const ok = await kubectl(
    ['apply', '-n', ns.name, '--dry-run=server', '-f', '-'],
    JSON.stringify(md('good', '1.1.0', gw, { weight: 30, arms: [{ version: '1.2.0', weight: 20 }] })),
  );
  expect(ok.stderr).toBe('');
});

describe.each(['gatewayApi', 'istio'] as const)('%s', (router) => {
  const name = `exp-${router.toLowerCase()}`;
  const traffic = routers[router];
  const weights = (): Promise<Weights | undefined> =>
    router === 'istio' ? vsWeights(ns.name, name) : routeWeights(ns.name, name);
  const status = (pred: (m: ModelDeployment) => boolean, what: string): Promise<ModelDeployment> =>
    until(
      what,
      async () => {
        const m = await getMd(ns.name, name);
        return current(m) && pred(m) && m;
      },
      { md: name, timeoutMs: 60_000 },
    );

  test(
    'a 3-way experiment: the route carries 50/30/20, status and the plugin compare, experiment stop ends it on 1.0.0, promote --to rolls out 1.2.0',
    async () => {
      await apply(
        ns.name,
        md(name, '1.0.0', traffic, { weight: 30, arms: [{ version: '1.2.0', weight: 20 }] }),
      );
      await waitReady(ns.name, name);
      const stable = (await getMd(ns.name, name)).status!.stableRevision!;

      await apply(
        ns.name,
        md(name, '1.1.0', traffic, { weight: 30, arms: [{ version: '1.2.0', weight: 20 }], duration: '1h' }),
      );
      // Running, and measured once (the first measurement comes in the reconcile after the start).
      const running = await status(
        (m) => m.status?.experiment?.phase === 'Running' && m.status.experiment.measuredAt !== undefined,
        'experiment Running and measured',
      );
      const x = running.status!.experiment!;
      const [s, c, a] = x.arms!;
      expect([s, c, a].map((r) => [r!.role, r!.version, r!.weight, r!.state])).toEqual([
        ['Stable', '1.0.0', 50, 'Serving'],
        ['Challenger', '1.1.0', 30, 'Serving'],
        ['Arm', '1.2.0', 20, 'Serving'],
      ]);
      expect(s!.revision).toBe(stable);
      // The router's object, as the apiserver stored it, carries the spec's weights.
      expect(await weights()).toEqual({ [stable]: 50, [c!.revision]: 30, [a!.revision]: 20 });
      // Measured: numbers from the Prometheus the run started (kwok pods serve nothing: 0), or,
      // without one, why there are none.
      if (x.metrics === undefined) expect(x.arms!.map((r) => r.requests)).toEqual([0, 0, 0]);
      else expect(x.metrics).toMatch(/PrometheusNotConfigured|PrometheusUnavailable/);
      // Each version runs as its own revision, sized for its share (2 replicas: 1 pod each).
      const revs = Object.fromEntries((await revisions(ns.name, name)).map((r) => [r.version, r.replicas]));
      expect(revs).toEqual({ '1.0.0': 2, '1.1.0': 1, '1.2.0': 1 });

      // The plugin shows the comparison, and `experiment stop` ends it now (a spec edit: duration).
      const shown = await plugin(['status', name]);
      expect(shown.stdout).toMatch(/Experiment: +Running/);
      expect(shown.stdout).toMatch(/1\.2\.0 +arm +\w+ +20% +Serving/);
      const stop = await plugin(['experiment', 'stop', name]);
      expect(stop).toMatchObject({ code: 0 });
      expect(stop.stdout).toMatch(/strategy\.experiment\.duration set to \d+s/);
      const done = await status((m) => m.status?.experiment?.phase === 'Concluded', 'experiment Concluded');
      expect(done.status!.stableVersion).toBe('1.0.0');
      expect(condition(done.status, 'Ready')).toMatchObject({
        status: 'True',
        reason: 'ExperimentConcluded',
      });
      expect(done.status!.experiment!.winner).toBeUndefined();
      expect(done.status!.history!.slice(-2).map((h) => [h.version, h.result])).toEqual([
        ['1.1.0', 'Concluded'],
        ['1.2.0', 'Concluded'],
      ]);
      await until('route back on 1.0.0 alone', async () => {
        const w = await weights();
        return JSON.stringify(w) === JSON.stringify({ [stable]: 100 }) && w;
      });
      // No winner (kwok's pods served nothing): promote needs --to; with it, 1.2.0 rolls out as a
      // plain Canary and becomes stable.
      expect((await plugin(['experiment', 'promote', name])).stderr).toMatch(/has no winner/);
      expect(await plugin(['experiment', 'promote', name, '--to', '1.2.0'])).toMatchObject({ code: 0 });
      const promoted = await status((m) => m.status?.stableVersion === '1.2.0', '1.2.0 stable');
      expect(promoted.spec.strategy?.type).toBe('Canary');
      expect(promoted.status!.experiment).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an arm without a ModelVersion: ExperimentVersionNotFound, and the stable version keeps all traffic',
    async () => {
      const stable = (await getMd(ns.name, name)).status!.stableRevision!;
      await apply(
        ns.name,
        md(name, '1.1.0', traffic, { weight: 30, arms: [{ version: '9.9.9', weight: 20 }] }),
      );
      const m = await status(
        (x) => condition(x.status, 'Degraded')?.reason === 'ExperimentVersionNotFound',
        'Degraded ExperimentVersionNotFound',
      );
      expect(condition(m.status, 'Degraded')?.message).toMatch(
        /arms\[0\] \(version 9\.9\.9\): no ModelVersion of model exp with version 9\.9\.9/,
      );
      expect(m.status!.traffic).toEqual([expect.objectContaining({ revision: stable, weight: 100 })]);
      expect(await weights()).toEqual({ [stable]: 100 });
      // Nothing of the experiment was started: 1.1.0's revision is still at 0 from the last one.
      const revs = Object.fromEntries((await revisions(ns.name, name)).map((r) => [r.version, r.replicas]));
      expect(revs['1.1.0'] ?? 0).toBe(0);
      expect(revs['1.2.0']).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );
});
