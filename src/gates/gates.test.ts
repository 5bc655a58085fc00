// The pre-traffic checks' I/O against a real HTTP server on loopback standing in for a Triton pod
// and a webhook gate, and the runner's background life cycle (Pending, verdict, wake-up, retry).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GateVerdict } from '../core/plan-types.js';
import { callWebhook, checkLoadedInterface, runSmokeTest, type PodTarget } from './probe.js';
import { GateRunner } from './runner.js';

type Handler = (path: string, body: string, res: http.ServerResponse) => void;

let server: http.Server;
let handler: Handler;
let target: PodTarget;
const seen: Array<{ path: string; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', body });
      handler(req.url ?? '', body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = { pod: 'm-abc-1', ip: '127.0.0.1', port: (server.address() as AddressInfo).port };
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => (seen.length = 0));

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const now = () => Date.parse('2026-12-04T20:00:00Z');

const smoke = {
  timeout: '10s',
  requests: [
    {
      name: 'adds-one',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], data: [1, 2] }],
      expected: [{ name: 'OUTPUT0', data: [2, 3] }],
    },
  ],
};

describe('runSmokeTest', () => {
  test('sends the KServe v2 request to the pod and passes on the expected answer', async () => {
    handler = (_p, body, res) => {
      const x = (JSON.parse(body) as { inputs: Array<{ data: number[] }> }).inputs[0]!.data;
      json(res, 200, {
        outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [2], data: x.map((v) => v + 1) }],
      });
    };
    const v = await runSmokeTest(fetch, [target], 'm', smoke, now);
    expect(v).toMatchObject({ result: 'Passed', reason: 'SmokeTestPassed' });
    expect(seen[0]!.path).toBe('/v2/models/m/infer');
    expect(JSON.parse(seen[0]!.body)).toEqual({
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], data: [1, 2] }],
      outputs: [{ name: 'OUTPUT0' }],
    });
  });

  test('a wrong answer, an error status and a time-out each fail with the request and pod named', async () => {
    handler = (_p, _b, res) => json(res, 200, { outputs: [{ name: 'OUTPUT0', data: [2, 4] }] });
    expect((await runSmokeTest(fetch, [target], 'm', smoke, now)).message).toBe(
      'request adds-one on pod m-abc-1 (127.0.0.1): output OUTPUT0[1]: expected 3, got 4',
    );
    handler = (_p, _b, res) => json(res, 400, { error: 'unexpected shape for input INPUT0' });
    const bad = await runSmokeTest(fetch, [target], 'm', smoke, now);
    expect(bad).toMatchObject({ result: 'Failed', reason: 'SmokeTestFailed' });
    expect(bad.message).toContain('answered 400: {"error":"unexpected shape for input INPUT0"}');
    handler = () => undefined; // never answers
    const slow = await runSmokeTest(fetch, [target], 'm', { ...smoke, timeout: '300ms' }, now);
    expect(slow).toMatchObject({ result: 'Failed', reason: 'SmokeTestFailed' });
    expect(slow.message).toBe('request adds-one on pod m-abc-1 (127.0.0.1): no answer within 300ms');
  });
});

describe('checkLoadedInterface', () => {
  const declared = { inputs: [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [2] }] };
  test('reads /v2/models/<m>/config and names each difference', async () => {
    handler = (_p, _b, res) =>
      json(res, 200, {
        input: [
          { name: 'INPUT0', data_type: 'TYPE_FP32', dims: [2] },
          { name: 'INPUT1', data_type: 'TYPE_FP32', dims: [2] },
        ],
      });
    const v = await checkLoadedInterface(fetch, [target], 'm', declared, now);
    expect(seen[0]!.path).toBe('/v2/models/m/config');
    expect(v).toMatchObject({ result: 'Failed', reason: 'InterfaceMismatch' });
    expect(v.message).toContain('loaded input INPUT1 (FP32 [2]) is not declared');
    handler = (_p, _b, res) =>
      json(res, 200, { input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [2] }] });
    expect(await checkLoadedInterface(fetch, [target], 'm', declared, now)).toMatchObject({
      result: 'Passed',
    });
  });
});

describe('callWebhook', () => {
  test('2xx passes; anything else says the status, never the body', async () => {
    const url = `http://127.0.0.1:${target.port}/gate`;
    const body = {
      stage: 'BeforeTraffic' as const,
      gate: 'g',
      namespace: 'ns',
      modelDeployment: 'md',
      model: 'm',
      version: '1.0.0',
      revision: 'abc',
    };
    handler = (_p, _b, res) => json(res, 204, {});
    expect(await callWebhook(fetch, url, 1000, body)).toEqual({ ok: true, message: `${url} answered 204` });
    expect(JSON.parse(seen[0]!.body)).toEqual(body);
    handler = (_p, _b, res) => json(res, 503, { secret: 'internal data' });
    const no = await callWebhook(fetch, url, 1000, body);
    expect(no).toEqual({ ok: false, message: `${url} answered 503` });
  });
});

describe('GateRunner', () => {
  test('Pending while the check runs; its end enqueues the key; the verdict is kept; forget drops it', async () => {
    const enqueued: string[] = [];
    const r = new GateRunner({ enqueue: (k) => enqueued.push(k), now: Date.now });
    let finish!: (v: GateVerdict) => void;
    let runs = 0;
    const check = () => {
      runs++;
      return new Promise<GateVerdict>((res) => (finish = res));
    };
    expect(r.observe('ns/md', 'a/smoke', check, 'running').result).toBe('Pending');
    expect(r.observe('ns/md', 'a/smoke', check, 'running').result).toBe('Pending');
    expect(runs).toBe(1);
    finish({ result: 'Passed', reason: 'SmokeTestPassed', message: 'ok' });
    await new Promise((res) => setImmediate(res));
    expect(enqueued).toEqual(['ns/md']);
    expect(r.observe('ns/md', 'a/smoke', check, 'running').result).toBe('Passed');
    expect(runs).toBe(1);
    r.forget('ns/md', (id) => id.startsWith('b/'));
    expect(r.size).toBe(0);
  });

  test('a held check is run again after its interval, with the count of runs before it', async () => {
    const enqueued: string[] = [];
    const r = new GateRunner({ enqueue: (k) => enqueued.push(k), now: Date.now });
    const counts: number[] = [];
    const check = (n: number) => {
      counts.push(n);
      return Promise.resolve({ result: 'Held' as const, reason: 'GateRejected', message: 'no', againMs: 20 });
    };
    r.observe('ns/md', 'a/gate', check, 'asking');
    await new Promise((res) => setImmediate(res));
    expect(r.observe('ns/md', 'a/gate', check, 'asking').result).toBe('Held');
    expect(counts).toEqual([0]);
    // The timer enqueues the key when the interval is up; the next observe runs it again.
    await new Promise((res) => setTimeout(res, 40));
    expect(enqueued.length).toBe(2);
    r.observe('ns/md', 'a/gate', check, 'asking');
    expect(counts).toEqual([0, 1]);
    r.stop();
  });

  test('a check that throws is a Failed verdict, not an unhandled rejection', async () => {
    const r = new GateRunner({ enqueue: () => undefined, now: Date.now });
    r.observe('ns/md', 'a/x', () => Promise.reject(new Error('boom')), 'running');
    await new Promise((res) => setImmediate(res));
    expect(r.observe('ns/md', 'a/x', () => Promise.reject(new Error('boom')), 'running')).toMatchObject({
      result: 'Failed',
      message: 'the check could not run: boom',
    });
  });
});
