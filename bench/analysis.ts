// How fast metric analysis reverts a regression (issue 14, docs/benchmarks.md): the time from the
// start of a latency regression of a Ready canary to all traffic on the stable revision, over
// `trials` canaries, on real components: the local control plane, the real data plane (Triton
// serving a test model whose latency a request parameter sets), the real Prometheus of
// hack/cluster/prometheus.sh (scrape interval 2 s) and the operator as a process.
//
// One trial: a new version (40 ms per request) rolls out as a canary at 50 % and waits at a pause
// without duration; once its checks pass, every request to it from then on takes 400 ms (t0). Two
// moments are taken from watch events: the ModelDeployment's status saying 100 % on stable with the
// revert recorded (the routing is written before the status), and the EndpointSlice of the Service
// `<md>` listing no ready canary endpoint (when clients of the Service stop reaching it).
//
// Standalone: node dist-bench/bench/analysis.js [--trials 10] [--interval 2s] [--window 10s]
// [--run-dir DIR] [--port 28543] [--keep-cluster]
// (root, for the data plane). From bench/main.ts: runAnalysisBench({...}) (see its options).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import {
  Informer,
  applyObj,
  ensureNamespace,
  httpFor,
  now,
  printTable,
  repoRoot,
  sleep,
  startOperator,
  summarize,
  when,
  writeResult,
  type Obj,
  type OperatorProc,
  type Summary,
} from './lib.js';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readConfig, type DataPlaneConfig } from '../test/harness/dataplane/config.js';
import { tunableModel } from '../test/harness/test-models.js';
import { Load } from '../test/harness/load.js';

const NS = 'bench-analysis';
const MD = 'bench-scorer';
const THRESHOLD_MS = 100;
const BASE_MS = 40;
const REGRESSED_MS = 400;

export interface AnalysisTrial {
  version: string;
  /** t0 -> status: 100 % on stable, revert recorded. */
  revertMs: number;
  /** t0 -> no ready endpoint of the canary in the Service's EndpointSlice. */
  endpointsMs: number;
  /** t0 -> the failing evaluation (its evaluatedAt, wall clock of the same machine). */
  detectMs: number;
  message: string;
}

export interface AnalysisBenchResult {
  trials: AnalysisTrial[];
  revert: Summary;
  endpoints: Summary;
  detect: Summary;
  settings: Record<string, string | number>;
}

/**
 * Runs the benchmark on a cluster of its own in `runDir` (apiserver on `port`; etcd port + 10, the
 * other components port + 1..3, Prometheus port + 7): started here, stopped at the end unless
 * `keep`. Needs root (the data plane).
 */
export async function runAnalysisBench(o: {
  trials: number;
  /** The check's evaluation interval and window (defaults 2s and 10s). */
  interval?: string;
  window?: string;
  runDir: string;
  port: number;
  keep?: boolean;
  log: (s: string) => void;
}): Promise<AnalysisBenchResult> {
  const INTERVAL = o.interval ?? '2s';
  const WINDOW = o.window ?? '10s';
  const env = {
    ...process.env,
    MODELSHIP_RUN_DIR: o.runDir,
    MODELSHIP_APISERVER_PORT: String(o.port),
    MODELSHIP_ETCD_PORT: String(o.port + 10),
    MODELSHIP_KCM_PORT: String(o.port + 1),
    MODELSHIP_SCHEDULER_PORT: String(o.port + 2),
    MODELSHIP_KWOK_PORT: String(o.port + 3),
  };
  const sh = (path: string, ...args: string[]): string =>
    execFileSync('bash', [join(repoRoot, 'hack', path), ...args], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  o.log(`analysis: cluster, data plane and Prometheus in ${o.runDir} (apiserver :${o.port})`);
  sh('cluster/up.sh');
  sh('cluster/install-crds.sh');
  const cfg = readConfig(sh('dataplane/up.sh').trim().split('\n').at(-1)!);
  const promEnv = Object.fromEntries(
    sh('cluster/prometheus.sh')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const promUrl = promEnv.MODELSHIP_PROMETHEUS_URL!;
  const kubeconfig = join(o.runDir, 'kubeconfig');
  const http = httpFor(kubeconfig);

  // The operator reads --prometheus-url from its environment (MODELSHIP_PROMETHEUS_URL).
  const saved = process.env.MODELSHIP_PROMETHEUS_URL;
  process.env.MODELSHIP_PROMETHEUS_URL = promUrl;
  let op: OperatorProc | undefined;
  let load: Load | undefined;
  const informers: Informer[] = [];
  try {
    op = await startOperator(kubeconfig);
    await ensureNamespace(http, NS);
    const mds = new Informer(http, `/apis/modelship.io/v1alpha1/namespaces/${NS}/modeldeployments`);
    const slices = new Informer(http, `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, {
      labelSelector: `kubernetes.io/service-name=${MD}`,
    });
    informers.push(mds, slices);
    await mds.start();
    await slices.start();
    load = new Load(async () => {
      const l = await http.getJson<{ items: V1Pod[] }>(`/api/v1/namespaces/${NS}/pods`, {
        labelSelector: `modelship.io/deployment=${MD}`,
      });
      return l.items;
    }, MD);
    load.start();

    const release = async (version: string): Promise<void> => {
      const path = `${NS}/${MD}/${version}/model.py`;
      const content = tunableModel(version, { latencyMs: BASE_MS });
      const file = join(cfg.store.dir, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      await applyObj(http, {
        apiVersion: 'modelship.io/v1alpha1',
        kind: 'ModelVersion',
        metadata: { name: `${MD}-${version}`, namespace: NS },
        spec: {
          model: MD,
          version,
          runtime: 'triton',
          format: 'python',
          storageUri: `${cfg.store.url}/${path}`,
          digest: `sha256:${createHash('sha256').update(content).digest('hex')}`,
          interface: {
            inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4] }],
            outputs: [
              { name: 'OUTPUT0', datatype: 'FP32', shape: [4] },
              { name: 'MODEL_VERSION', datatype: 'BYTES', shape: [1] },
            ],
          },
        },
      });
    };
    const deploy = async (version: string): Promise<void> =>
      applyObj(http, {
        apiVersion: 'modelship.io/v1alpha1',
        kind: 'ModelDeployment',
        metadata: { name: MD, namespace: NS },
        spec: {
          model: MD,
          version,
          replicas: 1,
          strategy: {
            type: 'Canary',
            canary: { steps: [{ setWeight: 50 }, { pause: {} }], scaleDownDelaySeconds: 0 },
            analysis: {
              interval: INTERVAL,
              checks: [
                {
                  name: 'latency',
                  builtin: 'MeanLatency',
                  threshold: THRESHOLD_MS,
                  minSamples: 10,
                  window: WINDOW,
                },
              ],
            },
          },
          traffic: { router: 'service' },
          pod: { ...onDataPlane(cfg), resources: { requests: { cpu: '100m', memory: '256Mi' } } },
        },
      });
    type Status = {
      phase?: string;
      stableRevision?: string;
      canaryRevision?: string;
      canaryWeight?: number;
      traffic?: Array<{ revision: string; weight: number }>;
      lastRollback?: { from?: { revision?: string }; message?: string; time?: string };
      conditions?: Array<{ type: string; status: string; reason: string }>;
      analysis?: { checks?: Array<{ name: string; verdict?: string; evaluatedAt?: string }> };
    };
    const st = (x: Obj): Status => (x.status ?? {}) as Status;

    await release('2.0.0');
    await deploy('2.0.0');
    await when(mds, (x) => st(x).phase === 'Healthy', 180_000, 'the first version Healthy');

    const trials: AnalysisTrial[] = [];
    for (let k = 1; k <= o.trials; k++) {
      const version = `2.0.${k}`;
      await release(version);
      await deploy(version);
      const at50 = await when(
        mds,
        (x) => {
          const s = st(x);
          const passing = s.conditions?.find((c) => c.type === 'AnalysisPassing');
          return !!s.canaryRevision && s.canaryWeight === 50 && passing?.reason === 'ChecksPassing';
        },
        180_000,
        `${version} at 50 % with its checks passing`,
      );
      const canary = st(at50.o).canaryRevision!;
      const stable = st(at50.o).stableRevision!;
      const t0 = now();
      load.params.set(canary, { latency_ms: REGRESSED_MS });
      const reverted = when(
        mds,
        (x) => {
          const s = st(x);
          return (
            s.lastRollback?.from?.revision === canary &&
            s.traffic?.length === 1 &&
            s.traffic[0]!.revision === stable &&
            s.traffic[0]!.weight === 100
          );
        },
        120_000,
        `${version} reverted`,
      );
      const gone = when(
        slices,
        (x) => {
          const eps =
            (
              x as unknown as {
                endpoints?: Array<{ conditions?: { ready?: boolean }; targetRef?: { name?: string } }>;
              }
            ).endpoints ?? [];
          return !eps.some((e) => e.conditions?.ready && e.targetRef?.name?.startsWith(`${MD}-${canary}-`));
        },
        120_000,
        `no ready endpoint of ${version}`,
        false,
      );
      const [r, g] = await Promise.all([reverted, gone]);
      const s = st(r.o);
      const failedAt = Date.parse(
        s.analysis?.checks?.find((c) => c.verdict === 'Fail')?.evaluatedAt ?? s.lastRollback?.time ?? '',
      );
      const trial = {
        version,
        revertMs: r.at - t0,
        endpointsMs: g.at - t0,
        detectMs: failedAt - t0,
        message: s.lastRollback?.message ?? '',
      };
      trials.push(trial);
      o.log(
        `analysis: trial ${k}/${o.trials}: status 100 % stable after ${Math.round(trial.revertMs)} ms, canary endpoints gone after ${Math.round(trial.endpointsMs)} ms`,
      );
      await sleep(1000);
    }
    const result: AnalysisBenchResult = {
      trials,
      revert: summarize(trials.map((t) => t.revertMs)),
      endpoints: summarize(trials.map((t) => t.endpointsMs)),
      detect: summarize(trials.map((t) => t.detectMs)),
      settings: {
        scrapeInterval: promEnv.MODELSHIP_PROMETHEUS_SCRAPE_INTERVAL ?? '2s',
        evaluationInterval: INTERVAL,
        window: WINDOW,
        check: `MeanLatency <= ${THRESHOLD_MS} ms, minSamples 10, failureLimit 1`,
        regression: `${BASE_MS} ms -> ${REGRESSED_MS} ms per request`,
        router: 'service',
      },
    };
    return result;
  } finally {
    await load?.stop();
    for (const i of informers) i.stop();
    await op?.stop();
    if (saved === undefined) delete process.env.MODELSHIP_PROMETHEUS_URL;
    else process.env.MODELSHIP_PROMETHEUS_URL = saved;
    if (!o.keep) sh('cluster/down.sh');
  }
}

export function printAnalysis(r: AnalysisBenchResult): void {
  const ms = (x: number): string => `${Math.round(x)} ms`;
  printTable(
    `metric analysis: latency regression -> 100 % on stable (${r.trials.length} trials; scrape ${r.settings.scrapeInterval}, evaluation ${r.settings.evaluationInterval}, window ${r.settings.window})`,
    [
      {
        measure: 'regression -> failing evaluation',
        p50: ms(r.detect.p50),
        p99: ms(r.detect.p99),
        max: ms(r.detect.max),
      },
      {
        measure: 'regression -> status 100 % stable',
        p50: ms(r.revert.p50),
        p99: ms(r.revert.p99),
        max: ms(r.revert.max),
      },
      {
        measure: 'regression -> canary out of the Service endpoints',
        p50: ms(r.endpoints.p50),
        p99: ms(r.endpoints.p99),
        max: ms(r.endpoints.max),
      },
    ],
  );
}

if (process.argv[1]?.endsWith(join('bench', 'analysis.js'))) {
  const { values: a } = parseArgs({
    options: {
      trials: { type: 'string', default: '10' },
      interval: { type: 'string', default: '2s' },
      window: { type: 'string', default: '10s' },
      'run-dir': { type: 'string', default: '/tmp/modelship-bench-analysis' },
      port: { type: 'string', default: '28543' },
      'keep-cluster': { type: 'boolean', default: false },
    },
  });
  const log = (s: string): void =>
    void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
  const r = await runAnalysisBench({
    trials: Number(a.trials),
    interval: a.interval!,
    window: a.window!,
    runDir: a['run-dir']!,
    port: Number(a.port),
    keep: a['keep-cluster']!,
    log,
  });
  printAnalysis(r);
  log(`wrote ${writeResult('analysis', r as unknown as Record<string, unknown>)}`);
}

/** spec.pod fields that put the pods on the data plane's node (as test/harness/dataplane.ts onDataPlane). */
function onDataPlane(cfg: DataPlaneConfig): { nodeSelector: object; tolerations: object[] } {
  return {
    nodeSelector: { [cfg.nodeLabel]: 'true' },
    tolerations: [{ key: cfg.nodeLabel, operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
  };
}
