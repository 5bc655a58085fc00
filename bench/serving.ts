// Benchmark: real serving during rollouts, on the real data plane (docs/data-plane.md): real Triton
// processes behind the local Gateway (Traefik), clients that send KServe v2 inference requests
// through it without pause, and the operator doing its job. Per repetition, three episodes:
//
// - `rollout`: a canary to a good version (25 %, pause, 50 %, pause, promote; the default
//   scaleDownDelaySeconds) from the apply until the old revision has no pod left;
// - `revert`: a version whose model fails to load, from the apply until its pods are gone after the
//   revert (it never gets traffic: the operator weights only Ready pods);
// - `failure`: a good canary at 50 % whose Triton processes are then killed (SIGKILL, as the OOM
//   killer would): time to safe from the kill, and from the first Pod event where the real readiness
//   probe's verdict is Ready=False, to the HTTPRoute at 100 % on stable.
//
// Every reply is counted: non-2xx and connection errors are failures. The goal for `rollout` and
// `revert` is 0 failed of every 10,000; `failure` loses the requests in flight on the killed
// processes, and the figure says how many.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readConfig, type DataPlaneConfig } from '../test/harness/dataplane/config.js';
import {
  addModel,
  failingModel,
  onDataPlane,
  publish,
  pythonModelVersion,
} from '../test/harness/dataplane.js';
import { LoadGenerator, ok, servedOnlyBy, tally, type Reply, type Target } from '../test/harness/serving.js';
import {
  applyObj,
  defaultRuleWeights,
  ensureNamespace,
  Informer,
  now,
  repoRoot,
  sleep,
  when,
  type BenchCluster,
  type Obj,
} from './lib.js';
import { GV } from './objects.js';

export const SERVING_NS = 'bench-serving';
const MD = 'serve';
const HOST = 'serve.bench.test';

export interface Episode {
  rep: number;
  kind: 'rollout' | 'revert' | 'failure';
  version: string;
  /** The episode's window: first request sent in it to the end (ms). */
  windowMs: number;
  requests: number;
  failed: number;
  /** Failed replies by cause (`HTTP 503`, `ECONNRESET`, ...). */
  failures: Record<string, number>;
  /** Replies by the version that answered. */
  byVersion: Record<string, number>;
  /**
   * When the failures happened (ms from the episode's start, runs of failures less than 200 ms
   * apart) beside what changed in the cluster (route weights, pods Ready or gone, phases): where a
   * failure comes from.
   */
  timeline: Array<{ t: number; what: string }>;
  /** `failure`: kill -> HTTPRoute 100 % stable, and first Ready=False Pod event -> the same. */
  killToSafeMs?: number;
  unreadyToSafeMs?: number;
  /** `failure`: kill -> first Ready=False Pod event (the probe's verdict reaching the apiserver). */
  killToUnreadyMs?: number;
  /** `failure`: the last reply answered by the failed version, after the kill (ms; 0 if none). */
  lastCanaryReplyMs?: number;
}

/** What the data plane and Gateway scripts need: the benchmark cluster's environment. */
function script(cluster: BenchCluster, path: string, ...args: string[]): string {
  return execFileSync('bash', [join(repoRoot, 'hack', path), ...args], {
    encoding: 'utf8',
    env: cluster.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Why this machine cannot run the serving benchmark, or undefined when it can. */
export function servingUnavailable(cluster: BenchCluster): string | undefined {
  try {
    script(cluster, 'dataplane/up.sh', '--check');
    return undefined;
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '').trim();
    return out || (err as Error).message;
  }
}

interface Status {
  phase?: string;
  stableRevision?: string;
  stableVersion?: string;
  canaryRevision?: string;
  canaryVersion?: string;
  canaryWeight?: number;
  observedGeneration?: number;
  lastRollback?: { from?: { version?: string } };
}
const st = (o: Obj): Status => (o.status ?? {}) as Status;
const current = (o: Obj): boolean => st(o).observedGeneration === o.metadata.generation;
const podReady = (p: Obj): boolean =>
  ((p.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some(
    (c) => c.type === 'Ready' && c.status === 'True',
  );
const revisionOf = (p: Obj): string | undefined => p.metadata.labels?.['modelship.io/revision'];

export class ServingBench {
  private cfg!: DataPlaneConfig;
  private target!: Target;
  private gateway!: { namespace: string; name: string; listener: string };
  private mds!: Informer;
  private pods!: Informer;
  private routes!: Informer;
  private minor = 0;

  constructor(private readonly cluster: BenchCluster) {}

  async setup(log: (s: string) => void): Promise<void> {
    log(
      'serving: starting the real data plane (Triton from PyPI on first use) and the local Gateway (Traefik)',
    );
    const config = script(this.cluster, 'dataplane/up.sh').trim().split('\n').pop()!;
    this.cfg = readConfig(config);
    const gw = Object.fromEntries(
      script(this.cluster, 'cluster/gateway.sh')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    this.gateway = {
      namespace: gw.MODELSHIP_GATEWAY_NAMESPACE!,
      name: gw.MODELSHIP_GATEWAY_NAME!,
      listener: gw.MODELSHIP_GATEWAY_LISTENER!,
    };
    this.target = { url: gw.MODELSHIP_GATEWAY_URL!, host: HOST, model: MD };
    await ensureNamespace(this.cluster.http, SERVING_NS);
    const ns = `/namespaces/${SERVING_NS}`;
    this.mds = new Informer(this.cluster.http, `/apis/modelship.io/v1alpha1${ns}/modeldeployments`);
    this.pods = new Informer(this.cluster.http, `/api/v1${ns}/pods`);
    this.routes = new Informer(this.cluster.http, `/apis/gateway.networking.k8s.io/v1${ns}/httproutes`);
    await Promise.all([this.mds.start(), this.pods.start(), this.routes.start()]);
    // The first version, served before any episode.
    const first = this.nextVersion();
    await this.release(first, addModel(first));
    await applyObj(this.cluster.http, this.md(first, []));
    await this.until((o) => st(o).phase === 'Healthy' && st(o).stableVersion === first, `${first} Healthy`);
    await servedOnlyBy(this.target, first);
  }

  private nextVersion(): string {
    return `1.${this.minor++}.0`;
  }

  private async release(version: string, model: string): Promise<void> {
    const { url, digest } = publish(this.cfg, `${SERVING_NS}/${MD}/${version}/model.py`, model);
    const mv = pythonModelVersion({ model: MD, version, url, digest }) as unknown as Obj;
    mv.metadata.namespace = SERVING_NS;
    await applyObj(this.cluster.http, mv);
  }

  /** Two replicas on the data plane's node, routed by the local Gateway. */
  private md(version: string, steps: unknown[]): Obj {
    return {
      apiVersion: GV,
      kind: 'ModelDeployment',
      metadata: { name: MD, namespace: SERVING_NS },
      spec: {
        model: MD,
        version,
        replicas: 2,
        strategy: { type: 'Canary', canary: { steps } },
        traffic: {
          router: 'gatewayApi',
          gatewayApi: {
            parentRefs: [
              {
                name: this.gateway.name,
                namespace: this.gateway.namespace,
                sectionName: this.gateway.listener,
              },
            ],
            hostnames: [HOST],
          },
        },
        pod: { ...onDataPlane(this.cfg), resources: { requests: { cpu: '100m', memory: '256Mi' } } },
      },
    };
  }

  private until(
    pred: (o: Obj) => boolean,
    what: string,
    timeoutMs = 180_000,
  ): Promise<{ at: number; o: Obj }> {
    return when(this.mds, (o) => o.metadata.name === MD && current(o) && pred(o), timeoutMs, what);
  }

  /** Resolves once no pod of `revision` is left. */
  private async podsGone(revision: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.pods.items.values()].some((p) => revisionOf(p) === revision)) {
      if (Date.now() > deadline)
        throw new Error(`bench: the pods of revision ${revision} were not gone in ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** One repetition: a rollout, a revert, a failure of a serving canary. */
  async rep(rep: number, concurrency: number, log: (s: string) => void): Promise<Episode[]> {
    const out: Episode[] = [];
    const episode = async (
      kind: Episode['kind'],
      version: string,
      body: (load: LoadGenerator) => Promise<Partial<Episode>>,
    ): Promise<void> => {
      const timeline: Episode['timeline'] = [];
      const t0 = Date.now();
      const mark = (what: string): void => void timeline.push({ t: Date.now() - t0, what });
      const offs = [
        this.routes.on((_, r) => mark(`route ${JSON.stringify(defaultRuleWeights(r, MD))}`)),
        this.pods.on((type, p) =>
          mark(
            `pod ${p.metadata.name} ${type === 'DELETED' ? 'deleted' : podReady(p) ? 'Ready' : (p.metadata as { deletionTimestamp?: string }).deletionTimestamp ? 'terminating' : 'not Ready'}`,
          ),
        ),
        this.mds.on((_, o) =>
          mark(
            `md ${st(o).phase} stable ${st(o).stableVersion} canary ${st(o).canaryVersion ?? '-'}@${st(o).canaryWeight ?? 0}`,
          ),
        ),
      ];
      const load = new LoadGenerator(this.target, { concurrency }).start();
      let extra: Partial<Episode>;
      try {
        extra = await body(load);
      } finally {
        await load.stop();
        for (const off of offs) off();
      }
      let run: { from: number; to: number; n: number; causes: Set<string> } | undefined;
      const flush = (): void => {
        if (run)
          timeline.push({
            t: run.from,
            what: `FAILED ${run.n} requests until +${run.to - run.from} ms: ${[...run.causes].join(' | ')}`,
          });
        run = undefined;
      };
      for (const r of load.replies.filter((x) => !ok(x)).sort((x, y) => x.sentAt - y.sentAt)) {
        const t = r.sentAt - t0;
        if (run && t - run.to > 200) flush();
        run ??= { from: t, to: t, n: 0, causes: new Set() };
        run.to = t;
        run.n++;
        run.causes.add(`${r.status || r.error} ${r.body ?? ''}`.trim());
      }
      flush();
      timeline.sort((x, y) => x.t - y.t);
      const replies = load.replies;
      const failures = tally(replies.filter((r) => !ok(r)));
      const e: Episode = {
        rep,
        kind,
        version,
        windowMs: Date.now() - t0,
        requests: replies.length,
        failed: replies.filter((r) => !ok(r)).length,
        failures,
        byVersion: tally(replies.filter(ok)),
        timeline,
        ...extra,
      };
      if (e.failed) for (const x of timeline) log(`    +${(x.t / 1000).toFixed(3)} s ${x.what}`);
      log(
        `  rep ${rep} ${kind} ${version}: ${e.requests} requests in ${(e.windowMs / 1000).toFixed(1)} s, ${e.failed} failed ${JSON.stringify(failures)}; answered ${JSON.stringify(e.byVersion)}${kind === 'failure' ? `; kill -> safe ${e.killToSafeMs?.toFixed(0)} ms, unready -> safe ${e.unreadyToSafeMs?.toFixed(0)} ms` : ''}`,
      );
      out.push(e);
    };

    // 1. rollout to a good version: canary 25 %, 50 %, promote; the old revision's pods go after
    //    the default scale-down delay.
    const good = this.nextVersion();
    await this.release(good, addModel(good));
    await episode('rollout', good, async () => {
      const before = st([...this.mds.items.values()][0]!).stableRevision!;
      await sleep(1000);
      await applyObj(
        this.cluster.http,
        this.md(good, [
          { setWeight: 25 },
          { pause: { duration: '5s' } },
          { setWeight: 50 },
          { pause: { duration: '5s' } },
        ]),
      );
      await this.until(
        (o) => st(o).phase === 'Healthy' && st(o).stableVersion === good && !st(o).canaryRevision,
        `${good} promoted`,
      );
      await this.podsGone(before);
      await sleep(2000);
      return {};
    });

    // 2. a version that fails to load: never Ready, never weighted, reverted.
    const broken = this.nextVersion();
    await this.release(broken, failingModel(broken));
    await episode('revert', broken, async () => {
      await sleep(1000);
      await applyObj(this.cluster.http, this.md(broken, [{ setWeight: 25 }, { pause: { duration: '5s' } }]));
      const { o } = await this.until(
        (x) => st(x).phase === 'RolledBack' && st(x).lastRollback?.from?.version === broken,
        `${broken} reverted`,
      );
      const failed = (o.status as { history?: Array<{ version: string; revision: string }> }).history?.find(
        (h) => h.version === broken,
      )?.revision;
      if (failed) await this.podsGone(failed);
      await sleep(2000);
      return {};
    });
    // Back to a clean spec on the stable version, so the next episode starts from Healthy.
    await applyObj(this.cluster.http, this.md(good, []));
    await this.until(
      (o) => st(o).phase === 'Healthy' && st(o).stableVersion === good,
      `${good} Healthy again`,
    );

    // 3. a good canary serving 50 % whose Triton processes are killed.
    const victim = this.nextVersion();
    await this.release(victim, addModel(victim));
    await episode('failure', victim, async (load) => {
      await applyObj(this.cluster.http, this.md(victim, [{ setWeight: 50 }, { pause: { duration: '1h' } }]));
      const { o } = await this.until(
        (x) => st(x).canaryVersion === victim && st(x).canaryWeight === 50,
        `${victim} at 50 %`,
      );
      const stable = st(o).stableRevision!;
      const canary = st(o).canaryRevision!;
      await when(
        this.routes,
        (r) => r.metadata.name === MD && defaultRuleWeights(r, MD)[canary] === 50,
        60_000,
        'the route at 50 %',
      );
      // Traefik serving the canary: it answers a share of the load.
      const since = Date.now();
      while (!load.between(since).some((r) => r.version === victim)) await sleep(100);
      await sleep(2000);
      const canaryPods = [...this.pods.items.values()].filter((p) => revisionOf(p) === canary);
      const unready = when(
        this.pods,
        (p) => revisionOf(p) === canary && !podReady(p),
        60_000,
        'a canary pod Ready=False',
        false,
      );
      const safe = when(
        this.routes,
        (r) =>
          r.metadata.name === MD &&
          JSON.stringify(defaultRuleWeights(r, MD)) === JSON.stringify({ [stable]: 100 }),
        120_000,
        'the route at 100 % stable',
        false,
      );
      const killedAt = now();
      const killedAtWall = Date.now();
      for (const p of canaryPods) this.killTriton(p);
      const [u, s] = await Promise.all([unready, safe]);
      await this.until(
        (x) => st(x).phase === 'RolledBack' && st(x).lastRollback?.from?.version === victim,
        `${victim} reverted`,
      );
      await this.podsGone(canary);
      await sleep(2000);
      const last = load.replies.filter((r) => r.version === victim && r.doneAt >= killedAtWall).pop();
      return {
        killToSafeMs: s.at - killedAt,
        unreadyToSafeMs: s.at - u.at,
        killToUnreadyMs: u.at - killedAt,
        lastCanaryReplyMs: last ? last.doneAt - killedAtWall : 0,
      };
    });
    await applyObj(this.cluster.http, this.md(good, []));
    await this.until(
      (o) => st(o).phase === 'Healthy' && st(o).stableVersion === good,
      `${good} Healthy again`,
    );
    return out;
  }

  /** SIGKILL to the Triton processes of a pod: the processes in its network namespace named tritonserver. */
  private killTriton(pod: Obj): void {
    const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
    if (!ip) throw new Error(`bench: pod ${pod.metadata.name} has no IP`);
    const netns = `${this.cfg.netnsPrefix}${ip.split('.').pop()}`;
    const pids = execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    const triton = pids.filter((pid) => {
      try {
        return execFileSync('cat', [`/proc/${pid}/comm`], { encoding: 'utf8' }).trim() === 'tritonserver';
      } catch {
        return false;
      }
    });
    if (triton.length === 0)
      throw new Error(`bench: no tritonserver process in ${netns} (pod ${pod.metadata.name})`);
    execFileSync('kill', ['-KILL', ...triton]);
  }

  stop(): void {
    this.mds?.stop();
    this.pods?.stop();
    this.routes?.stop();
  }
}

/** Replies of several episodes, as one count. */
export function failedOf(eps: readonly Episode[]): {
  requests: number;
  failed: number;
  failures: Record<string, number>;
} {
  const failures: Record<string, number> = {};
  for (const e of eps) for (const [k, v] of Object.entries(e.failures)) failures[k] = (failures[k] ?? 0) + v;
  return {
    requests: eps.reduce((s, e) => s + e.requests, 0),
    failed: eps.reduce((s, e) => s + e.failed, 0),
    failures,
  };
}

export type { Reply };
