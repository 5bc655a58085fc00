// Timeouts and fencing of KubeHttp against a real HTTP server on loopback that can be told to
// answer, to answer half, or to stay silent: what a partitioned or overloaded apiserver looks like.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from './clock.js';
import { Fence, FencedError } from './fence.js';
import { KubeHttp, RequestTimeoutError, requestDefaults, type WatchEvent } from './kube-http.js';

interface Seen {
  method: string;
  url: string;
  userAgent: string | undefined;
}

let server: http.Server;
let kc: KubeConfig;
const seen: Seen[] = [];
const open = new Set<http.ServerResponse>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', userAgent: req.headers['user-agent'] });
    open.add(res);
    res.on('close', () => open.delete(res));
    req.resume();
    const path = (req.url ?? '').split('?')[0];
    if (path === '/ok') res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    else if (path === '/half')
      res.writeHead(200).write('{"ok":'); // and never the rest
    else if (path === '/split') {
      // A JSON answer in small writes that cut its multibyte characters (é is 2 bytes, 🚀 is 4).
      const body = Buffer.from(JSON.stringify({ message: 'modèle déployé 🚀'.repeat(40) }), 'utf8');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const step = 7;
      const write = (at: number): void => {
        if (at >= body.length) return void res.end();
        res.write(body.subarray(at, at + step));
        setImmediate(() => write(at + step));
      };
      write(0);
    } else if (path === '/watch') {
      res.writeHead(200).write('{"type":"ADDED","object":{"n":1}}\n'); // then quiet, as a quiet collection is
    }
    // anything else: no answer at all
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});
afterEach(() => {
  for (const res of open) res.destroy();
  seen.length = 0;
  requestDefaults.userAgent = undefined;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** A clock whose time only moves when told, and whose timers never fire on their own. */
class StillClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  setTimeout(): unknown {
    return undefined;
  }
  clearTimeout(): void {}
}

test('a request with no answer fails after its timeout, with an error that names it', async () => {
  const h = new KubeHttp(kc, { timeoutMs: 200 });
  const err = await h.request('PATCH', '/silent', { query: { fieldManager: 'm' }, body: {} }).catch((e) => e);
  expect(err).toBeInstanceOf(RequestTimeoutError);
  expect((err as Error).message).toBe(
    'PATCH /silent?fieldManager=m: no answer within 0.2 s (request timeout)',
  );
  expect(seen.map((s) => s.url)).toEqual(['/silent?fieldManager=m']);
});

test('an answer in chunks that cut its characters in two is read whole', async () => {
  const h = new KubeHttp(kc, { timeoutMs: 5000 });
  await expect(h.getJson('/split', {})).resolves.toEqual({ message: 'modèle déployé 🚀'.repeat(40) });
  await expect(h.request('GET', '/split')).resolves.toEqual({ message: 'modèle déployé 🚀'.repeat(40) });
});

test('the timeout covers the body too: half an answer then silence fails the same way', async () => {
  const h = new KubeHttp(kc, { timeoutMs: 200 });
  await expect(h.getJson('/half', {})).rejects.toThrow('GET /half: no answer within 0.2 s (request timeout)');
});

test('a per-call timeout wins over the client default, and the process default applies without either', async () => {
  const h = new KubeHttp(kc, { timeoutMs: 60_000 });
  await expect(h.request('GET', '/silent', { timeoutMs: 100 })).rejects.toThrow('no answer within 0.1 s');
  const before = requestDefaults.timeoutMs;
  requestDefaults.timeoutMs = 150;
  try {
    await expect(new KubeHttp(kc).request('GET', '/silent')).rejects.toThrow('no answer within 0.15 s');
  } finally {
    requestDefaults.timeoutMs = before;
  }
});

test('a watch must be answered in time, but once answered it may stay quiet for longer than the timeout', async () => {
  const h = new KubeHttp(kc, { timeoutMs: 200 });
  const stop = new AbortController();
  await expect(h.watch('/silent', { watch: true }, stop.signal, () => undefined)).rejects.toThrow(
    'GET /silent?watch=true: no response headers within 0.2 s (request timeout)',
  );

  const events: WatchEvent[] = [];
  const watching = h.watch('/watch', { watch: true }, stop.signal, (e) => events.push(e));
  const outcome = await Promise.race([
    watching.then(
      () => 'ended',
      (e: Error) => `failed: ${e.message}`,
    ),
    new Promise((r) => setTimeout(() => r('still open'), 600)),
  ]);
  expect(outcome).toBe('still open');
  expect(events).toEqual([{ type: 'ADDED', object: { n: 1 } }]);
  stop.abort();
  await expect(watching).rejects.toThrow();
});

test('every request carries the process User-Agent', async () => {
  requestDefaults.userAgent = 'modelship (linux/x64) host_1234abcd';
  await new KubeHttp(kc).getJson('/ok', {});
  expect(seen.map((s) => s.userAgent)).toEqual(['modelship (linux/x64) host_1234abcd']);
});

describe('fencing', () => {
  test('a client whose fence never opened (a standby) sends nothing', async () => {
    const h = new KubeHttp(kc, { fence: new Fence(new StillClock()) });
    const err = await h.request('PATCH', '/ok', { body: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((err as Error).message).toBe('PATCH /ok: not sent: this process does not lead');
    expect(seen).toEqual([]);
  });

  test('within the deadline requests go through', async () => {
    const clock = new StillClock();
    const fence = new Fence(clock);
    fence.extend(0, 10_000);
    clock.t = 9_000;
    await expect(new KubeHttp(kc, { fence }).request('PATCH', '/ok', { body: {} })).resolves.toEqual({
      ok: true,
    });
  });

  test('past the deadline, before any timer ran (a process that just woke up), nothing is sent', async () => {
    const clock = new StillClock();
    const fence = new Fence(clock);
    fence.extend(0, 10_000);
    clock.t = 25_000;
    const closed: string[] = [];
    fence.onClose((r) => closed.push(r));
    const err = await new KubeHttp(kc, { fence }).request('PATCH', '/ok', { body: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((err as Error).message).toMatch(
      /^PATCH \/ok: not sent: the Lease was not renewed within the renew deadline/,
    );
    expect(closed).toHaveLength(1);
    expect(seen).toEqual([]);
  });

  test('a process that froze after the first check, while connecting, is checked again before it sends', async () => {
    const clock = new StillClock();
    const fence = new Fence(clock);
    fence.extend(0, 10_000);
    clock.t = 9_000;
    // The credentials step runs after the first check and before the connection is made.
    class FreezingKubeConfig extends KubeConfig {
      override async applyToHTTPSOptions(o: Parameters<KubeConfig['applyToHTTPSOptions']>[0]): Promise<void> {
        await super.applyToHTTPSOptions(o);
        clock.t = 25_000;
      }
    }
    const frozen = new FreezingKubeConfig();
    frozen.loadFromString(kc.exportConfig());
    const err = await new KubeHttp(frozen, { fence }).request('PATCH', '/ok', { body: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((err as Error).message).toMatch(/^PATCH \/ok: not sent: the Lease was not renewed/);
    expect(seen).toEqual([]);
  });

  test('a fence that closes aborts the requests in flight at once, long before their timeout', async () => {
    const clock = new StillClock();
    const fence = new Fence(clock);
    fence.extend(0, 10_000);
    const h = new KubeHttp(kc, { fence, timeoutMs: 60_000 });
    const pending = h.request('PATCH', '/silent', { body: {} }).catch((e) => e);
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    fence.close('the Lease is held by b now');
    // The fence's error, not the 60 s timeout's: the abort came from the fence.
    const err = await pending;
    expect(err).toBeInstanceOf(FencedError);
    expect((err as Error).message).toBe('PATCH /silent: stopped: the Lease is held by b now');
  });

  test('a per-call fence (the leader election renewing) applies to that call only', async () => {
    const h = new KubeHttp(kc);
    await expect(h.request('PUT', '/ok', { body: {}, fence: new Fence(new StillClock()) })).rejects.toThrow(
      FencedError,
    );
    await expect(h.request('PUT', '/ok', { body: {} })).resolves.toEqual({ ok: true });
  });
});
