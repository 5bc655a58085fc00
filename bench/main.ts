// `npm run bench`: every benchmark of docs/benchmarks.md against a control plane of the benchmark's
// own (never the shared test cluster), the operator as a separate process under a ServiceAccount
// identity. Prints a table per benchmark and writes JSON under bench/results/.
//
//   node dist-bench/bench/main.js [--n 1000] [--trials 20] [--reps 3] [--steady-seconds 120]
//     [--only tts,converge,scale,throughput,serving,analysis] [--serving-reps 3] [--serving-concurrency 8]
//     (peers, Argo Rollouts and Flagger beside modelship, runs only when named: --only peers; it
//     builds both the first time, about 30 minutes, and takes about 25 minutes)
//     [--analysis-window 4s] [--peers-trials 5] [--peers-default-trials 3] [--peers-deadline 10]
//     [--peers-cap 660] [--peers-tuned-cap 90] [--peers-tools argo-rollouts,flagger(,flagger-gatewayapi)]
//     (peers-latency, case (d) of the peers on the real data plane and Prometheus, root, only when
//     named: --only peers-latency) [--peers-latency-trials 3] [--peers-latency-default-trials 3]
//     [--peers-latency-cap 1320] [--peers-latency-tuned-cap 120]
//     [--scale-baseline] (scale: the growth to --n against as many plain Deployments + Services of
//     1 replica, made and deleted just before in the same run: the converge ratio at that N)
//     [--pop-namespaces 1] (scale: the population and its baseline spread over this many namespaces)
//     [--run-dir DIR] [--port 28443] [--keep-cluster]
//     [--operator-node-args='--cpu-prof --cpu-prof-dir=/tmp/prof'] (extra node flags for the operator;
//     Node refuses --cpu-prof in NODE_OPTIONS)
//   Environment: BENCH_OPERATOR_LOG=FILE keeps the operator's log in FILE, at the level
//   BENCH_OPERATOR_LOG_LEVEL (default warn): "rollout state" lines at info show when each
//   ModelDeployment turned Healthy.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  clusterPids,
  cpuDelta,
  cpuSnapshot,
  deleteAllOf,
  deleteNamespace,
  deleteNamespaces,
  fmt,
  fmtRange,
  machineInfo,
  operatorIdentity,
  printTable,
  procSample,
  scrape,
  sumOf,
  buckets,
  histogramQuantile,
  startCluster,
  startOperator,
  summarize,
  writeResult,
  type OperatorProc,
  type Summary,
} from './lib.js';
import {
  captureTemplate,
  convergeModelDeployments,
  convergePlain,
  grow,
  popNamespaces,
  rollAll,
  steadyState,
} from './scale.js';
import { printAnalysis, runAnalysisBench } from './analysis.js';
import { ServingBench, failedOf, servingUnavailable, type Episode } from './serving.js';
import { TimeToSafe, type TtsTrial } from './time-to-safe.js';
import { printPeers, runPeers, startArgoRollouts, startFlagger, type PeerProc } from './peers.js';
import { printLatency, runPeersLatency, startDataPlaneAndPrometheus } from './peers-latency.js';

const { values: a } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    'footprint-n': { type: 'string', default: '100' },
    trials: { type: 'string', default: '20' },
    reps: { type: 'string', default: '3' },
    'throughput-reps': { type: 'string' },
    'converge-n': { type: 'string' },
    /** Converge: which side goes first in every repetition (md or plain); default: alternate. */
    'converge-first': { type: 'string' },
    'steady-seconds': { type: 'string', default: '120' },
    only: { type: 'string', default: 'tts,converge,scale,throughput,serving,analysis' },
    'peers-trials': { type: 'string', default: '5' },
    'peers-default-trials': { type: 'string', default: '3' },
    'peers-deadline': { type: 'string', default: '10' },
    'peers-cap': { type: 'string', default: '660' },
    'peers-tuned-cap': { type: 'string', default: '90' },
    'peers-tools': { type: 'string', default: 'argo-rollouts,flagger' },
    'peers-latency-trials': { type: 'string', default: '3' },
    'peers-latency-default-trials': { type: 'string', default: '3' },
    'peers-latency-cap': { type: 'string', default: '1320' },
    'peers-latency-tuned-cap': { type: 'string', default: '120' },
    'analysis-window': { type: 'string', default: '4s' },
    'serving-reps': { type: 'string', default: '3' },
    'serving-concurrency': { type: 'string', default: '8' },
    'run-dir': { type: 'string', default: '/tmp/modelship-bench-run' },
    port: { type: 'string', default: '28443' },
    'keep-cluster': { type: 'boolean', default: false },
    /** Scale: before growing the population to --n, grow and delete the same number of plain workloads. */
    'scale-baseline': { type: 'boolean', default: false },
    /** Scale: the population (and its baseline) spread over this many namespaces, in turn. */
    'pop-namespaces': { type: 'string', default: '1' },
    'operator-node-args': { type: 'string', default: '' },
  },
});
const N = Number(a.n);
const SMALL = Math.min(Number(a['footprint-n']), N);
const TRIALS = Number(a.trials);
const REPS = Number(a.reps);
const TP_REPS = Number(a['throughput-reps'] ?? a.reps);
const CONVERGE_N = Number(a['converge-n'] ?? a.n);
const STEADY_S = Number(a['steady-seconds']);
const SPREAD = Math.max(1, Number(a['pop-namespaces']));
const ONLY = new Set(a.only!.split(','));
const OPERATOR_NODE_ARGS = a['operator-node-args']!.split(' ').filter(Boolean);
const log = (s: string): void =>
  void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const POP_NS = 'bench-pop';

async function main(): Promise<void> {
  if (SPREAD > 1 && ONLY.has('throughput'))
    throw new Error(
      'bench: --pop-namespaces > 1 is for scale; throughput rolls one namespace (drop one of them)',
    );
  const machine = machineInfo();
  log(`machine ${JSON.stringify(machine)}`);
  // kwok nodes advertise 64 CPUs and the rendered Triton pod requests 2: 32 pods a node, 28 with
  // room. At most: the population during a roll-out (2 pods each), or the population plus one
  // converge side (2 replicas each); only what the benchmarks chosen with --only make (fewer kwok
  // nodes: each one heartbeats, which a run of 10,000 ModelDeployments can do without).
  const popN = ONLY.has('scale') ? N : 0;
  const popPods = ONLY.has('throughput') ? 2 * popN : popN;
  const convPods = ONLY.has('converge') ? 2 * CONVERGE_N : 0;
  const pods = Math.max(popPods, popN + convPods) + 50;
  const nodes = Math.max(4, Math.ceil(pods / 28));
  log(`starting the benchmark cluster in ${a['run-dir']} (apiserver :${a.port}, ${nodes} kwok nodes)`);
  const cluster = startCluster(a['run-dir']!, Number(a.port), nodes);
  const { http, kube, runDir } = cluster;
  const id = await operatorIdentity(kube, 'modelship-bench', join(runDir, 'bench'));
  // The pre-traffic pod checks (the loaded interface of the sample Triton ModelVersion) are off
  // while the pods are kwok's, which serve nothing: with them on, no canary of the time-to-safe and
  // throughput benchmarks would get traffic. The serving benchmark turns them on for its real pods.
  let preTrafficChecks = false;
  let op: OperatorProc = await startOperator(id.kubeconfig, {
    nodeArgs: OPERATOR_NODE_ARGS,
    preTrafficChecks,
  });
  const restart = async (): Promise<number> => {
    await op.stop();
    const t = Date.now();
    op = await startOperator(id.kubeconfig, { nodeArgs: OPERATOR_NODE_ARGS, preTrafficChecks });
    return Date.now() - t;
  };
  log(`operator pid ${op.pid}, metrics :${op.port}, identity ${id.user}`);
  const common = {
    n: N,
    trials: TRIALS,
    reps: REPS,
    throughputReps: TP_REPS,
    convergeN: CONVERGE_N,
    steadySeconds: STEADY_S,
    nodes,
  };
  const tts = new TimeToSafe(http, kube, '2');
  let serving: ServingBench | undefined;
  const peers: PeerProc[] = [];
  const runServing = async (c: typeof cluster, base: typeof common): Promise<void> => {
    const reps = Number(a['serving-reps']);
    const concurrency = Number(a['serving-concurrency']);
    serving = new ServingBench(c);
    await serving.setup(log);
    log(
      `serving: ${reps} repetitions of rollout, revert, failure; ${concurrency} clients through the Gateway`,
    );
    const eps: Episode[] = [];
    for (let r = 0; r < reps; r++) eps.push(...(await serving.rep(r, concurrency, log)));
    const of = (k: Episode['kind']): Episode[] => eps.filter((e) => e.kind === k);
    const per10k = (x: { requests: number; failed: number }): string =>
      `${x.failed} of ${x.requests} (${fmt((x.failed / Math.max(1, x.requests)) * 10_000, 1)} per 10,000)`;
    const rows = (['rollout', 'revert', 'failure'] as const).map((k) => {
      const f = failedOf(of(k));
      return {
        episode: k,
        'failed requests': per10k(f),
        'failed by cause': JSON.stringify(f.failures),
        'requests per episode': fmtRange(summarize(of(k).map((e) => e.requests)), 0),
        'window (s)': fmtRange(summarize(of(k).map((e) => e.windowMs / 1000)), 1),
      };
    });
    printTable(`serving: requests through the Gateway, ${reps} reps (median (min–max))`, rows);
    const fail = of('failure');
    printTable(
      `serving: a canary at 50 % whose Triton processes are killed, ${fail.length} trials (median (min–max))`,
      [
        {
          what: 'kill -> HTTPRoute 100 % stable (s)',
          value: fmtRange(summarize(fail.map((e) => e.killToSafeMs! / 1000))),
        },
        {
          what: 'Ready=False event -> 100 % stable (s)',
          value: fmtRange(summarize(fail.map((e) => e.unreadyToSafeMs! / 1000))),
        },
        {
          what: 'kill -> Ready=False event (s)',
          value: fmtRange(summarize(fail.map((e) => e.killToUnreadyMs! / 1000))),
        },
        {
          what: 'kill -> last reply by the killed version (s)',
          value: fmtRange(summarize(fail.map((e) => e.lastCanaryReplyMs! / 1000))),
        },
        { what: 'failed requests per trial', value: fmtRange(summarize(fail.map((e) => e.failed)), 0) },
      ],
    );
    log(`wrote ${writeResult('serving', { ...base, servingReps: reps, concurrency, episodes: eps })}`);
  };
  try {
    // ---- 1. time to safe, with only the trial ModelDeployment ----------------------------------
    const ttsRuns: Record<string, TtsTrial[]> = {};
    if (ONLY.has('tts')) {
      log(`time-to-safe: ${TRIALS} trials of each kind with 1 ModelDeployment`);
      await tts.setup();
      ttsRuns['1'] = await tts.run(TRIALS, log);
    }

    // ---- 2. converge at scale ---------------------------------------------------------------------
    if (ONLY.has('converge')) {
      log(`converge: capturing one ModelDeployment's children as the plain baseline`);
      const { template, name } = await captureTemplate(http, kube);
      const reps: Array<{
        rep: number;
        plainMs: number;
        mdMs: number;
        /** When the operator had made the N-th revision Deployment / the N-th was Available. */
        createdMs: number;
        availableMs: number;
        ratio: number;
        /** Per ModelDeployment: its Ready event minus its revision Deployment's Available event (s). */
        lag: Summary | undefined;
        rssPeakMiB: number;
        operatorWrites: Record<string, number>;
        /** CPU seconds per process in each side's timed window. */
        cpu: { plain: Record<string, number>; md: Record<string, number> };
      }> = [];
      // Every process on the machine that serves either side: where a window's CPU went.
      const cpu = (): Record<string, number> =>
        cpuSnapshot({ ...clusterPids(runDir), operator: op.pid, benchmark: process.pid });
      for (let r = 0; r < REPS; r++) {
        // Alternate which goes first, so a trend in the machine's load does not favour one side.
        const first = a['converge-first'];
        const order =
          first === 'md' || (first === undefined && r % 2 === 1) ? ['md', 'plain'] : ['plain', 'md'];
        let plainMs = 0;
        let mdMs = 0;
        let createdMs = 0;
        let availableMs = 0;
        let lag: Summary | undefined;
        let rssPeakMiB = 0;
        let operatorWrites: Record<string, number> = {};
        const cpuUsed: { plain: Record<string, number>; md: Record<string, number> } = { plain: {}, md: {} };
        for (const which of order) {
          const ns = `bench-conv-${which}-${r}`;
          if (which === 'plain') {
            const r1 = await convergePlain(http, ns, CONVERGE_N, template, name, cpu);
            plainMs = r1.ms;
            cpuUsed.plain = r1.cpu;
          } else {
            const r2 = await convergeModelDeployments(
              http,
              ns,
              CONVERGE_N,
              { runDir, user: id.user },
              cpu,
              op.pid,
            );
            mdMs = r2.ms;
            lag = r2.lag;
            rssPeakMiB = r2.rssPeakMiB;
            // Now, not at the end of the repetition: the figures survive a plain side that fails.
            log(`  rep ${r} md: status lag (s) ${JSON.stringify(lag)}, operator RSS peak ${rssPeakMiB} MiB`);
            log(
              `  rep ${r} md: operator writes ${JSON.stringify(r2.writes)}; CPU s ${JSON.stringify(r2.cpu)}`,
            );
            log(`  rep ${r} md: phases (s) ${JSON.stringify(r2.phases)}`);
            createdMs = r2.createdMs;
            availableMs = r2.availableMs;
            operatorWrites = r2.writes;
            cpuUsed.md = r2.cpu;
          }
          log(
            `  rep ${r} ${which}: ${which === 'plain' ? plainMs.toFixed(0) : `${mdMs.toFixed(0)} (children created ${createdMs.toFixed(0)}, Available ${availableMs.toFixed(0)})`} ms`,
          );
          await deleteNamespace(kube, ns);
        }
        reps.push({
          rep: r,
          plainMs,
          mdMs,
          createdMs,
          availableMs,
          ratio: mdMs / plainMs,
          lag,
          rssPeakMiB,
          operatorWrites,
          cpu: cpuUsed,
        });
        log(`  rep ${r}: operator writes ${JSON.stringify(operatorWrites)}`);
        log(`  rep ${r}: status lag (s) ${JSON.stringify(lag)}, operator RSS peak ${rssPeakMiB} MiB`);
        log(
          `  rep ${r}: CPU seconds, plain ${JSON.stringify(cpuUsed.plain)}; md ${JSON.stringify(cpuUsed.md)}`,
        );
      }
      const p = summarize(reps.map((x) => x.plainMs / 1000));
      const m = summarize(reps.map((x) => x.mdMs / 1000));
      const q = summarize(reps.map((x) => x.ratio));
      printTable(
        `converge: ${CONVERGE_N} workloads x 2 replicas, apply -> Ready, ${REPS} reps (median (min–max))`,
        [
          { what: 'plain Deployments + Services (s)', value: fmtRange(p) },
          { what: 'ModelDeployments (s)', value: fmtRange(m) },
          {
            what: '  of which: N-th revision Deployment made (s)',
            value: fmtRange(summarize(reps.map((x) => x.createdMs / 1000))),
          },
          {
            what: '  of which: N-th revision Deployment Available (s)',
            value: fmtRange(summarize(reps.map((x) => x.availableMs / 1000))),
          },
          { what: 'ratio (same rep), goal <= 1.2', value: fmtRange(q) },
          ...(['p50', 'p99', 'max'] as const).map((k) => ({
            what: `status lag ${k}: MD Ready - its Deployment Available (s)`,
            value: fmtRange(summarize(reps.map((x) => x.lag?.[k] ?? NaN))),
          })),
          {
            what: 'operator RSS peak (MiB)',
            value: fmtRange(summarize(reps.map((x) => x.rssPeakMiB)), 0),
          },
        ],
      );
      // Where the CPU went: per process, core-seconds in each side's window (median over reps).
      const procs = Object.keys(reps[0]?.cpu.md ?? {});
      printTable(
        `converge: CPU seconds per process in the timed window (median (min–max)); ${machine.nproc as number} cores`,
        procs.map((proc) => ({
          process: proc,
          plain: fmtRange(summarize(reps.map((x) => x.cpu.plain[proc] ?? 0))),
          ModelDeployments: fmtRange(summarize(reps.map((x) => x.cpu.md[proc] ?? 0))),
          'ratio md/plain': fmtRange(
            summarize(reps.map((x) => (x.cpu.md[proc] ?? 0) / (x.cpu.plain[proc] || 1))),
          ),
        })),
      );
      log(`wrote ${writeResult('converge', { ...common, reps, summary: { plain: p, md: m, ratio: q } })}`);
    }

    // ---- 3./4. steady state and footprint, at SMALL then at N ---------------------------------------
    const steady: Record<string, unknown> = {};
    if (ONLY.has('scale')) {
      for (const [from, to] of [
        [0, SMALL],
        [SMALL, N],
      ] as const) {
        if (to <= from) continue;
        let baseline: { plainSeconds: number; cpu: Record<string, number> } | undefined;
        if (a['scale-baseline'] && to === N) {
          // The same burst as plain workloads (1 replica, the children one ModelDeployment renders),
          // made and deleted before the ModelDeployments grow: growth seconds / plainSeconds is the
          // converge ratio at this N, with the population of the first step present on both sides.
          const { template, name } = await captureTemplate(http, kube, 1);
          const pns = 'bench-scale-plain';
          const where = SPREAD > 1 ? `${SPREAD} namespaces ${pns}-*` : pns;
          log(`population baseline: ${to - from} plain Deployments + Services (1 replica) in ${where}`);
          const r = await convergePlain(
            http,
            pns,
            to - from,
            template,
            name,
            () => cpuSnapshot({ ...clusterPids(runDir), operator: op.pid, benchmark: process.pid }),
            to - from >= 2000 ? log : undefined,
            SPREAD,
          );
          baseline = { plainSeconds: +(r.ms / 1000).toFixed(1), cpu: r.cpu };
          log(`  plain: ${baseline.plainSeconds} s; CPU s ${JSON.stringify(r.cpu)}; deleting ${where}`);
          // Services first (their EndpointSlices go with them, so the pods' deletion updates none),
          // then the Deployments, each with requests in parallel; the namespace takes the rest.
          const t0 = Date.now();
          for (const x of popNamespaces(pns, SPREAD)) {
            for (const [apiVersion, kind] of [
              ['v1', 'Service'],
              ['apps/v1', 'Deployment'],
            ] as const) {
              const d = await deleteAllOf(http, apiVersion, kind, x);
              log(`  deleted ${d.deleted} ${kind}s of ${x} in ${d.seconds} s`);
            }
          }
          // All at once: one after the other, run 10's 100 namespaces took 10.6 minutes (about 6 s each).
          await deleteNamespaces(kube, popNamespaces(pns, SPREAD), 3600);
          log(`  ${where} gone ${((Date.now() - t0) / 1000).toFixed(1)} s after the deletes began`);
        }
        log(
          `population: growing ${SPREAD > 1 ? `${SPREAD} namespaces ${POP_NS}-*` : POP_NS} to ${to} ModelDeployments (1 replica each)`,
        );
        const m0 = await scrape(op.port);
        let rssPeak = procSample(op.pid).rssBytes;
        const sampler = setInterval(() => {
          try {
            rssPeak = Math.max(rssPeak, procSample(op.pid).rssBytes);
          } catch {
            // exited
          }
        }, 1000);
        const cpuOf = (): Record<string, number> =>
          cpuSnapshot({ ...clusterPids(runDir), operator: op.pid, benchmark: process.pid });
        const cpu0 = cpuOf();
        const growMs = await grow(
          http,
          POP_NS,
          from,
          to,
          to - from >= 2000 ? log : undefined,
          SPREAD,
        ).finally(() => clearInterval(sampler));
        const growCpu = cpuDelta(cpu0, cpuOf());
        const m1 = await scrape(op.port);
        // The burst of first deploys: reconciles per second and the queue's wait, from /metrics.
        const reconciles =
          sumOf(m1, 'controller_runtime_reconcile_total', { controller: 'modeldeployment' }) -
          sumOf(m0, 'controller_runtime_reconcile_total', { controller: 'modeldeployment' });
        const qb = buckets(m0, 'workqueue_queue_duration_seconds', { name: 'modeldeployment' });
        const qa = buckets(m1, 'workqueue_queue_duration_seconds', { name: 'modeldeployment' });
        const growth = {
          seconds: +(growMs / 1000).toFixed(1),
          reconciles,
          reconcilesPerSecond: +(reconciles / (growMs / 1000)).toFixed(2),
          queueWaitP50: +histogramQuantile(qb, qa, 0.5).toFixed(3),
          queueWaitP99: +histogramQuantile(qb, qa, 0.99).toFixed(3),
          rssPeakMiB: +(rssPeak / 2 ** 20).toFixed(1),
          cpu: growCpu,
          ...(baseline
            ? { baseline, ratioToPlain: +(growMs / 1000 / baseline.plainSeconds).toFixed(2) }
            : {}),
        };
        log(`  ${to - from} more Ready in ${(growMs / 1000).toFixed(1)} s: ${JSON.stringify(growth)}`);
        // A fresh process, so its memory is that of an operator started on N objects.
        const startMs = await restart();
        const startRss = procSample(op.pid).rssBytes / 2 ** 20;
        log(
          `  operator restarted, caches synced in ${startMs} ms (RSS ${startRss.toFixed(0)} MiB); settling 30 s`,
        );
        await new Promise((r) => setTimeout(r, 30_000));
        const s = await steadyState(op, runDir, id.user, STEADY_S);
        steady[String(to)] = {
          total: to + 1,
          growSeconds: growMs / 1000,
          growth,
          cacheSyncMs: startMs,
          startRssMiB: +startRss.toFixed(1),
          ...s,
        };
        log(
          `  ${to}: ${s.writes} writes in ${s.windowSeconds.toFixed(0)} s ${JSON.stringify(s.byVerbResource)}`,
        );
      }
      printTable(
        'steady state and footprint (operator restarted on the population, 30 s settle, then the window)',
        [
          ...Object.entries(steady).map(([k, v]) => {
            const s = v as Awaited<ReturnType<typeof steadyState>> & {
              cacheSyncMs: number;
              startRssMiB: number;
              growth: {
                seconds: number;
                reconcilesPerSecond: number;
                rssPeakMiB: number;
                ratioToPlain?: number;
                baseline?: { plainSeconds: number };
              };
            };
            return {
              ModelDeployments: `${k} (+1 tts)`,
              'window s': fmt(s.windowSeconds, 0),
              'writes/min (goal 0)': s.writesPerMinute,
              'writes by verb': JSON.stringify(s.byVerbResource),
              'RSS MiB median (min–max)': `${s.rssMiB.median} (${s.rssMiB.min}–${s.rssMiB.max})`,
              'CPU % (window)': s.cpuPercent,
              'cache sync ms': s.cacheSyncMs,
              'RSS after restart MiB': s.startRssMiB,
              'growth: s, reconciles/s, RSS peak MiB': `${s.growth.seconds}, ${s.growth.reconcilesPerSecond}, ${s.growth.rssPeakMiB}`,
              'plain s, ratio (goal <= 1.2)': s.growth.baseline
                ? `${s.growth.baseline.plainSeconds}, ${s.growth.ratioToPlain}`
                : '–',
            };
          }),
        ],
      );
      log(`wrote ${writeResult('steady-footprint', { ...common, steady })}`);
    }

    // ---- 1 again, with N ModelDeployments present ----------------------------------------------------
    if (ONLY.has('tts') && ONLY.has('scale')) {
      log(`time-to-safe: ${TRIALS} trials of each kind with ${N} more ModelDeployments present`);
      ttsRuns[String(N + 1)] = await tts.run(TRIALS, log);
    }
    if (ONLY.has('tts')) {
      const rows: Array<Record<string, string | number>> = [];
      const summary: Record<string, unknown> = {};
      for (const [count, trials] of Object.entries(ttsRuns)) {
        for (const kind of ['ready-then-crash', 'crash-from-start'] as const) {
          const ts = trials.filter((t) => t.kind === kind);
          const safe = summarize(ts.map((t) => t.timeToSafeMs));
          const zero = summarize(ts.map((t) => t.scaledToZeroMs));
          const rb = summarize(ts.map((t) => t.rolledBackStatusMs));
          summary[`${count}/${kind}`] = { timeToSafeMs: safe, scaledToZeroMs: zero, rolledBackStatusMs: rb };
          const w = summarize(ts.map((t) => t.canaryWeightAtFailure));
          for (const [metric, s] of [
            ['CrashLoopBackOff -> route 100% stable', safe],
            ['CrashLoopBackOff -> canary Deployment replicas 0', zero],
            ['CrashLoopBackOff -> status RolledBack', rb],
          ] as const) {
            rows.push({
              MDs: count,
              trial: kind,
              'canary % at failure': `${w.min}–${w.max}`,
              metric,
              n: s.n,
              'p50 ms': fmt(s.p50, 0),
              'p99 ms': fmt(s.p99, 0),
              'min ms': fmt(s.min, 0),
              'max ms': fmt(s.max, 0),
            });
          }
        }
      }
      printTable('time to safe (watch receipt times; p99 of 20 samples is the maximum)', rows);
      log(`wrote ${writeResult('time-to-safe', { ...common, summary, trials: ttsRuns })}`);
    }

    // ---- 5. throughput: every ModelDeployment rolls at once ------------------------------------------
    if (ONLY.has('throughput') && ONLY.has('scale')) {
      const runs = [];
      for (let r = 0; r < TP_REPS; r++) {
        const version = `${3 + r}.0.0`;
        log(`throughput: rolling ${N} ModelDeployments to ${version} at once`);
        const t = await rollAll(http, op, runDir, id.user, POP_NS, N, version);
        log(`  ${JSON.stringify(t)}`);
        runs.push(t);
      }
      const sec = summarize(runs.map((x) => x.seconds));
      const rps = summarize(runs.map((x) => x.reconcilesPerSecond));
      const q50 = summarize(runs.map((x) => x.queueSeconds.p50));
      const q99 = summarize(runs.map((x) => x.queueSeconds.p99));
      const rss = summarize(runs.map((x) => x.rssPeakMiB));
      const cpu = summarize(runs.map((x) => x.cpuPercent));
      const per = summarize(runs.map((x) => x.reconciles / N));
      const wr = summarize(runs.map((x) => x.apiWrites / N));
      printTable(`throughput: ${N} ModelDeployments roll at once, ${TP_REPS} reps (median (min–max))`, [
        { what: 'all Ready on the new version (s)', value: fmtRange(sec, 1) },
        { what: 'reconciles/s', value: fmtRange(rps, 1) },
        { what: 'reconciles per ModelDeployment', value: fmtRange(per, 1) },
        { what: 'operator API writes per ModelDeployment', value: fmtRange(wr, 1) },
        { what: 'queue wait p50 (s, histogram)', value: fmtRange(q50, 3) },
        { what: 'queue wait p99 (s, histogram)', value: fmtRange(q99, 3) },
        { what: 'RSS peak (MiB)', value: fmtRange(rss, 0) },
        { what: 'CPU % of one core', value: fmtRange(cpu, 0) },
      ]);
      log(`wrote ${writeResult('throughput', { ...common, runs })}`);
    }

    // ---- 5. real serving on the real data plane: requests lost, time to safe -------------------
    if (ONLY.has('serving')) {
      const why = servingUnavailable(cluster);
      if (why) {
        log(`serving: skipped, this machine cannot run the real data plane: ${why}`);
      } else {
        preTrafficChecks = true;
        await restart();
        await runServing(cluster, common);
      }
    }

    // ---- 6. metric analysis on the real data plane with a real Prometheus (a cluster of its own) ----
    if (ONLY.has('analysis')) {
      const why = servingUnavailable(cluster);
      if (why) {
        log(`analysis: skipped, this machine cannot run the real data plane: ${why}`);
      } else {
        const r = await runAnalysisBench({
          trials: Math.max(10, TRIALS),
          window: a['analysis-window']!,
          runDir: `${a['run-dir']}-analysis`,
          port: Number(a.port) + 100,
          log,
        });
        printAnalysis(r);
        log(`wrote ${writeResult('analysis', r as unknown as Record<string, unknown>)}`);
      }
    }

    // ---- 7. peers: Argo Rollouts beside modelship, same pods, same failures ----------------------
    if (ONLY.has('peers')) {
      // The operator at its default unready grace (10 s), like Argo Rollouts at its defaults; its
      // pre-traffic pod checks off: the kwok pods serve nothing (bench/lib.ts startOperator).
      await op.stop();
      op = await startOperator(id.kubeconfig, {
        nodeArgs: OPERATOR_NODE_ARGS,
        unreadyGrace: '10s',
        preTrafficChecks: false,
      });
      const which = new Set(a['peers-tools']!.split(','));
      if (which.has('argo-rollouts')) peers.push(await startArgoRollouts(cluster, log));
      if (which.has('flagger') || which.has('flagger-gatewayapi')) {
        const fl = await startFlagger(cluster, log);
        // One Flagger process serves both: each Canary names its provider.
        if (which.has('flagger')) peers.push(fl);
        if (which.has('flagger-gatewayapi')) peers.push({ ...fl, tool: 'flagger-gatewayapi' });
      }
      const r = await runPeers(cluster, peers, {
        trials: Number(a['peers-trials']),
        defaultTrials: Number(a['peers-default-trials']),
        deadlineSeconds: Number(a['peers-deadline']),
        capSeconds: Number(a['peers-cap']),
        tunedCapSeconds: Number(a['peers-tuned-cap']),
        log,
      });
      printPeers(r);
      log(`wrote ${writeResult('peers', { ...common, ...r } as unknown as Record<string, unknown>)}`);
    }

    // ---- 8. peers, case (d): a latency regression judged through the same real Prometheus -----------
    if (ONLY.has('peers-latency')) {
      const why = servingUnavailable(cluster);
      if (why) {
        log(`peers-latency: skipped, this machine cannot run the real data plane: ${why}`);
      } else {
        log('peers-latency: starting the real data plane and Prometheus beside the benchmark cluster');
        const env = startDataPlaneAndPrometheus(cluster);
        // The operator reads --prometheus-url from its environment (MODELSHIP_PROMETHEUS_URL).
        process.env.MODELSHIP_PROMETHEUS_URL = env.promUrl;
        await op.stop();
        op = await startOperator(id.kubeconfig, { nodeArgs: OPERATOR_NODE_ARGS, unreadyGrace: '10s' });
        const which = new Set(a['peers-tools']!.split(','));
        const have = new Set(peers.map((p) => p.tool));
        if (which.has('argo-rollouts') && !have.has('argo-rollouts'))
          peers.push(await startArgoRollouts(cluster, log));
        if (which.has('flagger') && !have.has('flagger'))
          peers.push(await startFlagger(cluster, log, env.promUrl));
        const r = await runPeersLatency(cluster, env, peers, {
          trials: Number(a['peers-latency-trials']),
          defaultTrials: Number(a['peers-latency-default-trials']),
          capSeconds: Number(a['peers-latency-cap']),
          tunedCapSeconds: Number(a['peers-latency-tuned-cap']),
          log,
        });
        printLatency(r);
        log(
          `wrote ${writeResult('peers-latency', { ...common, ...r } as unknown as Record<string, unknown>)}`,
        );
      }
    }
  } finally {
    for (const p of peers) await p.stop();
    serving?.stop();
    tts.stop();
    await op.stop();
    const crash = op
      .output()
      .split('\n')
      .filter((l) => /"level":"error"|FATAL|Uncaught/.test(l));
    if (crash.length) log(`operator errors (last 10):\n${crash.slice(-10).join('\n')}`);
    if (!a['keep-cluster']) {
      log('stopping the benchmark cluster');
      cluster.down();
    }
  }
  void machine;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
