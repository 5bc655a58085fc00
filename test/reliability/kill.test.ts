/**
 * The operator SIGKILLed at random points of its rollouts, again and again. One operator process at a
 * time; after each kill a new one starts (what a Deployment's ReplicaSet does after an OOM kill or a
 * node loss). The ModelDeployment walks canary steps with short pauses through a sequence of versions,
 * some of which crash-loop (the kwok fault annotation), so kills land in first deploys, weight steps,
 * pauses, failure detection, rollbacks and scale-downs. The delays are seeded (the seed is logged;
 * MODELSHIP_SEED replays a run).
 *
 * After each version (a checkpoint, with a final operator left running) the world must hold:
 * - no traffic on a failed revision: a revision whose newest history entry is RolledBack or Failed
 *   has weight 0, in status.traffic and in the HTTPRoute, and the two agree;
 * - nothing duplicated: one Deployment per revision hash, and one revision per version + pod spec;
 * - nothing lost: the stable revision's Deployment exists and serves;
 * - status converged: observedGeneration == generation, and two reads seconds apart are equal;
 * - the rollout ended as it should: a healthy version promoted, a crash-looping one reverted.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { releaseAll, tempNamespace } from '../harness/kube.js';
import {
  FAULT,
  canaryModelDeployment,
  apply,
  getMd,
  modelVersion,
  routeWeights,
  saveLog,
  sleep,
  startE2EOperator,
  toRevision,
  waiter,
  listObjects,
  type Operator,
  type Weights,
} from '../harness/e2e.js';
import { crashLines, seedFor, seededRandom } from '../harness/faults.js';

const MD = 'killme';
/** The versions rolled out in order; `true` = its pods crash-loop. */
const PLAN: Array<[string, boolean]> = [
  ['1.0.0', false],
  ['1.1.0', false],
  ['1.2.0', true],
  ['1.3.0', false],
  ['1.4.0', true],
  ['1.5.0', false],
];
const KILLS_PER_ROLLOUT = 4;

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

const md = (version: string, crash: boolean): object =>
  canaryModelDeployment({
    name: MD,
    version,
    steps: [
      { setWeight: 30 },
      { pause: { duration: '1s' } },
      { setWeight: 60 },
      { pause: { duration: '1s' } },
    ],
    traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
    ...(crash ? { spec: { pod: { annotations: { [FAULT]: 'crashloop' } } } } : {}),
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
}

async function readWorld(): Promise<World> {
  return {
    md: await getMd(ns.name, MD),
    deployments: await listObjects<V1Deployment>(ns.name, 'deployments', `modelship.io/deployment=${MD}`),
    route: await routeWeights(ns.name, MD),
  };
}

/** The invariants that hold at any checkpoint; returns a list of violations (empty = fine). */
function violations(w: World, settled = true): string[] {
  const out: string[] = [];
  const s = w.md.status ?? {};
  const traffic: Weights = Object.fromEntries(
    (s.traffic ?? []).filter((t) => t.weight > 0).map((t) => [t.revision, t.weight]),
  );
  // Mid-rollout the route may be one step ahead of the status (it is applied first): compare only
  // once settled.
  if (settled && JSON.stringify(sorted(traffic)) !== JSON.stringify(sorted(w.route ?? {})))
    out.push(`status.traffic ${JSON.stringify(traffic)} != HTTPRoute ${JSON.stringify(w.route)}`);
  const newest = new Map<string, string>();
  for (const h of s.history ?? []) newest.set(h.revision, h.result);
  for (const [rev, result] of newest) {
    if (
      (result === 'RolledBack' || result === 'Failed') &&
      ((traffic[rev] ?? 0) > 0 || (w.route?.[rev] ?? 0) > 0)
    )
      out.push(
        `failed revision ${rev} (${result}) has traffic: status ${traffic[rev]}, route ${w.route?.[rev]}`,
      );
  }
  const revs = w.deployments.map(toRevision);
  const hashes = revs.map((r) => r.hash);
  if (new Set(hashes).size !== hashes.length) out.push(`duplicated revision hashes: ${hashes.join(',')}`);
  for (const r of revs)
    if (r.name !== `${MD}-${r.hash}`) out.push(`Deployment ${r.name} not named after hash ${r.hash}`);
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
  for (const [v] of PLAN) await apply(ns.name, modelVersion(MD, v));
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

test(`${PLAN.length} rollouts, ${KILLS_PER_ROLLOUT} SIGKILLs each at seeded random points, and the world stays whole`, async () => {
  let lastGood: string | undefined;
  for (const [version, crash] of PLAN) {
    await apply(ns.name, md(version, crash));
    for (let i = 0; i < KILLS_PER_ROLLOUT; i++) {
      await killAfterRandomDelay();
      // Between kills too (the rollout half done): nothing failed carries traffic, nothing doubled.
      const mid = (await readWorld().catch(() => undefined)) as World | undefined;
      if (mid) {
        midChecks++;
        expect({ version, kill: kills, violations: violations(mid, false) }).toEqual({
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
        const m = await getMd(ns.name, MD);
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
      { md: MD, timeoutMs: 60000 },
    );
    const a = await readWorld();
    await sleep(2000);
    const b = await readWorld();
    expect({ version, violations: violations(b) }).toEqual({ version, violations: [] });
    // Converged: the status does not move any more once the rollout ended.
    expect(b.md.status).toEqual(a.md.status);
    expect(b.md.status?.observedGeneration).toBe(b.md.metadata?.generation);
    expect(b.route).toEqual({ [done.status!.stableRevision!]: 100 });
    const stable = b.deployments.map(toRevision).find((r) => r.hash === done.status!.stableRevision);
    expect(stable).toMatchObject({ version: expected, replicas: 2 });
    if (!crash) lastGood = version;
  }
  expect(kills).toBeGreaterThanOrEqual(20);
  // Every operator died of SIGKILL or still runs; none crashed on its own.
  const crashed = all.filter((o) => o.proc.exitCode !== null);
  expect(crashed.map((o) => o.lines(undefined, 5))).toEqual([]);
  expect(all.flatMap((o) => crashLines(o.output()))).toEqual([]);
}, 300000);
