// The Prometheus client against a loopback HTTP server that answers as the Prometheus HTTP API does
// (the answers' shapes as Prometheus v0.316.0 gives them; the e2e tests run the real one), a server
// that hangs, and a port nothing listens on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusError, prometheusClient } from './prometheus.js';

let server: Server;
let base: string;
let answer: (req: IncomingMessage, res: ServerResponse) => void;
const seen: URL[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(new URL(req.url!, 'http://x'));
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const json = (status: number, body: object) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

test('an instant query at the given time; a one-element vector or a scalar is its number', async () => {
  const c = prometheusClient({ url: `${base}/`, timeoutMs: 1000 });
  answer = json(200, {
    status: 'success',
    data: { resultType: 'vector', result: [{ metric: {}, value: [1796404398.23, '0.052'] }] },
  });
  await expect(c.query('sum(x{a="b"})', 1_796_404_398_230)).resolves.toBe(0.052);
  const u = seen.at(-1)!;
  expect(u.pathname).toBe('/api/v1/query');
  expect(u.searchParams.get('query')).toBe('sum(x{a="b"})');
  expect(u.searchParams.get('time')).toBe('1796404398.230');
  answer = json(200, { status: 'success', data: { resultType: 'scalar', result: [1, '3'] } });
  await expect(c.query('vector(3)', 0)).resolves.toBe(3);
});

test('an empty vector is no data (undefined); several series are an error that says to aggregate', async () => {
  const c = prometheusClient({ url: base, timeoutMs: 1000 });
  answer = json(200, { status: 'success', data: { resultType: 'vector', result: [] } });
  await expect(c.query('x', 0)).resolves.toBeUndefined();
  answer = json(200, {
    status: 'success',
    data: {
      resultType: 'vector',
      result: [
        { metric: { pod: 'a' }, value: [0, '1'] },
        { metric: { pod: 'b' }, value: [0, '2'] },
      ],
    },
  });
  await expect(c.query('x', 0)).rejects.toMatchObject({
    reason: 'QueryFailed',
    message: expect.stringMatching(/returned 2 series .*aggregate it/),
  });
});

test('a refused query (400, 422) is QueryFailed with Prometheus own words; 503 is PrometheusUnavailable', async () => {
  const c = prometheusClient({ url: base, timeoutMs: 1000 });
  answer = json(400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected "}"' });
  await expect(c.query('x{}}', 0)).rejects.toMatchObject({
    reason: 'QueryFailed',
    message: 'Prometheus refused the query (bad_data): 1:5: parse error: unexpected "}"',
  });
  answer = (_req, res) => {
    res.writeHead(503);
    res.end('Service Unavailable');
  };
  await expect(c.query('x', 0)).rejects.toMatchObject({ reason: 'PrometheusUnavailable' });
});

test('a Prometheus that does not answer within the timeout, or a closed port, is PrometheusUnavailable', async () => {
  answer = () => undefined; // never answers
  const c = prometheusClient({ url: base, timeoutMs: 200 });
  const t0 = Date.now();
  const err = (await c.query('x', 0).catch((e: unknown) => e)) as PrometheusError;
  expect(err).toBeInstanceOf(PrometheusError);
  expect(err.reason).toBe('PrometheusUnavailable');
  expect(err.message).toContain('no answer within 200 ms');
  expect(Date.now() - t0).toBeLessThan(5000);

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await expect(
    prometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 1000 }).query('x', 0),
  ).rejects.toMatchObject({
    reason: 'PrometheusUnavailable',
    message: expect.stringContaining('ECONNREFUSED'),
  });
});
