import fc from 'fast-check';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import { ANNOTATION_APPLIED, LABEL_DEPLOYMENT, LABEL_MANAGED_BY, LABEL_REVISION } from '../core/labels.js';
import type { Plan } from '../core/plan.js';
import { renderRevision, type RenderedRevision } from '../core/revision.js';
import { routerFor } from '../routers/index.js';
import type { HTTPRoute } from '../routers/gateway-api/router.js';
import { sampleModelVersion } from '../../test/harness/objects.js';
import { appliedHash, desire } from './desire.js';
import type { Desired, DesireInput, Write } from './types.js';

const UID = 'a1b2c3d4-0000-4000-8000-000000000001';

function md(router: 'service' | 'gatewayApi' = 'gatewayApi'): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'shop', namespace: 'ns', uid: UID, generation: 1 },
    spec: {
      model: 'shop',
      version: '1.0.0',
      replicas: 2,
      traffic:
        router === 'gatewayApi' ? { router, gatewayApi: { parentRefs: [{ name: 'gw' }] } } : { router },
    },
  } as ModelDeployment;
}

const render = (m: ModelDeployment, version: string): RenderedRevision =>
  renderRevision({ md: m, mv: sampleModelVersion('shop', version, 'ns'), replicas: 0 });

/** The cluster as the caches would show it: objects by kind and name. */
class Cache {
  readonly objects = new Map<string, KubernetesObject>();
  private seq = 0;
  put(o: KubernetesObject, opts: { foreign?: boolean; uid?: string } = {}): KubernetesObject {
    const stored: KubernetesObject = structuredClone({
      ...o,
      metadata: {
        ...o.metadata,
        uid: opts.uid ?? `uid-${++this.seq}`,
        resourceVersion: String(100 + this.seq),
        ...(opts.foreign ? { ownerReferences: [] } : {}),
      },
    });
    this.objects.set(`${o.kind}/${o.metadata!.name}`, stored);
    return stored;
  }
  get = (kind: string, name: string): KubernetesObject | undefined => this.objects.get(`${kind}/${name}`);
  /** Apply what a write would leave behind (for a chain of reconciles). */
  apply(w: Write): void {
    if (w.op === 'delete') this.objects.delete(`${w.ref.kind}/${w.ref.name}`);
    else if (w.op === 'patch') {
      const o = this.get(w.ref.kind, w.ref.name)!;
      const spec = { ...(o as V1Deployment).spec, ...(w.patch.spec as object) };
      this.objects.set(`${w.ref.kind}/${w.ref.name}`, { ...o, spec } as KubernetesObject);
    } else this.put(w.object, { uid: w.op === 'update' ? w.uid : w.object.metadata?.uid });
  }
  deployments(): V1Deployment[] {
    return [...this.objects.values()].filter((o) => o.kind === 'Deployment') as V1Deployment[];
  }
}

function input(
  m: ModelDeployment,
  plan: Plan,
  cache: Cache,
  rendered: RenderedRevision[],
  extra: Partial<DesireInput> = {},
): DesireInput {
  const owned = (o: KubernetesObject) => (o.metadata?.ownerReferences ?? []).some((r) => r.uid === UID);
  return {
    md: m,
    plan,
    rendered: new Map(rendered.map((r) => [r.hash, r])),
    desiredHash: rendered[0]?.hash,
    router: routerFor(m),
    deployments: cache.deployments().filter(owned),
    routeObjects: [...cache.objects.values()].filter(
      (o) => (o.kind === 'Service' || o.kind === 'HTTPRoute' || o.kind === 'TraefikService') && owned(o),
    ),
    lookup: cache.get,
    driftOf: () => [],
    ...extra,
  };
}

function plan(
  revisions: Array<[string, number]>,
  weights: Array<[string, number]>,
  extra: Partial<Plan> = {},
): Plan {
  return {
    revisions: revisions.map(([hash, replicas]) => ({ hash, version: hash, replicas })),
    deleteRevisions: [],
    weights: weights.map(([revision, weight]) => ({ revision, version: revision, weight })),
    status: {},
    events: [],
    ...extra,
  };
}

const ops = (d: Desired): string[][] =>
  d.stages.map((s) =>
    s.map((w) =>
      w.op === 'patch' || w.op === 'delete'
        ? `${w.op} ${w.ref.kind}/${w.ref.name}`
        : `${w.op} ${w.object.kind}/${w.object.metadata!.name}`,
    ),
  );

/** Runs reconciles (desire + carry out every write) until nothing is left to write. */
function settle(m: ModelDeployment, p: Plan, cache: Cache, r: RenderedRevision[]): Desired[] {
  const rounds: Desired[] = [];
  for (let i = 0; i < 5; i++) {
    const d = desire(input(m, p, cache, r));
    rounds.push(d);
    if (d.stages.length === 0) return rounds;
    for (const stage of d.stages) for (const w of stage) cache.apply(w);
  }
  throw new Error(`did not settle: ${JSON.stringify(rounds.map(ops))}`);
}

describe('a first deploy', () => {
  const m = md();
  const r = render(m, '1.0.0');
  const p = plan([[r.hash, 2]], [[r.hash, 100]]);

  test('writes the workload, its Services and the routing together (create-only), then nothing', () => {
    const cache = new Cache();
    const rounds = settle(m, p, cache, [r]);
    expect(ops(rounds[0]!)).toEqual([
      [
        `create ConfigMap/shop-${r.hash}`,
        `create Service/shop-${r.hash}`,
        `create Deployment/shop-${r.hash}`,
        'create HTTPRoute/shop',
        'create Service/shop',
      ],
    ]);
    expect(rounds[1]!.stages).toEqual([]);
    expect(rounds).toHaveLength(2);
  });

  test('an update names its object by uid', () => {
    const cache = new Cache();
    settle(m, p, cache, [r]);
    const live = cache.get('Deployment', `shop-${r.hash}`)!;
    const scaled = plan([[r.hash, 5]], [[r.hash, 100]]);
    const d = desire(input(m, scaled, cache, [r]));
    const w = d.stages[0]!.find((x) => x.op === 'update')!;
    expect(w).toMatchObject({ op: 'update', uid: live.metadata!.uid });
    expect((w as { object: V1Deployment }).object.spec!.replicas).toBe(5);
  });
});

describe('names held by objects this ModelDeployment does not control', () => {
  const m = md();
  const r = render(m, '1.0.0');
  const p = plan([[r.hash, 2]], [[r.hash, 100]]);

  test.each([
    ['Service', 'shop'],
    ['HTTPRoute', 'shop'],
    ['Service', `shop-REV`],
    ['Deployment', `shop-REV`],
    ['ConfigMap', `shop-REV`],
  ])('a %s %s of another owner: a conflict, and not one write', (kind, pattern) => {
    const name = pattern.replace('REV', r.hash);
    const cache = new Cache();
    settle(m, p, cache, [r]);
    // The name now holds someone else's object that carries modelship's labels (so the caches see it).
    cache.objects.delete(`${kind}/${name}`);
    cache.put(
      {
        apiVersion:
          kind === 'Deployment' ? 'apps/v1' : kind === 'HTTPRoute' ? 'gateway.networking.k8s.io/v1' : 'v1',
        kind,
        metadata: {
          name,
          namespace: 'ns',
          labels: { [LABEL_MANAGED_BY]: 'modelship', [LABEL_DEPLOYMENT]: 'shop', [LABEL_REVISION]: r.hash },
          ownerReferences: [
            {
              apiVersion: 'modelship.io/v1alpha1',
              kind: 'ModelDeployment',
              name: 'other',
              uid: 'x',
              controller: true,
            },
          ],
        },
      },
      { uid: 'theirs' },
    );
    const d = desire(input(m, p, cache, [r]));
    expect(d.conflicts).toEqual([
      expect.objectContaining({ kind, name, holder: 'is controlled by ModelDeployment other' }),
    ]);
    expect(d.stages).toEqual([]);
  });

  test('a revision beyond the history limit: only the objects of ours are deleted, by uid', () => {
    const cache = new Cache();
    settle(m, p, cache, [r]);
    const old = 'oldrev1234';
    const ours = cache.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: `shop-${old}`,
        namespace: 'ns',
        labels: { [LABEL_REVISION]: old },
        ownerReferences: [
          { apiVersion: 'x', kind: 'ModelDeployment', name: 'shop', uid: UID, controller: true },
        ],
      },
      spec: { replicas: 0 },
    } as unknown as V1Deployment);
    cache.put(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: `shop-${old}`, namespace: 'ns' } },
      { foreign: true },
    );
    const d = desire(input(m, { ...p, deleteRevisions: [old] }, cache, [r]));
    expect(d.stages.flat()).toEqual([
      {
        op: 'delete',
        ref: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: `shop-${old}` },
        uid: ours.metadata!.uid,
      },
    ]);
  });

  test("a preview Service that is someone else's is not deleted when no preview is wanted", () => {
    const cache = new Cache();
    settle(m, p, cache, [r]);
    cache.put(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop-preview', namespace: 'ns' } },
      { foreign: true },
    );
    expect(desire(input(m, p, cache, [r])).stages).toEqual([]);
  });

  test('objects of a router no longer used are deleted only when ours', () => {
    const cache = new Cache();
    const svc = md('service');
    settle(svc, p, cache, [r]);
    cache.put({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: {
        name: 'shop',
        namespace: 'ns',
        ownerReferences: [
          { apiVersion: 'x', kind: 'ModelDeployment', name: 'shop', uid: UID, controller: true },
        ],
      },
    });
    expect(ops(desire(input(svc, p, cache, [r])))).toEqual([['delete HTTPRoute/shop']]);
    const route = cache.get('HTTPRoute', 'shop')!;
    route.metadata!.ownerReferences = [];
    expect(desire(input(svc, p, cache, [r])).stages).toEqual([]);
  });
});

describe('mirrorWith TraefikService', () => {
  const m = md();
  m.spec.traffic!.gatewayApi!.mirrorWith = 'TraefikService';
  const r1 = render(m, '1.0.0');
  const r2 = render(m, '1.1.0');
  const both: Array<[string, number]> = [
    [r1.hash, 2],
    [r2.hash, 1],
  ];
  const mirrored = plan(
    both,
    [
      [r1.hash, 100],
      [r2.hash, 0],
    ],
    { mirror: { revision: r2.hash, version: '1.1.0', percent: 50 } },
  );
  const over = plan(both, [
    [r1.hash, 0],
    [r2.hash, 100],
  ]);

  test('the route names the mirroring TraefikService only once it is there, and stops naming it before it is deleted', () => {
    const cache = new Cache();
    const ts = `TraefikService/shop-${r1.hash}-mirror`;
    const routeNames = () =>
      JSON.stringify((cache.get('HTTPRoute', 'shop') as HTTPRoute).spec.rules!.at(-1)!.backendRefs);
    settle(m, plan([[r1.hash, 2]], [[r1.hash, 100]]), cache, [r1]);
    const rounds = settle(m, mirrored, cache, [r2, r1]);
    const on = rounds.map((d) => ops(d).flat());
    const routeWrites = rounds.map((d) =>
      JSON.stringify(
        d.stages.flat().filter((w) => w.op !== 'delete' && w.op !== 'patch' && w.object.kind === 'HTTPRoute'),
      ),
    );
    // First the TraefikService, while the route still sends to the Service; then the route through it.
    expect(on[0]).toContain(`create ${ts}`);
    expect(routeWrites[0]).not.toContain('-mirror');
    expect(on[1]).toEqual(['update HTTPRoute/shop']);
    expect(routeWrites[1]).toContain(`shop-${r1.hash}-mirror`);
    expect(on.slice(2)).toEqual([[]]);
    expect(routeNames()).toContain(`shop-${r1.hash}-mirror`);
    // The mirror over: the route stops naming it, and a reconcile later it goes.
    const off = settle(m, over, cache, [r2, r1]).map((d) => ops(d).flat());
    expect(off[0]).toContain('update HTTPRoute/shop');
    expect(off[0]).not.toContain(`delete ${ts}`);
    expect(off[1]).toEqual([`delete ${ts}`]);
    expect(cache.get('TraefikService', `shop-${r1.hash}-mirror`)).toBeUndefined();
    expect(routeNames()).not.toContain('mirror');
  });

  test("a TraefikService that is not ours is never deleted, and one under the mirror's name is a conflict", () => {
    const cache = new Cache();
    settle(m, plan([[r1.hash, 2]], [[r1.hash, 100]]), cache, [r1]);
    const foreign = (name: string) =>
      cache.put(
        {
          apiVersion: 'traefik.io/v1alpha1',
          kind: 'TraefikService',
          metadata: {
            name,
            namespace: 'ns',
            ownerReferences: [
              { apiVersion: 'x', kind: 'ModelDeployment', name: 'other', uid: 'other', controller: true },
            ],
          },
        },
        { foreign: false },
      );
    foreign('shop-unrelated-mirror');
    // Handed in even though the caches would leave it out (not controlled by this ModelDeployment).
    const all = { routeObjects: [...cache.objects.values()] };
    expect(
      desire(input(m, over, cache, [r2, r1], all))
        .stages.flat()
        .filter((w) => w.op === 'delete'),
    ).toEqual([]);
    foreign(`shop-${r1.hash}-mirror`);
    const d = desire(input(m, mirrored, cache, [r2, r1]));
    expect(d.conflicts).toEqual([
      expect.objectContaining({ kind: 'TraefikService', name: `shop-${r1.hash}-mirror` }),
    ]);
    expect(d.stages).toEqual([]);
  });
});

describe('drift: a revision Deployment someone else changed', () => {
  const m = md();
  const r = render(m, '1.0.0');
  const p = plan([[r.hash, 2]], [[r.hash, 100]]);

  test('is replaced whole by what modelship renders, keeping the metadata others added', () => {
    const cache = new Cache();
    settle(m, p, cache, [r]);
    const live = cache.get('Deployment', `shop-${r.hash}`) as V1Deployment;
    live.metadata!.labels = { ...live.metadata!.labels, team: 'search' };
    live.metadata!.managedFields = [{ manager: 'kubectl-edit', operation: 'Update' }];
    const d = desire(
      input(m, p, cache, [r], {
        driftOf: (x) =>
          x === live ? ['spec.template.spec.containers[name=triton].image by kubectl-edit'] : [],
      }),
    );
    expect(ops(d)).toEqual([[`replace Deployment/shop-${r.hash}`]]);
    const body = (d.stages[0]![0] as { object: V1Deployment }).object;
    expect(body.metadata).toMatchObject({
      uid: live.metadata!.uid,
      resourceVersion: live.metadata!.resourceVersion,
    });
    expect(body.metadata!.labels).toMatchObject({ team: 'search', [LABEL_REVISION]: r.hash });
    expect(body.metadata!.managedFields).toBeUndefined();
    expect(body.spec!.template).toEqual(r.deployment.spec!.template);
    expect(body.spec!.replicas).toBe(2);
    expect(body.metadata!.annotations![ANNOTATION_APPLIED]).toBe(
      appliedHash({ ...r.deployment, spec: { ...r.deployment.spec!, replicas: 2 } } as V1Deployment),
    );
    expect(d.drift).toEqual([
      { name: `shop-${r.hash}`, fields: [expect.stringContaining('image')], restored: true },
    ]);
  });

  test('of a revision that no longer renders: reported, not written', () => {
    const cache = new Cache();
    settle(m, p, cache, [r]);
    const next = render(m, '1.1.0');
    const p2 = plan(
      [
        [r.hash, 2],
        [next.hash, 1],
      ],
      [
        [r.hash, 100],
        [next.hash, 0],
      ],
    );
    const old = cache.get('Deployment', `shop-${r.hash}`) as V1Deployment;
    const d = desire(
      input(m, p2, cache, [next], { driftOf: (x) => (x === old ? ['spec.paused by someone'] : []) }),
    );
    expect(d.drift).toEqual([
      { name: `shop-${r.hash}`, fields: ['spec.paused by someone'], restored: false },
    ]);
    expect(d.stages.flat().some((w) => w.op === 'replace')).toBe(false);
  });
});

test('property: nothing is routed to a revision before a stage that grew it, and every write names its object', () => {
  const m = md();
  const versions = ['1.0.0', '1.1.0', '1.2.0'];
  const rendered = versions.map((v) => render(m, v));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 4 })), {
        minLength: 1,
        maxLength: 3,
      }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
      fc.integer({ min: 0, max: 2 }),
      (planned, liveSizes, desiredIdx) => {
        const revs = new Map(planned.map(([i, n]) => [rendered[i]!.hash, n]));
        const desiredR = rendered[desiredIdx]!;
        if (!revs.has(desiredR.hash)) revs.set(desiredR.hash, 1);
        // The planner routes only to a revision that exists or is the desired one (which it creates):
        // all the weight on the first planned revision that is live, or on the desired one.
        const hashes = [...revs.keys()];
        const liveHashes = new Set(
          rendered.filter((_, i) => i === 0 || liveSizes[i]! > 0).map((x) => x.hash),
        );
        const target = hashes.find((h) => liveHashes.has(h) && (revs.get(h) ?? 0) > 0) ?? desiredR.hash;
        const p = plan(
          [...revs],
          hashes.map((h) => [h, h === target ? 100 : 0]),
        );
        // The live world: some of the revisions exist at some size, all with Services.
        const cache = new Cache();
        rendered.forEach((r, i) => {
          const size = liveSizes[i]!;
          if (size === 0 && i !== 0) return;
          cache.put({ ...r.deployment, spec: { ...r.deployment.spec!, replicas: size } } as V1Deployment);
          cache.put(r.service);
          cache.put(r.configMap);
        });
        const d = desire(input(m, p, cache, [desiredR, ...rendered.filter((x) => x !== desiredR)]));
        const live = new Map(
          cache.deployments().map((x) => [x.metadata!.labels![LABEL_REVISION]!, x.spec!.replicas ?? 0]),
        );
        const grownBefore = new Set<string>();
        for (const stage of d.stages) {
          for (const w of stage) {
            if (
              w.op === 'create' ||
              w.op === 'update' ||
              w.op === 'replace' ||
              w.op === 'delete' ||
              w.op === 'patch'
            ) {
              if (w.op !== 'create' && w.op !== 'replace') expect(w.uid).toBeTruthy();
              if (w.op === 'replace') expect(w.object.metadata!.uid).toBeTruthy();
            }
            if ((w.op === 'create' || w.op === 'update') && w.object.kind === 'HTTPRoute') {
              for (const [rev, weight] of p.weights.map((x) => [x.revision, x.weight] as const)) {
                if (weight === 0) continue;
                const planned = revs.get(rev) ?? 0;
                expect((live.get(rev) ?? -1) >= planned || grownBefore.has(rev)).toBe(true);
              }
            }
          }
          for (const w of stage) {
            const o = w.op === 'patch' || w.op === 'delete' ? undefined : w.object;
            if (o?.kind === 'Deployment') grownBefore.add(o.metadata!.labels![LABEL_REVISION]!);
            if (w.op === 'patch' && w.ref.kind === 'Deployment')
              grownBefore.add(w.ref.name.slice('shop-'.length));
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
