// How the informer recovers from what a real apiserver does only now and then and cannot be made to
// do on demand: a watch answered with HTTP 410, an ERROR event with code 500, a connection cut in
// the middle of a stream, a list that fails, a continue token that expires. A scripted HTTP server
// on loopback plays the apiserver's side of the list/watch protocol; the assertions are about the
// informer's cache and events, and about which resourceVersion it resumes from (what the apiserver
// sees). The normal paths run against the real apiserver in test/integration/informer.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Informer, keyOf, type InformerOptions, type ListReason } from './informer.js';

type Step = (res: http.ServerResponse, url: URL) => void;

/** Answers lists and watches from two scripts, in order; a watch with no step left hangs open. */
class ScriptedApiserver {
  readonly lists: Step[] = [];
  readonly watches: Step[] = [];
  readonly requests: URL[] = [];
  private readonly open = new Set<http.ServerResponse>();
  private readonly server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    this.requests.push(url);
    const step = url.searchParams.get('watch') === 'true' ? this.watches.shift() : this.lists.shift();
    if (step) return step(res, url);
    if (url.searchParams.get('watch') !== 'true') return status(500, 'no list scripted')(res, url);
    this.open.add(res);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    res.on('close', () => this.open.delete(res));
  });

  async start(): Promise<KubeConfig> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'nobody' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'nobody' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  watchesFrom(): string[] {
    return this.requests
      .filter((u) => u.searchParams.get('watch') === 'true')
      .map((u) => u.searchParams.get('resourceVersion') ?? '');
  }
}

const cm = (name: string, rv: string, uid = `uid-${name}`): KubernetesObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv, uid },
});

const list =
  (rv: string, items: KubernetesObject[], cont?: string): Step =>
  (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'ConfigMapList',
        apiVersion: 'v1',
        metadata: { resourceVersion: rv, continue: cont },
        items,
      }),
    );
  };

const status =
  (code: number, message: string, reason = 'Whatever'): Step =>
  (res) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
  };

type Ev = { type: string; object: unknown };
const added = (o: KubernetesObject): Ev => ({
  type: 'ADDED',
  object: { apiVersion: 'v1', kind: 'ConfigMap', ...o },
});
const bookmark = (rv: string): Ev => ({
  type: 'BOOKMARK',
  object: { kind: 'ConfigMap', metadata: { resourceVersion: rv } },
});
const errorEvent = (code: number, message: string): Ev => ({
  type: 'ERROR',
  object: {
    kind: 'Status',
    status: 'Failure',
    code,
    reason: code === 410 ? 'Expired' : 'InternalError',
    message,
  },
});

/** A watch that sends `events`, then ends the response (`end`), cuts the connection (`cut`) or stays open. */
const watch =
  (events: Ev[], then: 'end' | 'cut' | 'hang' = 'end'): Step =>
  (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const body = events.map((e) => JSON.stringify(e) + '\n').join('');
    if (then === 'end') res.end(body);
    // Cut only once the events have left for the client: TCP delivers them before the close.
    else if (then === 'cut') res.write(body, () => res.socket?.destroy());
    else res.write(body);
  };

/** Polls until `probe` holds; the bound is for a broken informer, not a speed requirement. */
async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let api: ScriptedApiserver;
let kc: KubeConfig;
const informers: Array<Informer<KubernetesObject>> = [];

beforeEach(async () => {
  api = new ScriptedApiserver();
  kc = await api.start();
});
afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
  await api.close();
});

function informer(opts: Partial<InformerOptions> = {}) {
  const lists: ListReason[] = [];
  const errors: Array<{ phase: string; message: string; retryInMs?: number }> = [];
  const events: string[] = [];
  const inf = new Informer<KubernetesObject>(kc, {
    path: '/api/v1/namespaces/ns/configmaps',
    backoff: { baseMs: 5, maxMs: 20, jitter: 0 },
    observer: {
      onList: (i) => lists.push(i.reason),
      onError: (err, i) => errors.push({ phase: i.phase, message: err.message, retryInMs: i.retryInMs }),
    },
    ...opts,
  });
  inf.on('add', (o) => events.push(`add ${keyOf(o)}`));
  inf.on('update', (o, n) =>
    events.push(`update ${keyOf(n)} ${o.metadata?.resourceVersion}->${n.metadata?.resourceVersion}`),
  );
  inf.on('delete', (o, unknown) =>
    events.push(`delete ${keyOf(o)}${unknown ? ' (final state unknown)' : ''}`),
  );
  informers.push(inf);
  return { inf, lists, errors, events };
}

const cached = (inf: Informer<KubernetesObject>): string[] => inf.list().map(keyOf).sort();

test('a watch the apiserver ends is resumed from the last resourceVersion, bookmarks included, without a relist', async () => {
  api.lists.push(list('10', [cm('a', '10')]));
  api.watches.push(watch([bookmark('15')]), watch([added(cm('b', '16'))]));
  const { inf, lists, events } = informer();
  inf.start();
  await until('b cached', () => inf.get('ns', 'b') !== undefined);
  await until('third watch', () => api.watchesFrom().length === 3);
  expect(api.watchesFrom()).toEqual(['10', '15', '16']);
  expect(lists).toEqual(['initial']);
  expect(events).toEqual(['add ns/a', 'add ns/b']);
  expect(inf.lastResourceVersion()).toBe('16');
});

test('HTTP 410 on a watch relists, and objects that vanished meanwhile get a delete', async () => {
  api.lists.push(list('10', [cm('a', '10'), cm('gone', '9')]), list('30', [cm('a', '25'), cm('new', '28')]));
  api.watches.push(status(410, 'too old resource version: 10 (20)', 'Expired'));
  const { inf, lists, events } = informer();
  inf.start();
  await until('relist', () => lists.length === 2);
  expect(lists).toEqual(['initial', 'expired']);
  expect(cached(inf)).toEqual(['ns/a', 'ns/new']);
  expect(events).toEqual([
    'add ns/a',
    'add ns/gone',
    'delete ns/gone (final state unknown)',
    'add ns/new',
    'update ns/a 10->25',
  ]);
  await until('watch from the relist', () => api.watchesFrom().length === 2);
  expect(api.watchesFrom()).toEqual(['10', '30']);
});

test('an ERROR event with code 410 in the middle of a stream relists too', async () => {
  api.lists.push(list('10', [cm('a', '10')]), list('40', [cm('b', '40')]));
  api.watches.push(
    watch([added(cm('c', '11')), errorEvent(410, 'too old resource version: 11 (35)')], 'hang'),
  );
  const { inf, lists, events } = informer();
  inf.start();
  await until('relist', () => lists.length === 2);
  expect(cached(inf)).toEqual(['ns/b']);
  expect(events).toEqual([
    'add ns/a',
    'add ns/c',
    'delete ns/a (final state unknown)',
    'delete ns/c (final state unknown)',
    'add ns/b',
  ]);
});

test('other watch errors back off and resume from the same resourceVersion, keeping the cache', async () => {
  api.lists.push(list('10', [cm('a', '10')]));
  api.watches.push(
    watch([errorEvent(500, 'etcdserver: leader changed')]),
    status(503, 'apiserver is shutting down', 'ServiceUnavailable'),
    watch([added(cm('b', '12'))], 'cut'),
  );
  const { inf, lists, errors } = informer();
  inf.start();
  await until('b cached after the cut', () => inf.get('ns', 'b') !== undefined);
  await until('watch after the cut', () => api.watchesFrom().length === 4);
  expect(api.watchesFrom()).toEqual(['10', '10', '10', '12']);
  expect(lists).toEqual(['initial']);
  expect(cached(inf)).toEqual(['ns/a', 'ns/b']);
  expect(errors.map((e) => [e.phase, e.retryInMs])).toEqual([
    ['watch', 5],
    ['watch', 10],
    ['watch', 5], // the cut watch had delivered an event: progress resets the back-off
  ]);
  expect(errors[0]!.message).toMatch(/500 InternalError: etcdserver: leader changed/);
  expect(errors[1]!.message).toMatch(/503 ServiceUnavailable: apiserver is shutting down/);
});

test('a failing list is retried with back-off; hasSynced waits for a list that succeeds', async () => {
  api.lists.push(
    status(500, 'boom'),
    status(403, 'configmaps is forbidden', 'Forbidden'),
    list('10', [cm('a', '10')]),
  );
  const { inf, errors, lists } = informer();
  inf.start();
  expect(inf.hasSynced()).toBe(false);
  await inf.waitForSync();
  expect(inf.hasSynced()).toBe(true);
  expect(errors.map((e) => [e.phase, e.retryInMs])).toEqual([
    ['list', 5],
    ['list', 10],
  ]);
  expect(errors[1]!.message).toMatch(
    /^GET \/api\/v1\/namespaces\/ns\/configmaps\?.*: 403 Forbidden: configmaps is forbidden$/,
  );
  expect(lists).toEqual(['initial']);
});

test('an answer that is not a Status (plain text, a proxy page) still names the HTTP status', async () => {
  api.lists.push((res) => {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('404 page not found\n');
  });
  api.lists.push(list('10', []));
  const { inf, errors } = informer();
  inf.start();
  await inf.waitForSync();
  expect(errors.map((e) => e.message)).toEqual([
    expect.stringMatching(
      /^GET \/api\/v1\/namespaces\/ns\/configmaps\?limit=500: 404 Not Found: 404 page not found$/,
    ),
  ]);
});

test('lists are paged; an expired continue token falls back to one unpaged list', async () => {
  api.lists.push(
    list('10', [cm('a', '10'), cm('b', '10')], 'token-1'),
    status(410, 'The provided continue parameter is too old', 'Expired'),
    list('12', [cm('a', '10'), cm('b', '10'), cm('c', '12')]),
  );
  const { inf, events } = informer({ pageSize: 2 });
  inf.start();
  await inf.waitForSync();
  expect(cached(inf)).toEqual(['ns/a', 'ns/b', 'ns/c']);
  expect(events).toEqual(['add ns/a', 'add ns/b', 'add ns/c']);
  const lists = api.requests.filter((u) => u.searchParams.get('watch') !== 'true');
  expect(lists.map((u) => [u.searchParams.get('limit'), u.searchParams.get('continue')])).toEqual([
    ['2', null],
    ['2', 'token-1'],
    [null, null],
  ]);
  expect(inf.lastResourceVersion()).toBe('12');
});

test('a handler that throws neither stops the informer nor hides the event from other handlers', async () => {
  api.lists.push(list('10', []));
  api.watches.push(watch([added(cm('a', '11')), added(cm('b', '12'))], 'hang'));
  const { inf, events, errors } = informer();
  inf.on('add', (o) => {
    if (o.metadata?.name === 'a') throw new Error('handler bug');
  });
  inf.start();
  await until('b cached', () => inf.get('ns', 'b') !== undefined);
  expect(events).toEqual(['add ns/a', 'add ns/b']);
  expect(errors).toEqual([
    { phase: 'handler', message: 'add handler for ns/a threw: handler bug', retryInMs: undefined },
  ]);
});

test('stop() ends a hanging watch; start() again resumes from the last resourceVersion with the cache intact', async () => {
  api.lists.push(list('10', [cm('a', '10')]));
  api.watches.push(watch([bookmark('20')], 'hang'));
  const { inf, lists } = informer();
  inf.start();
  await until('bookmark', () => inf.lastResourceVersion() === '20');
  await inf.stop();
  expect(cached(inf)).toEqual(['ns/a']);
  api.watches.push(watch([added(cm('b', '21'))], 'hang'));
  inf.start();
  await until('b cached', () => inf.get('ns', 'b') !== undefined);
  expect(api.watchesFrom()).toEqual(['10', '20']);
  expect(lists).toEqual(['initial']);
});

test('waitForSync rejects when its signal aborts; start({ resourceVersion }) needs a synced cache', async () => {
  const { inf } = informer();
  const ac = new AbortController();
  const waiting = inf.waitForSync(ac.signal);
  ac.abort(new Error('gave up'));
  await expect(waiting).rejects.toThrow('gave up');
  expect(() => inf.start({ resourceVersion: '1' })).toThrow(/needs a cache that has synced/);
});

test('resync calls the resync handlers for every cached object, and stops with the informer', async () => {
  api.lists.push(list('10', [cm('a', '10'), cm('b', '10')]));
  const { inf } = informer({ resyncMs: 10 });
  const resynced: string[] = [];
  inf.on('resync', (o) => resynced.push(keyOf(o)));
  inf.start();
  await until('two resyncs', () => resynced.length >= 4);
  expect(new Set(resynced)).toEqual(new Set(['ns/a', 'ns/b']));
  await inf.stop();
  const after = resynced.length;
  await new Promise((r) => setTimeout(r, 50));
  expect(resynced.length).toBe(after);
});

describe('transform and an index by label', () => {
  const owned = (name: string, rv: string, owner: string | undefined): KubernetesObject => ({
    metadata: {
      name,
      namespace: 'ns',
      resourceVersion: rv,
      uid: `uid-${name}`,
      ...(owner ? { labels: { owner } } : {}),
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    },
  });
  const ev = (type: string, o: KubernetesObject): Ev => ({
    type,
    object: { apiVersion: 'v1', kind: 'ConfigMap', ...o },
  });
  const strip = (o: KubernetesObject): KubernetesObject => {
    const { managedFields: _m, ...metadata } = o.metadata ?? {};
    return { ...o, metadata };
  };
  // The index the operator keeps of its children by their ModelDeployment's label, in small.
  const ownerIndex = { owner: (o: KubernetesObject) => o.metadata?.labels?.owner || undefined };
  const byOwner = (inf: Informer<KubernetesObject>, owner: string): string[] =>
    inf
      .byIndex('owner', 'ns', owner)
      .map((o) => o.metadata!.name!)
      .sort();

  test('every way an object enters the cache goes through the transform, and the index follows adds, relabels, deletes and relists', async () => {
    api.lists.push(
      list('10', [owned('a1', '10', 'a'), owned('a2', '10', 'a'), owned('free', '10', undefined)]),
      list('40', [owned('a1', '40', 'b'), owned('b9', '40', 'b')]),
    );
    api.watches.push(
      watch([
        ev('ADDED', owned('b1', '11', 'b')),
        ev('MODIFIED', owned('a2', '12', 'b')),
        ev('DELETED', owned('b1', '13', 'b')),
      ]),
      status(410, 'too old resource version: 13 (35)', 'Expired'),
    );
    const { inf, lists } = informer({ transform: strip, indexes: ownerIndex });
    inf.start();
    await until('list, three events, then the relist', () => lists.length === 2);
    // After the relist: a1 moved to b, a2 and b1 are gone, b9 is new.
    expect(byOwner(inf, 'a')).toEqual([]);
    expect(byOwner(inf, 'b')).toEqual(['a1', 'b9']);
    expect(inf.list().every((o) => o.metadata?.managedFields === undefined)).toBe(true);
    // observeWrite: transformed and indexed too; an older write does not replace a newer object.
    inf.observeWrite({ ...owned('w', '50', 'c'), apiVersion: 'v1', kind: 'ConfigMap' });
    inf.observeWrite({ ...owned('a1', '30', 'c'), apiVersion: 'v1', kind: 'ConfigMap' });
    expect(byOwner(inf, 'c')).toEqual(['w']);
    expect(inf.get('ns', 'w')?.metadata?.managedFields).toBeUndefined();
    expect(byOwner(inf, 'b')).toEqual(['a1', 'b9']);
    // Another namespace's value is another bucket.
    expect(inf.byIndex('owner', 'other', 'b')).toEqual([]);
  });

  test('the index as seen between the watch events, before the relist', async () => {
    api.lists.push(list('10', [owned('a1', '10', 'a'), owned('a2', '10', 'a')]));
    api.watches.push(
      watch([ev('ADDED', owned('b1', '11', 'b')), ev('MODIFIED', owned('a2', '12', 'b'))], 'hang'),
    );
    const { inf } = informer({ transform: strip, indexes: ownerIndex });
    inf.start();
    await until('a2 relabelled', () => inf.get('ns', 'a2')?.metadata?.resourceVersion === '12');
    expect(byOwner(inf, 'a')).toEqual(['a1']);
    expect(byOwner(inf, 'b')).toEqual(['a2', 'b1']);
  });

  test('a lookup in an index the informer was not given is a programming error, said so', () => {
    const { inf } = informer();
    expect(() => inf.byIndex('owner', 'ns', 'x')).toThrow(/no index owner in opts.indexes/);
  });

  test('named indexes and list(namespace) follow adds, changed values and deletes, per namespace', async () => {
    const mvOf = (o: KubernetesObject) => o.metadata?.annotations?.mv;
    const made = (name: string, ns: string, rv: string, mv?: string): KubernetesObject => ({
      metadata: { name, namespace: ns, resourceVersion: rv, ...(mv ? { annotations: { mv } } : {}) },
    });
    api.lists.push(
      list('10', [made('a1', 'ns', '10', 'x'), made('a2', 'ns', '10', 'x'), made('o1', 'other', '10', 'x')]),
    );
    api.watches.push(
      watch(
        [
          ev('MODIFIED', made('a2', 'ns', '11', 'y')),
          ev('DELETED', made('a1', 'ns', '12', 'x')),
          ev('ADDED', made('n1', 'ns', '13')),
        ],
        'hang',
      ),
    );
    const { inf } = informer({ indexes: { mv: mvOf } });
    inf.start();
    await until('the three events', () => inf.get('ns', 'n1') !== undefined);
    const names = (os: KubernetesObject[]) => os.map((o) => o.metadata!.name!).sort();
    expect(names(inf.byIndex('mv', 'ns', 'x'))).toEqual([]);
    expect(names(inf.byIndex('mv', 'ns', 'y'))).toEqual(['a2']);
    expect(names(inf.byIndex('mv', 'other', 'x'))).toEqual(['o1']);
    // n1 has no value: in no bucket of the index, but in its namespace's list.
    expect(names(inf.list('ns'))).toEqual(['a2', 'n1']);
    expect(names(inf.list('other'))).toEqual(['o1']);
    expect(names(inf.list('none'))).toEqual([]);
    expect(names(inf.list())).toEqual(['a2', 'n1', 'o1']);
    expect(() => inf.byIndex('owner', 'ns', 'x')).toThrow(/no index owner/);
  });
});
