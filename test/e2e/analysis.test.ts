/**
 * Metric analysis on real components (docs/rollouts.md, "Metric analysis"): the real Triton servers
 * of the data plane serve test models whose latency and error share are set, a real Prometheus
 * (hack/cluster/prometheus.sh) scrapes them through Kubernetes discovery, and the operator judges
 * each canary from what Prometheus answers. A latency regression, 5 % errors and a canary 1.5x slower
 * than stable are reverted while Ready; a good version is promoted with every check recorded; a
 * regression within the bake time after the promotion goes back to the previous revision; with
 * Prometheus stopped the canary holds, and continues once it is back.
 *
 * Traffic: a loop sends KServe v2 requests straight to every Ready pod of the ModelDeployment (its
 * revisions' pod addresses), so both the stable revision and the canary serve all along.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { prometheusClient } from '../../src/analysis/prometheus.js';
import {
  onDataPlane,
  publish,
  pythonModelVersion,
  tunableModel,
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
  listObjects,
  paths,
  revisionOf,
  sleep,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';
import { clusterScripts } from '../harness/env.js';
import { kubectlOk, run, tempNamespace, waitFor } from '../harness/kube.js';
import { Load } from '../harness/load.js';

const MD = 'scorer';
/** The checks' interval and window: short, so that the suite stays short (Prometheus scrapes every 2 s). */
const INTERVAL = '2s';
const WINDOW = '10s';

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

// ---- the suite --------------------------------------------------------------------------------------

function suite(cfg: DataPlaneConfig, promUrl: string): void {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  let op: Operator | undefined;
  let load: Load;
  let mds: Recorder<ModelDeployment>;
  const until = waiter(
    () => ns.name,
    () => op,
  );
  const prom = prometheusClient({ url: promUrl, timeoutMs: 5000 });

  const checks = [
    { name: 'error-rate', builtin: 'ErrorRate', threshold: 0.02, minSamples: 20, window: WINDOW },
    { name: 'latency', builtin: 'MeanLatency', threshold: 100, minSamples: 20, window: WINDOW },
    { name: 'vs-stable', builtin: 'LatencyVsStable', threshold: 1.2, minSamples: 20, window: WINDOW },
  ];

  /** One replica on the data plane; a canary at 50 % for a 6 s pause, judged by the three checks. */
  const scorer = (version: string, analysis: object = {}): object => ({
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: MD,
      version,
      replicas: 1,
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 50 }, { pause: { duration: '6s' } }], scaleDownDelaySeconds: 0 },
        analysis: { interval: INTERVAL, checks, ...analysis },
      },
      traffic: { router: 'service' },
      pod: { ...onDataPlane(cfg), resources: { requests: { cpu: '100m', memory: '256Mi' } } },
    },
  });

  const release = async (version: string, o: { latencyMs?: number; failEvery?: number }): Promise<void> => {
    const { url, digest } = publish(cfg, `${ns.name}/${MD}/${version}/model.py`, tunableModel(version, o));
    await apply(ns.name, pythonModelVersion({ model: MD, version, url, digest }));
  };

  const settled = (pred: (m: ModelDeployment) => boolean, what: string): Promise<ModelDeployment> =>
    until(
      what,
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && pred(m) && m;
      },
      { md: MD, timeoutMs: 150_000, intervalMs: 500 },
    );

  const rolledBackFrom = (version: string): Promise<ModelDeployment> =>
    settled(
      (m) => m.status?.phase === 'RolledBack' && m.status.lastRollback?.from?.version === version,
      `a rollback from ${version}`,
    );

  /** Every status the ModelDeployment had while `revision` was its canary. */
  const whileCanary = (revision: string): ModelDeployment[] =>
    mds.of(MD).flatMap((e) => (e.object.status?.canaryRevision === revision ? [e.object] : []));

  const eventsOf = async (reason: string): Promise<string[]> => {
    const out = await kubectlOk([
      'get',
      'events',
      '-n',
      ns.name,
      '--field-selector',
      `involvedObject.name=${MD},reason=${reason}`,
      '-o',
      'jsonpath={range .items[*]}{.type} {.message}{"\\n"}{end}',
    ]);
    return out.trim().split('\n').filter(Boolean);
  };

  /** A revert by analysis: traffic all on the stable revision, the canary scaled to 0. */
  const stableNow = async (): Promise<string> => (await getMd(ns.name, MD)).status!.stableVersion!;

  const expectRevertedByAnalysis = async (md: ModelDeployment, stableVersion: string): Promise<string> => {
    const s = md.status!;
    expect(s.lastRollback).toMatchObject({ reason: 'AnalysisFailed', to: { version: stableVersion } });
    expect(s.stableVersion).toBe(stableVersion);
    expect(s.traffic).toEqual([{ revision: s.stableRevision, version: stableVersion, weight: 100 }]);
    expect(condition(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'AnalysisFailed' });
    const failed = s.lastRollback!.from!.revision!;
    const last = s.history!.filter((h) => h.revision === failed).at(-1);
    expect(last).toMatchObject({ result: 'RolledBack', reason: 'AnalysisFailed' });
    const rev = await until(`the failed revision ${failed} scaled to 0`, async () => {
      const r = await revisionOf(ns.name, MD, failed);
      return r && r.replicas === 0 && r;
    });
    expect(rev.replicas).toBe(0);
    // Reverted while Ready: it served at 50 % (a readiness failure would have a reason of its own).
    expect(whileCanary(failed).some((m) => (m.status?.canaryWeight ?? 0) === 50)).toBe(true);
    expect(
      (await eventsOf('RolledBack')).some(
        (e) => e.startsWith('Warning') && e.includes('analysis of version'),
      ),
    ).toBe(true);
    return s.lastRollback!.message!;
  };

  beforeAll(async () => {
    ns = await tempNamespace('analysis');
    // On a cluster this run has just started, the apiserver answers 429 (storage is (re)initializing)
    // for a CRD's resources for a moment after the CRD is installed.
    mds = await waitFor('the ModelDeployment API to answer a list and watch', () =>
      Recorder.start<ModelDeployment>(paths.modelDeployments(ns.name)),
    );
    op = startE2EOperator(ns.name, ['--prometheus-url', promUrl, '--prometheus-timeout', '2s']);
    load = new Load(() => listObjects<V1Pod>(ns.name, 'pods', `modelship.io/deployment=${MD}`), MD);
    load.start();
  });

  afterAll(async () => {
    await load?.stop();
    await mds?.stop();
    await endSuite('analysis', ns, op ? [op] : []);
    // A Prometheus a test stopped is started again for the tests after this file.
    await run('bash', [`${clusterScripts}/prometheus.sh`]);
  }, TEST_TIMEOUT_MS);

  test(
    'Triton exports nv_inference_request_success/failure/duration_us per model and version, and Prometheus has them under the revision label',
    async () => {
      await release('1.0.0', { latencyMs: 40 });
      await apply(ns.name, scorer('1.0.0'));
      const md = await settled((m) => m.status?.phase === 'Healthy', '1.0.0 Healthy');
      const rev = md.status!.stableRevision!;
      const sel = `namespace="${ns.name}",modelship_io_revision="${rev}"`;
      for (const metric of [
        'nv_inference_request_success',
        'nv_inference_request_failure',
        'nv_inference_request_duration_us',
      ]) {
        const v = await until(`${metric} of ${rev} in Prometheus, above 0 for success`, async () => {
          const x = await prom.query(`sum(${metric}{${sel},model="${MD}",version="1"})`, Date.now());
          return x !== undefined && (metric.endsWith('failure') || x > 0) && x;
        });
        expect(v).toBeGreaterThanOrEqual(0);
      }
      // The pod's labels are target labels: the ModelDeployment's and the version's too.
      const series = await prom.query(
        `count(nv_inference_request_success{${sel},modelship_io_deployment="${MD}",modelship_io_version="1.0.0"})`,
        Date.now(),
      );
      expect(series).toBe(1);
    },
    TEST_TIMEOUT_MS + 60_000,
  );

  test(
    'a good version (as fast as stable, no errors) is promoted with every check passing, and the checks are recorded',
    async () => {
      await release('1.1.0', { latencyMs: 40 });
      await apply(ns.name, scorer('1.1.0'));
      const md = await settled(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.1.0',
        '1.1.0 promoted',
      );
      const s = md.status!;
      expect(s.analysis).toMatchObject({ revision: s.stableRevision, stage: 'Succeeded' });
      expect(s.analysis!.checks!.map((c) => [c.name, c.verdict])).toEqual([
        ['error-rate', 'Pass'],
        ['latency', 'Pass'],
        ['vs-stable', 'Pass'],
      ]);
      for (const c of s.analysis!.checks!) expect(c.samples).toBeGreaterThanOrEqual(20);
      expect(condition(s, 'AnalysisPassing')).toMatchObject({ status: 'True', reason: 'AnalysisSucceeded' });
      const promoted = s.history!.filter((h) => h.revision === s.stableRevision).at(-1)!;
      expect(promoted.result).toBe('Promoted');
      expect(promoted.message).toMatch(
        /analysis passed: error-rate=\S+ <= 0\.02 Pass, latency=\S+ <= 100 Pass, vs-stable=\S+ <= 1\.2 Pass/,
      );
    },
    TEST_TIMEOUT_MS + 60_000,
  );

  test(
    'a latency regression (150 ms against 40 ms) is reverted by analysis while Ready, with the values and thresholds in the reason',
    async () => {
      await release('1.2.0', { latencyMs: 150 });
      const stable = await stableNow();
      await apply(ns.name, scorer('1.2.0'));
      const md = await rolledBackFrom('1.2.0');
      const message = await expectRevertedByAnalysis(md, stable);
      expect(message).toMatch(/check latency failed 1\/1: mean latency \S+ms > 100ms over 10s/);
      expect(md.status!.analysis).toMatchObject({
        stage: 'Failed',
        revision: md.status!.lastRollback!.from!.revision,
      });
      expect(condition(md.status, 'AnalysisPassing')).toMatchObject({
        status: 'False',
        reason: 'AnalysisFailed',
      });
    },
    TEST_TIMEOUT_MS + 60_000,
  );

  test(
    'a version that fails 5 % of its requests is reverted by the error-rate check while Ready',
    async () => {
      await release('1.3.0', { latencyMs: 40, failEvery: 20 });
      const stable = await stableNow();
      await apply(ns.name, scorer('1.3.0'));
      const md = await rolledBackFrom('1.3.0');
      const message = await expectRevertedByAnalysis(md, stable);
      // One request in 20 fails: over a 10 s window of about 40 requests that is 1 or 2 of them.
      expect(message).toMatch(
        /check error-rate failed 1\/1: error rate 0\.0\d+ > 0\.02 \(\S+ of \S+ requests failed over 10s\)/,
      );
      expect(message).not.toMatch(/check latency failed/);
      // The test model really failed requests (counted by the load generator).
      expect(load.tally.get(md.status!.lastRollback!.from!.revision!)!.failed).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS + 60_000,
  );

  test(
    'compared with stable: a canary 1.5x slower (60 ms against 40 ms) fails vs-stable alone; the absolute latency check passes',
    async () => {
      await release('1.4.0', { latencyMs: 60 });
      const stable = await stableNow();
      await apply(ns.name, scorer('1.4.0'));
      const md = await rolledBackFrom('1.4.0');
      const message = await expectRevertedByAnalysis(md, stable);
      expect(message).toMatch(
        /check vs-stable failed 1\/1: mean latency \S+ms vs stable \S+ms: ratio 1\.[3-7]\d* > 1\.2/,
      );
      const latency = md.status!.analysis!.checks!.find((c) => c.name === 'latency');
      expect(latency?.verdict).not.toBe('Fail');
    },
    TEST_TIMEOUT_MS + 60_000,
  );

  test(
    'Prometheus stopped mid-canary: the canary holds with a condition saying so and is not promoted; Prometheus back: it continues to promotion',
    async () => {
      await release('1.5.0', { latencyMs: 40 });
      await apply(ns.name, scorer('1.5.0'));
      const canary = await settled(
        (m) => m.status?.canaryVersion === '1.5.0' && m.status.canaryWeight === 50,
        '1.5.0 at 50 %',
      );
      const stableVersion = canary.status!.stableVersion!;
      const stop = await run('bash', [`${clusterScripts}/prometheus.sh`, 'stop']);
      expect(stop.code).toBe(0);
      const stoppedAt = Date.now();
      try {
        const held = await settled(
          (m) =>
            condition(m.status, 'AnalysisPassing')?.reason === 'PrometheusUnavailable' &&
            condition(m.status, 'Progressing')?.reason === 'PrometheusUnavailable',
          'the canary held with reason PrometheusUnavailable',
        );
        expect(condition(held.status, 'AnalysisPassing')?.message).toMatch(/Prometheus cannot be reached/);
        expect(held.status!.phase).toBe('Progressing');
        // Held past the end of its pause (6 s) and several intervals: never promoted, never reverted.
        const pauseEnd = Date.parse(canary.status!.currentStepStartedAt!) + 6_000;
        await sleep(Math.max(0, pauseEnd - Date.now()) + 8_000);
        const during = mds
          .of(MD)
          .filter((e) => e.at >= stoppedAt)
          .map((e) => e.object.status!);
        expect(during.length).toBeGreaterThan(0);
        expect(during.every((s) => s.stableVersion === stableVersion && s.phase !== 'RolledBack')).toBe(true);
        const still = await getMd(ns.name, MD);
        expect(still.status).toMatchObject({ stableVersion, canaryVersion: '1.5.0', canaryWeight: 50 });
      } finally {
        const start = await run('bash', [`${clusterScripts}/prometheus.sh`]);
        expect(start.code).toBe(0);
      }
      const md = await settled(
        (m) => m.status?.phase === 'Healthy' && m.status.stableVersion === '1.5.0',
        '1.5.0 promoted after Prometheus came back',
      );
      expect(md.status!.analysis!.checks!.every((c) => c.verdict === 'Pass')).toBe(true);
    },
    TEST_TIMEOUT_MS + 90_000,
  );

  test(
    'a regression right after the promotion, within the bake time: traffic goes back to the previous revision, still warm',
    async () => {
      await release('1.6.0', { latencyMs: 40 });
      await apply(ns.name, scorer('1.6.0', { bakeTime: '90s' }));
      const promoted = await settled(
        (m) => m.status?.stableVersion === '1.6.0' && m.status.analysis?.stage === 'Bake',
        '1.6.0 promoted, baking',
      );
      const baked = promoted.status!.stableRevision!;
      const previous = promoted.status!.analysis!.baseline!;
      expect(promoted.status!.warmRevisions?.map((w) => w.revision)).toEqual([previous]);
      // The regression: from now on every request to 1.6.0 takes 200 ms.
      load.params.set(baked, { latency_ms: 200 });
      const md = await rolledBackFrom('1.6.0');
      expect(md.status!.lastRollback).toMatchObject({
        reason: 'AnalysisFailed',
        from: { revision: baked },
        to: { revision: previous, version: '1.5.0' },
      });
      expect(md.status!.lastRollback!.message).toMatch(
        /check latency failed 1\/1: mean latency \S+ms > 100ms/,
      );
      expect(md.status!.stableRevision).toBe(previous);
      expect(md.status!.traffic).toEqual([{ revision: previous, version: '1.5.0', weight: 100 }]);
      expect(Date.parse(md.status!.lastRollback!.time!)).toBeLessThan(
        Date.parse(promoted.status!.analysis!.bakeUntil!),
      );
      const r = await until('the baked revision scaled to 0', async () => {
        const x = await revisionOf(ns.name, MD, baked);
        return x && x.replicas === 0 && x;
      });
      expect(r.replicas).toBe(0);
    },
    TEST_TIMEOUT_MS + 60_000,
  );

  test(
    'an operator killed mid-analysis resumes it from the status: the failure count goes on where it was',
    async () => {
      await release('1.7.0', { latencyMs: 40, failEvery: 20 });
      const limit3 = checks.map((c) => (c.name === 'error-rate' ? { ...c, failureLimit: 3 } : c));
      const started = Date.now();
      await apply(ns.name, scorer('1.7.0', { checks: limit3 }));
      const failuresOf = (m: ModelDeployment): number =>
        m.status?.analysis?.revision === m.status?.canaryRevision
          ? (m.status?.analysis?.checks?.find((c) => c.name === 'error-rate')?.failures ?? 0)
          : 0;
      const once = await settled(
        (m) => m.status?.canaryVersion === '1.7.0' && failuresOf(m) >= 1,
        'the error-rate check of 1.7.0 failed once',
      );
      await op!.stop('SIGKILL');
      const killedAt = Date.now();
      const before = failuresOf(once);
      expect(before).toBeLessThan(3);
      await sleep(3000);
      op = startE2EOperator(ns.name, ['--prometheus-url', promUrl, '--prometheus-timeout', '2s']);
      const md = await rolledBackFrom('1.7.0');
      expect(md.status!.lastRollback!.message).toMatch(/check error-rate failed 3\/3: error rate/);
      // The count never went back: the new operator went on from what the status said.
      const counts = mds
        .of(MD)
        .filter((e) => e.at >= started && e.object.status?.canaryVersion === '1.7.0')
        .map((e) => failuresOf(e.object));
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      // Exactly three failed evaluations in all (each is written to the status as it happens): a
      // count that restarted from 0 with the new operator would need more before the revert.
      const failedEvaluations = new Set(
        mds
          .of(MD)
          .filter((e) => e.at >= started)
          .flatMap((e) => e.object.status?.analysis?.checks ?? [])
          .filter((c) => c.name === 'error-rate' && c.verdict === 'Fail')
          .map((c) => c.evaluatedAt),
      );
      expect(failedEvaluations.size).toBe(3);
      // The new operator wrote a higher count than the killed one had left (it did not start over).
      const failed = md.status!.lastRollback!.from!.revision!;
      const written = mds
        .of(MD)
        .filter((e) => e.at > killedAt + 3000 && e.object.status?.analysis?.revision === failed)
        .map((e) => e.object.status!.analysis!.checks!.find((c) => c.name === 'error-rate')?.failures ?? 0);
      expect(Math.max(...written)).toBe(3);
      expect(Math.min(...written)).toBeGreaterThanOrEqual(before);
    },
    TEST_TIMEOUT_MS + 60_000,
  );
}
