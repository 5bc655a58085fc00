/**
 * The informer against the real kube-apiserver: ConfigMaps written with kubectl must show up in the
 * cache and as events, the label selector must keep unrelated objects out, and a watch from a
 * resourceVersion the apiserver no longer holds must end in a relist that converges the cache,
 * deletions included. Failure modes a real apiserver cannot produce on demand (HTTP 410 on a watch,
 * a cut connection, expired continue tokens) are covered by src/k8s/informer-recovery.test.ts.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { Informer, keyOf, splitKey, type InformerOptions, type ListReason } from '../../src/k8s/informer.js';
import { kubeConfig, kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';

const OWNED = 'modelship.io/test-informer';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
const running: Array<Informer<V1ConfigMap>> = [];

beforeAll(async () => {
  ns = await tempNamespace('informer');
});
afterAll(async () => {
  await Promise.all(running.map((i) => i.stop()));
  await ns.remove();
});

const configMap = (name: string, data: Record<string, string>, owned = true): string =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, labels: owned ? { [OWNED]: 'yes' } : { unrelated: 'yes' } },
    data,
  });
const apply = (name: string, data: Record<string, string>, owned = true): Promise<string> =>
  kubectlOk(['apply', '-n', ns.name, '-f', '-'], configMap(name, data, owned));
const patchData = (name: string, data: Record<string, string>): Promise<string> =>
  kubectlOk(['patch', 'configmap', name, '-n', ns.name, '--type=merge', '-p', JSON.stringify({ data })]);
const remove = (name: string): Promise<string> => kubectlOk(['delete', 'configmap', name, '-n', ns.name]);

/** An informer of this namespace's owned ConfigMaps that records its events and lists. */
function startInformer(opts: Partial<InformerOptions> = {}, start = true) {
  const events: string[] = [];
  const lists: ListReason[] = [];
  const errors: string[] = [];
  const inf = new Informer<V1ConfigMap>(kubeConfig(), {
    path: `/api/v1/namespaces/${ns.name}/configmaps`,
    labelSelector: `${OWNED}=yes`,
    observer: {
      onList: (l) => lists.push(l.reason),
      onError: (err, i) => errors.push(`${i.phase}: ${err.message}`),
    },
    ...opts,
  });
  inf.on('add', (o) => events.push(`add ${o.metadata?.name}`));
  inf.on('update', (o, n) => events.push(`update ${n.metadata?.name} ${o.data?.v}->${n.data?.v}`));
  inf.on('delete', (o, unknown) =>
    events.push(`delete ${o.metadata?.name}${unknown ? ' (final state unknown)' : ''}`),
  );
  running.push(inf);
  if (start) inf.start();
  return { inf, events, lists, errors };
}

const names = (inf: Informer<V1ConfigMap>): string[] =>
  inf
    .list()
    .map((o) => o.metadata!.name!)
    .sort();
const eventually = (what: string, probe: () => boolean): Promise<true> =>
  waitFor(what, async () => probe() || undefined);

test('the initial list fills the cache, and hasSynced says so', async () => {
  await apply('list-a', { v: '1' });
  await apply('list-b', { v: '1' });
  const { inf, events, lists } = startInformer({}, false);
  expect(inf.hasSynced()).toBe(false);
  inf.start();
  await inf.waitForSync(AbortSignal.timeout(30_000));
  expect(inf.hasSynced()).toBe(true);
  expect(lists).toEqual(['initial']);
  expect(names(inf)).toEqual(expect.arrayContaining(['list-a', 'list-b']));
  expect(events).toEqual(expect.arrayContaining(['add list-a', 'add list-b']));
  const a = inf.get(ns.name, 'list-a');
  expect(a?.data).toEqual({ v: '1' });
  // List items come without kind; the cache fills it in, as watch events carry it.
  expect([a?.apiVersion, a?.kind]).toEqual(['v1', 'ConfigMap']);
  expect(inf.list(ns.name).length).toBe(inf.list().length);
  expect(inf.list('some-other-namespace')).toEqual([]);
});

test('objects created, patched and deleted with kubectl arrive as add, update and delete', async () => {
  const { inf, events } = startInformer();
  await inf.waitForSync();
  await apply('crud', { v: '1' });
  await eventually('add crud', () => events.includes('add crud'));
  await patchData('crud', { v: '2' });
  await eventually('update crud', () => events.includes('update crud 1->2'));
  expect(inf.get(ns.name, 'crud')?.data?.v).toBe('2');
  await remove('crud');
  await eventually('delete crud', () => events.includes('delete crud'));
  expect(inf.get(ns.name, 'crud')).toBeUndefined();
  expect(events.filter((e) => e.includes('crud'))).toEqual(['add crud', 'update crud 1->2', 'delete crud']);
});

test('the label selector keeps unrelated objects out of the cache and the events', async () => {
  const { inf, events } = startInformer();
  await inf.waitForSync();
  // Written before the owned one: had the watch let it through, it would have come first.
  await apply('unrelated', { v: '1' }, false);
  await apply('owned', { v: '1' });
  await eventually('add owned', () => events.includes('add owned'));
  expect(inf.get(ns.name, 'unrelated')).toBeUndefined();
  expect(inf.get(ns.name, 'kube-root-ca.crt')).toBeUndefined();
  expect(events.join()).not.toMatch(/unrelated|kube-root-ca/);

  // Leaving the selector is a delete, entering it an add: the apiserver filters the watch.
  await kubectlOk(['label', 'configmap', 'owned', '-n', ns.name, `${OWNED}-`]);
  await eventually('owned leaves', () => events.includes('delete owned'));
  await kubectlOk(['label', 'configmap', 'unrelated', '-n', ns.name, `${OWNED}=yes`]);
  await eventually('unrelated enters', () => events.includes('add unrelated'));
  expect(inf.get(ns.name, 'owned')).toBeUndefined();
  expect(inf.get(ns.name, 'unrelated')).toBeDefined();
});

/**
 * Writes filler ConfigMaps until the apiserver answers a watch from resourceVersion 1 with 410 Gone,
 * checked with kubectl, independently of the informer. The watch cache keeps a window of recent
 * events per resource and evicts the oldest once it is full, but only if that oldest event is more
 * than 75 s old; a full cache of younger events doubles instead (DefaultEventFreshDuration and the
 * history resizing in k8s.io/apiserver/pkg/storage/cacher). So fillers written in the first 75 s after the apiserver started
 * (a cluster the global setup has just brought up) would only grow the window: wait out that time.
 */
async function pushResourceVersionOneOutOfTheWindow(): Promise<string> {
  const metrics = await kubectlOk(['get', '--raw', '/metrics']);
  const started = /^process_start_time_seconds (\S+)$/m.exec(metrics);
  if (!started) throw new Error('the apiserver /metrics has no process_start_time_seconds');
  const fillFrom = Number(started[1]) * 1000 + 80_000;
  let batch = 0;
  return waitFor(
    'a watch from resourceVersion 1 to be answered with 410 Gone',
    async () => {
      const out = await kubectlOk([
        'get',
        '--raw',
        `/api/v1/namespaces/${ns.name}/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1` +
          `&labelSelector=${encodeURIComponent(`${OWNED}=yes`)}`,
      ]);
      const first = out.split('\n')[0] ?? '';
      if (first.includes('"code":410')) return first;
      if (Date.now() < fillFrom) return undefined;
      const fillers = Array.from({ length: 50 }, (_, i) =>
        configMap(`filler-${batch}-${i}`, { v: '1' }, false),
      );
      batch++;
      await kubectlOk(['apply', '-n', ns.name, '-f', '-'], fillers.join('\n'));
      return undefined;
    },
    { timeoutMs: 170_000, intervalMs: 1000 },
  );
}

test('a watch from a too-old resourceVersion relists and converges the cache, deletions included', async () => {
  await apply('gone-keep', { v: '1' });
  await apply('gone-vanish', { v: '1' });
  const { inf, events, lists, errors } = startInformer();
  await inf.waitForSync();
  expect(names(inf)).toEqual(expect.arrayContaining(['gone-keep', 'gone-vanish']));
  await inf.stop();

  // While nobody watches: one object changes, one vanishes, one appears.
  await patchData('gone-keep', { v: '2' });
  await remove('gone-vanish');
  await apply('gone-new', { v: '1' });
  const answer = await pushResourceVersionOneOutOfTheWindow();
  expect(JSON.parse(answer)).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });

  events.length = 0;
  inf.start({ resourceVersion: '1' });
  await eventually('the relist after 410', () => lists.includes('expired'));

  expect(lists).toEqual(['initial', 'expired']);
  expect(
    errors.some((e) => /^watch: watch .*: 410 Expired: too old resource version: 1 \(\d+\)$/.test(e)),
  ).toBe(true);
  expect(events).toEqual(
    expect.arrayContaining([
      'delete gone-vanish (final state unknown)',
      'add gone-new',
      'update gone-keep 1->2',
    ]),
  );
  expect(inf.get(ns.name, 'gone-vanish')).toBeUndefined();
  expect(inf.get(ns.name, 'gone-keep')?.data?.v).toBe('2');
  expect(inf.get(ns.name, 'gone-new')).toBeDefined();
  // The cache is exactly what the apiserver holds now.
  const truth = JSON.parse(
    await kubectlOk(['get', 'configmaps', '-n', ns.name, '-l', `${OWNED}=yes`, '-o', 'json']),
  ) as { items: V1ConfigMap[] };
  expect(names(inf)).toEqual(truth.items.map((o) => o.metadata!.name!).sort());

  // And it watches on from the relist.
  await apply('gone-after', { v: '1' });
  await eventually('add after the relist', () => events.includes('add gone-after'));
}, 240_000);

test('a watch the apiserver ends (timeoutSeconds) resumes without a relist and misses nothing', async () => {
  let watches = 0;
  const { inf, events, lists } = startInformer({
    watchTimeoutSeconds: 1,
    observer: { onWatch: () => watches++, onList: (l) => lists.push(l.reason) },
  });
  await inf.waitForSync();
  await eventually('three watches', () => watches >= 3);
  await apply('rewatch', { v: '1' });
  await eventually('add rewatch', () => events.includes('add rewatch'));
  await eventually('two more watches', () => watches >= 5);
  await patchData('rewatch', { v: '2' });
  await eventually('update rewatch', () => events.includes('update rewatch 1->2'));
  expect(lists).toEqual(['initial']);
});

test('resync calls the resync handlers for every cached object', async () => {
  await apply('resync-a', { v: '1' });
  const { inf } = startInformer({ resyncMs: 200 }, false);
  const counts = new Map<string, number>();
  inf.on('resync', (o) => counts.set(keyOf(o), (counts.get(keyOf(o)) ?? 0) + 1));
  inf.start();
  await inf.waitForSync();
  await eventually('two resyncs of every cached object', () =>
    inf.list().every((o) => (counts.get(keyOf(o)) ?? 0) >= 2),
  );
  expect([...counts.keys()]).toEqual(expect.arrayContaining([`${ns.name}/resync-a`]));
  // Only cached objects are resynced: every key resynced is in the cache.
  for (const key of counts.keys()) expect(inf.get(splitKey(key).namespace, splitKey(key).name)).toBeDefined();
});

test('a collection the apiserver does not serve is retried with back-off, never thrown', async () => {
  const { inf, errors } = startInformer({
    path: `/apis/informer-test.modelship.io/v1/namespaces/${ns.name}/widgets`,
    backoff: { baseMs: 50, maxMs: 200 },
  });
  await eventually('three failed lists', () => errors.length >= 3);
  expect(errors[0]).toMatch(
    /^list: GET \/apis\/informer-test\.modelship\.io\/v1\/namespaces\/.*: 404 Not Found: 404 page not found$/,
  );
  expect(inf.hasSynced()).toBe(false);
  await inf.stop();
});
