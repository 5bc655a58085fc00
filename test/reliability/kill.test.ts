/**
 * The operator SIGKILLed at random points of its rollouts, again and again. One operator process at a
 * time; after each kill a new one starts (what a Deployment's ReplicaSet does after an OOM kill or a
 * node loss). A ModelDeployment walks through a sequence of versions, some of which crash-loop (the
 * kwok fault annotation), so kills land in first deploys, weight steps, pauses, previews, switches,
 * failure detection, rollbacks and scale-downs. Three scenarios, one after the other with the same
 * chain of operators: canary steps through a Gateway API HTTPRoute, a blue-green switch through an
 * Istio VirtualService, and canary steps through the plain Service (where the split is a ratio of
 * pods). The delays are seeded (the seed is logged; MODELSHIP_SEED replays a run).
 *
 * After each version (a checkpoint, with a final operator left running) the world must hold:
 * - no traffic on a failed revision: a revision whose newest history entry is RolledBack or Failed
 *   has weight 0, in status.traffic and in the router's object, and the two agree (with the plain
 *   Service, the Service does not select a failed revision that still has pods);
 * - nothing duplicated: one Deployment per revision hash, and one revision per version + pod spec;
 * - nothing lost: the stable revision's Deployment exists and serves;
 * - status converged: observedGeneration == generation, and two reads seconds apart are equal;
 * - the rollout ended as it should: a healthy version promoted, a crash-looping one reverted.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { LABEL_REVISION } from '../../src/core/labels.js';
import { releaseAll, tempNamespace } from '../harness/kube.js';
import {
  FAULT,
  canaryModelDeployment,
  apply,
  getMd,
  modelVersion,
  saveLog,
  serviceWeights,
  sleep,
  startE2EOperator,
  toRevision,
  routeWeights,
  vsWeights,
  waiter,
  listObjects,
  type Operator,
  type Weights,
} from '../harness/e2e.js';
import { crashLines, seedFor, seededRandom } from '../harness/faults.js';

type Router = 'gatewayApi' | 'istio' | 'service';

interface Scenario {
  title: string;
  md: string;
  strategy: 'Canary' | 'BlueGreen';
  router: Router;
  /** The versions rolled out in order; `true` = its pods crash-loop. */
  plan: Array<[string, boolean]>;
  killsPerRollout: number;
}

const SHORT_PLAN: Array<[string, boolean]> = [
  ['1.0.0', false],
  ['1.1.0', false],
  ['1.2.0', true],
  ['1.3.0', false],
];

const SCENARIOS: Scenario[] = [
  {
    title: 'canary steps through a Gateway API HTTPRoute',
    md: 'killme',
    strategy: 'Canary',
    router: 'gatewayApi',
    plan: [
      ['1.0.0', false],
      ['1.1.0', false],
      ['1.2.0', true],
      ['1.3.0', false],
      ['1.4.0', true],
      ['1.5.0', false],
    ],
    killsPerRollout: 4,
  },
  {
    title: 'a blue-green switch through an Istio VirtualService',
    md: 'killbg',
    strategy: 'BlueGreen',
    router: 'istio',
    plan: SHORT_PLAN,
    killsPerRollout: 3,
  },
  {
    title: 'canary steps through the plain Service',
    md: 'killsvc',
    strategy: 'Canary',
    router: 'service',
    plan: SHORT_PLAN,
    killsPerRollout: 3,
  },
];

const seed = seedFor('kill.test');
const random = seededRandom(seed);
let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const all: Operator[] = [];
let kills = 0;
let midChecks = 0;
const until = waiter(
  () => ns.name,
  () => op,
);

const TRAFFIC: Record<Router, object> = {
  gatewayApi: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
  istio: { router: 'istio', istio: { hosts: ['killbg.example.com'] } },
  service: { router: 'service' },
};

const manifest = (sc: Scenario, version: string, crash: boolean): object =>
  canaryModelDeployment({
    name: sc.md,
    version,
    steps: [
      { setWeight: 30 },
      { pause: { duration: '1s' } },
      { setWeight: 60 },
      { pause: { duration: '1s' } },
    ],
    traffic: TRAFFIC[sc.router],
    spec: {
      ...(sc.strategy === 'BlueGreen'
        ? {
            strategy: {
              type: 'BlueGreen',
              blueGreen: {
                previewService: true,
                autoPromotionEnabled: true,
                autoPromotionSeconds: 1,
                scaleDownDelaySeconds: 0,
              },
            },
          }
        : {}),
      ...(crash ? { pod: { annotations: { [FAULT]: 'crashloop' } } } : {}),
    },
  });

function start(): Operator {
  op = startE2EOperator(ns.name);
  all.push(op);
  return op;
}

/** SIGKILL the running operator after a seeded random delay, then start the next one. */
async function killAfterRandomDelay(): Promise<void> {
  // Up to 2.5 s: an operator needs ~0.5 s to list and sync, so some kills land before its first
  // write, most in the middle of a reconcile or a step.
  await sleep(Math.round(50 + random() * 2450));
  const died = op!;
  await died.stop('SIGKILL');
  kills++;
  start();
}

interface World {
  md: ModelDeployment;
  deployments: V1Deployment[];
  route: Weights | undefined;
  /** The plain Service's selector (service router only). */
  selector?: Record<string, string>;
}

/** The router's weights (and, for the plain Service, its selector). */
async function readRoute(sc: Scenario): Promise<Pick<World, 'route' | 'selector'>> {
  if (sc.router === 'gatewayApi') return { route: await routeWeights(ns.name, sc.md) };
  if (sc.router === 'istio') return { route: await vsWeights(ns.name, sc.md) };
  const svc = await serviceWeights(ns.name, sc.md);
  return svc ? { route: svc.weights, selector: svc.selector } : { route: undefined };
}

async function readWorld(sc: Scenario): Promise<World> {
  return {
    md: await getMd(ns.name, sc.md),
    deployments: await listObjects<V1Deployment>(ns.name, 'deployments', `modelship.io/deployment=${sc.md}`),
    ...(await readRoute(sc)),
  };
}

/** The invariants that hold at any checkpoint; returns a list of violations (empty = fine). */
function violations(sc: Scenario, w: World, settled = true): string[] {
  const out: string[] = [];
  const s = w.md.status ?? {};
  const traffic: Weights = Object.fromEntries(
    (s.traffic ?? []).filter((t) => t.weight > 0).map((t) => [t.revision, t.weight]),
  );
  // Mid-rollout the route may be one step ahead of the status (it is applied first): compare only
  // once settled.
  if (settled && JSON.stringify(sorted(traffic)) !== JSON.stringify(sorted(w.route ?? {})))
    out.push(`status.traffic ${JSON.stringify(traffic)} != router ${JSON.stringify(w.route)}`);
  const revs = w.deployments.map(toRevision);
  const newest = new Map<string, string>();
  for (const h of s.history ?? []) newest.set(h.revision, h.result);
  for (const [rev, result] of newest) {
    if (result !== 'RolledBack' && result !== 'Failed') continue;
    if ((traffic[rev] ?? 0) > 0 || (w.route?.[rev] ?? 0) > 0)
      out.push(
        `failed revision ${rev} (${result}) has traffic: status ${traffic[rev]}, route ${w.route?.[rev]}`,
      );
    // A Service that selects every pod of the ModelDeployment reaches a failed revision's pods
    // whatever the table says, unless it has none.
    const pods = revs.find((r) => r.hash === rev)?.replicas ?? 0;
    if (w.selector && w.selector[LABEL_REVISION] === undefined && pods > 0)
      out.push(`the Service selects every revision while failed revision ${rev} has ${pods} replicas`);
    if (w.selector?.[LABEL_REVISION] === rev) out.push(`the Service selects failed revision ${rev}`);
  }
  const hashes = revs.map((r) => r.hash);
  if (new Set(hashes).size !== hashes.length) out.push(`duplicated revision hashes: ${hashes.join(',')}`);
  for (const r of revs)
    if (r.name !== `${sc.md}-${r.hash}`) out.push(`Deployment ${r.name} not named after hash ${r.hash}`);
  // Each version is rolled out with one pod spec only, so a version must have one revision.
  const versions = revs.map((r) => r.version);
  if (new Set(versions).size !== versions.length)
    out.push(`two revisions for one version: ${versions.join(',')}`);
  if (s.stableRevision && !hashes.includes(s.stableRevision))
    out.push(`stable revision ${s.stableRevision} has no Deployment (lost)`);
  return out;
}

const sorted = (w: Weights): Weights =>
  Object.fromEntries(Object.entries(w).sort(([a], [b]) => a.localeCompare(b)));

beforeAll(async () => {
  ns = await tempNamespace('rel-kill');
  for (const sc of SCENARIOS) for (const [v] of sc.plan) await apply(ns.name, modelVersion(sc.md, v));
  start();
}, 60000);

afterAll(async () => {
  await releaseAll(ns.name);
  await op?.stop();
  process.stderr.write(
    `kill.test: ${kills} kills, ${midChecks} mid-rollout checks, operator logs: ${saveLog('rel-kill', all)}\n`,
  );
  await ns.remove();
}, 120000);

describe.each(SCENARIOS)('operator SIGKILLed during $title', (sc) => {
  test(`${sc.plan.length} rollouts, ${sc.killsPerRollout} SIGKILLs each at seeded random points, and the world stays whole`, async () => {
    const killsBefore = kills;
    let lastGood: string | undefined;
    for (const [version, crash] of sc.plan) {
      await apply(ns.name, manifest(sc, version, crash));
      for (let i = 0; i < sc.killsPerRollout; i++) {
        await killAfterRandomDelay();
        // Between kills too (the rollout half done): nothing failed carries traffic, nothing doubled.
        const mid = (await readWorld(sc).catch(() => undefined)) as World | undefined;
        if (mid) {
          midChecks++;
          expect({ version, kill: kills, violations: violations(sc, mid, false) }).toEqual({
            version,
            kill: kills,
            violations: [],
          });
        }
      }

      // Checkpoint: the last operator started runs undisturbed until the rollout has ended.
      const expected = crash ? lastGood! : version;
      const done = await until(
        `${version}${crash ? ' (crash-looping) reverted to ' + lastGood : ' promoted'}, status current`,
        async () => {
          const m = await getMd(ns.name, sc.md);
          const s = m.status;
          if (s?.observedGeneration !== m.metadata?.generation || s?.stableVersion !== expected) return false;
          if (s.canaryRevision) return false;
          // The revision that lost (a reverted canary, a superseded stable) has no pods left.
          if (s.replicas !== m.spec.replicas) return false;
          const newest = [...(s.history ?? [])].reverse().find((h) => h.version === version);
          if (crash && !(newest && (newest.result === 'RolledBack' || newest.result === 'Failed')))
            return false;
          const t = (s.traffic ?? []).filter((x) => x.weight > 0);
          return t.length === 1 && t[0]!.weight === 100 && t[0]!.revision === s.stableRevision && m;
        },
        { md: sc.md, timeoutMs: 60000 },
      );
      const a = await readWorld(sc);
      await sleep(2000);
      const b = await readWorld(sc);
      expect({ version, violations: violations(sc, b) }).toEqual({ version, violations: [] });
      // Converged: the status does not move any more once the rollout ended.
      expect(b.md.status).toEqual(a.md.status);
      expect(b.md.status?.observedGeneration).toBe(b.md.metadata?.generation);
      const stableRev = done.status!.stableRevision!;
      expect(b.route).toEqual({ [stableRev]: 100 });
      if (b.selector) expect(b.selector[LABEL_REVISION]).toBe(stableRev);
      const stable = b.deployments.map(toRevision).find((r) => r.hash === stableRev);
      expect(stable).toMatchObject({ version: expected, replicas: 2 });
      if (!crash) lastGood = version;
    }
    expect(kills - killsBefore).toBe(sc.plan.length * sc.killsPerRollout);
    // Every operator died of SIGKILL or still runs; none crashed on its own.
    const crashed = all.filter((o) => o.proc.exitCode !== null);
    expect(crashed.map((o) => o.lines(undefined, 5))).toEqual([]);
    expect(all.flatMap((o) => crashLines(o.output()))).toEqual([]);
  }, 300000);
});

test('at least 20 SIGKILLs in all', () => {
  expect(kills).toBeGreaterThanOrEqual(20);
});
