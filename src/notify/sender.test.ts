// The sender against a real HTTP receiver on loopback: order, signature, retries, the queue bound,
// and a receiver that never answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CloudEvent, NOTIFICATION_TYPES, type NotificationType } from './cloudevents.js';
import { SINK_DEFAULTS } from './config.js';
import { CONTENT_TYPE, Notifier, type NotifyObserver, type Sink } from './sender.js';
import { verifySignature } from './sign.js';

interface Received {
  body: string;
  headers: IncomingMessage['headers'];
  res: ServerResponse;
}

let server: Server;
let url: string;
let received: Received[];
let answer: (r: Received) => void;

beforeEach(async () => {
  received = [];
  answer = (r) => r.res.writeHead(204).end();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, res };
      received.push(r);
      answer(r);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function ce(i: number, type: NotificationType = 'io.modelship.rollout.step'): CloudEvent {
  return {
    specversion: '1.0',
    id: `id-${i}`,
    source: '/apis/modelship.io/v1alpha1/namespaces/ml/modeldeployments/m',
    type,
    time: '2026-12-04T18:00:00.000Z',
    datacontenttype: 'application/json',
    data: { namespace: 'ml', modelDeployment: 'm', model: 'm', reason: 'R', message: `n${i}` },
  };
}

function sink(over: Partial<Sink> = {}): Sink {
  return {
    name: 'test',
    url,
    types: [...NOTIFICATION_TYPES],
    ...SINK_DEFAULTS,
    backoffMs: 10,
    maxBackoffMs: 40,
    ...over,
  };
}

function counting(): NotifyObserver & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    delivered: (s, t) => log.push(`delivered ${s} ${t}`),
    retried: (s, t) => log.push(`retried ${s} ${t}`),
    failed: (s, t, a, n) =>
      log.push(`failed ${s} ${t} after ${n}: ${'status' in a ? a.status : 'no answer'}`),
    dropped: (s, t, why) => log.push(`dropped ${s} ${t} ${why}`),
  };
}

const waitFor = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

test('delivers in order, as structured CloudEvents, signed with the sink key', async () => {
  const obs = counting();
  const n = new Notifier([sink({ key: Buffer.from('s3cret') })], obs);
  n.notify([ce(1), ce(2)]);
  n.notify([ce(3)]);
  await n.drain();
  expect(received.map((r) => (JSON.parse(r.body) as CloudEvent).id)).toEqual(['id-1', 'id-2', 'id-3']);
  for (const r of received) {
    expect(r.headers['content-type']).toBe(CONTENT_TYPE);
    expect(verifySignature('s3cret', r.body, r.headers['x-modelship-signature'] as string)).toBe(true);
  }
  expect(obs.log).toEqual(Array(3).fill('delivered test io.modelship.rollout.step'));
  await n.stop(0);
});

test('a sink without a key sends no signature; a sink hears only its types and namespaces', async () => {
  const n = new Notifier([sink({ types: ['io.modelship.rollout.promoted'], namespaces: ['ml'] })]);
  n.notify([
    ce(1),
    ce(2, 'io.modelship.rollout.promoted'),
    { ...ce(3, 'io.modelship.rollout.promoted'), data: { ...ce(3).data, namespace: 'x' } },
  ]);
  await n.drain();
  expect(received.map((r) => (JSON.parse(r.body) as CloudEvent).id)).toEqual(['id-2']);
  expect(received[0]!.headers['x-modelship-signature']).toBeUndefined();
  await n.stop(0);
});

test('a receiver answering 500 gets maxAttempts requests, then the notification fails; the next still goes', async () => {
  answer = (r) => r.res.writeHead(JSON.parse(r.body).id === 'id-1' ? 500 : 200).end();
  const obs = counting();
  const n = new Notifier([sink({ maxAttempts: 3 })], obs);
  n.notify([ce(1), ce(2)]);
  await n.drain();
  expect(received.map((r) => JSON.parse(r.body).id)).toEqual(['id-1', 'id-1', 'id-1', 'id-2']);
  expect(obs.log).toEqual([
    'retried test io.modelship.rollout.step',
    'retried test io.modelship.rollout.step',
    'failed test io.modelship.rollout.step after 3: 500',
    'delivered test io.modelship.rollout.step',
  ]);
  await n.stop(0);
});

test('a 4xx is final: no retry', async () => {
  answer = (r) => r.res.writeHead(401).end();
  const obs = counting();
  const n = new Notifier([sink()], obs);
  n.notify([ce(1)]);
  await n.drain();
  expect(received).toHaveLength(1);
  expect(obs.log).toEqual(['failed test io.modelship.rollout.step after 1: 401']);
  await n.stop(0);
});

// Two tests where there was one: with the time-out short enough to watch, a loaded machine could
// let it fire before the test queued the next notifications, which then found an idle worker and
// an empty queue (seen once under a load average of 25). Each outcome is now ordered by the test alone.
test('a receiver that never answers: notify returns at once, the queue keeps its bound, stop aborts the request', async () => {
  answer = () => undefined; // holds every request
  const obs = counting();
  const n = new Notifier([sink({ queueSize: 2, timeoutMs: 600_000, maxAttempts: 1 })], obs);
  n.notify([ce(1)]);
  await waitFor(() => received.length === 1);
  // id-1 is in flight (for as long as the test runs); the queue holds 2: id-4 pushes id-2 out,
  // id-5 pushes id-3 out.
  n.notify([ce(2), ce(3), ce(4), ce(5)]);
  expect(obs.log).toEqual(Array(2).fill('dropped test io.modelship.rollout.step queue-full'));
  // Stopping aborts the request in flight and counts it, and what is left, as dropped.
  await n.stop(0);
  expect(obs.log.slice(2)).toEqual(Array(3).fill('dropped test io.modelship.rollout.step shutdown'));
  expect(received).toHaveLength(1);
});

test('a request with no answer times out and counts as failed; the next one is sent', async () => {
  answer = (r) => (JSON.parse(r.body).id === 'id-1' ? undefined : r.res.writeHead(204).end());
  const obs = counting();
  const n = new Notifier([sink({ timeoutMs: 200, maxAttempts: 1 })], obs);
  n.notify([ce(1), ce(2)]);
  await n.drain();
  expect(obs.log).toEqual([
    'failed test io.modelship.rollout.step after 1: no answer',
    'delivered test io.modelship.rollout.step',
  ]);
  expect(received.map((r) => JSON.parse(r.body).id)).toEqual(['id-1', 'id-2']);
  await n.stop(0);
});

test('a refused connection is retried like a 500', async () => {
  const obs = counting();
  const n = new Notifier([sink({ url: 'http://127.0.0.1:1/', maxAttempts: 2 })], obs);
  n.notify([ce(1)]);
  await n.drain();
  expect(obs.log[0]).toBe('retried test io.modelship.rollout.step');
  expect(obs.log[1]).toMatch(/^failed test io.modelship.rollout.step after 2: no answer$/);
  await n.stop(0);
});
