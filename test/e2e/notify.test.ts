/**
 * Rollout notifications from the built operator on the real control plane, to real HTTP receivers
 * on loopback: one that answers 204 (every notification of a first deploy, a canary walked to its
 * promotion and a crash-looping version reverted arrives, signed, in order, with the right types),
 * one that answers 500 (each notification is tried maxAttempts times, then counted failed in
 * /metrics), and one that never answers (it holds the operator's first request for the whole test,
 * and the revert still happens within the bound the revert tests use, while that request is open).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { CloudEvent } from '../../src/notify/cloudevents.js';
import { verifySignature } from '../../src/notify/sign.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import {
  FAULT,
  GROUP_VERSION,
  Recorder,
  TEST_TIMEOUT_MS,
  apply,
  current,
  endSuite,
  getMd,
  modelVersion,
  paths,
  promote,
  revisionOf,
  startE2EOperator,
  waitReady,
  waiter,
  waitingReason,
  type Fault,
  type Operator,
} from '../harness/e2e.js';

const MD = 'ntf';
const KEY = 'e2e-notify-key';

/** A webhook receiver on loopback that keeps every request and answers as told. */
class Receiver {
  readonly got: Array<{
    at: number;
    body: string;
    headers: IncomingMessage['headers'];
    res: ServerResponse;
  }> = [];
  private server!: Server;
  url = '';

  constructor(private readonly answer: (res: ServerResponse) => void) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.got.push({
          at: Date.now(),
          body: Buffer.concat(chunks).toString('utf8'),
          headers: req.headers,
          res,
        });
        this.answer(res);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  events(): CloudEvent[] {
    return this.got.map((g) => JSON.parse(g.body) as CloudEvent);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

const good = new Receiver((res) => res.writeHead(204).end());
const failing = new Receiver((res) => res.writeHead(500).end());
// Never answers: the request stays open until the operator gives up on it (its timeout is longer
// than this whole file) or stops.
const hanging = new Receiver(() => undefined);

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

function ntf(version: string, fault?: Fault): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: 'ntf',
      version,
      replicas: 2,
      ...(fault ? { pod: { annotations: { [FAULT]: fault } } } : {}),
      strategy: {
        type: 'Canary',
        canary: { steps: [{ setWeight: 50 }, { pause: {} }], scaleDownDelaySeconds: 0 },
      },
      traffic: { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } },
    },
  };
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://${op!.address()}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.split(' ').pop());
  }
  return sum;
}

const summary = (e: CloudEvent): string =>
  `${e.type.replace('io.modelship.rollout.', '')} ${e.data.version}${e.data.step !== undefined ? ` step ${e.data.step}` : ''}`;

beforeAll(async () => {
  await Promise.all([good.start(), failing.start(), hanging.start()]);
  const dir = mkdtempSync(join(tmpdir(), 'modelship-notify-'));
  writeFileSync(join(dir, 'key'), `${KEY}\n`);
  const sink = (name: string, url: string, extra: string) =>
    `  - name: ${name}\n    url: ${url}\n    keyFile: ${join(dir, 'key')}\n${extra}`;
  writeFileSync(
    join(dir, 'notify.yaml'),
    'sinks:\n' +
      sink('good', good.url, '') +
      sink('failing', failing.url, '    maxAttempts: 3\n    backoff: 50ms\n    maxBackoff: 100ms\n') +
      sink('hanging', hanging.url, '    timeout: 5m\n    maxAttempts: 1\n    queueSize: 2\n'),
  );
  ns = await tempNamespace('e2e-notify');
  op = startE2EOperator(ns.name, ['--listen', '127.0.0.1:0', '--notify-config', join(dir, 'notify.yaml')]);
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await apply(ns.name, modelVersion('ntf', v));
});
afterAll(async () => {
  await endSuite('notify', ns, op ? [op] : []);
  await Promise.all([good.stop(), failing.stop(), hanging.stop()]);
}, TEST_TIMEOUT_MS);

test(
  'a first deploy and a canary walked to its promotion: started, each step, promoted, signed and in order',
  async () => {
    await apply(ns.name, ntf('1.0.0'));
    await waitReady(ns.name, MD);
    await apply(ns.name, ntf('1.1.0'));
    await until('1.1.0 paused at its pause step', async () => {
      const m = await getMd(ns.name, MD);
      return current(m) && m.status?.phase === 'Paused' && m.status.currentStepIndex === 1;
    });
    await promote(ns.name, MD);
    await until('1.1.0 promoted', async () => (await getMd(ns.name, MD)).status?.stableVersion === '1.1.0');
    await until('the promotion delivered', async () =>
      good.events().some((e) => e.type.endsWith('.promoted')),
    );

    const got = good.events();
    expect(got.map(summary)).toEqual([
      'started 1.0.0',
      'started 1.1.0',
      'step 1.1.0 step 1',
      'step 1.1.0 step 2',
      'promoted 1.1.0',
    ]);
    const md = await getMd(ns.name, MD);
    for (const [i, g] of good.got.entries()) {
      expect(g.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
      expect(verifySignature(KEY, g.body, g.headers['x-modelship-signature'] as string)).toBe(true);
      expect(got[i]).toMatchObject({
        specversion: '1.0',
        source: `/apis/modelship.io/v1alpha1/namespaces/${ns.name}/modeldeployments/${MD}`,
        datacontenttype: 'application/json',
        data: { namespace: ns.name, modelDeployment: MD, model: 'ntf' },
      });
      expect(got[i]!.subject).toBe(got[i]!.data.revision);
    }
    expect(new Set(got.map((e) => e.id)).size).toBe(got.length);
    expect(got[3]!.data).toMatchObject({ step: 2, weight: 50 });
    expect(got[4]!.data).toMatchObject({
      reason: 'Promoted',
      revision: md.status!.stableRevision,
      version: '1.1.0',
    });
    // The same milestones as the Kubernetes Events the operator recorded.
    const reasons = JSON.parse(
      await kubectlOk([
        'get',
        'events',
        '-n',
        ns.name,
        '--field-selector',
        `involvedObject.name=${MD}`,
        '-o',
        'json',
      ]),
    ) as { items: Array<{ reason: string; message: string }> };
    for (const e of got.filter((x) => x.data.reason !== 'StepReached'))
      expect(reasons.items).toContainEqual(
        expect.objectContaining({ reason: e.data.reason, message: e.data.message }),
      );
  },
  TEST_TIMEOUT_MS,
);

test(
  'a crash-looping 1.2.0 is reverted within the revert bound while the hanging receiver still holds its first request',
  async () => {
    const pods = await Recorder.start<V1Pod>(paths.pods(ns.name), `modelship.io/deployment=${MD}`);
    const deps = await Recorder.start<V1Deployment>(paths.deployments(ns.name));
    await apply(ns.name, ntf('1.2.0', 'crashloop'));
    const md = await until(
      'a rollback from 1.2.0',
      async () => {
        const m = await getMd(ns.name, MD);
        return current(m) && m.status?.lastRollback?.from?.version === '1.2.0' && m;
      },
      { md: MD, timeoutMs: 45000 },
    );
    // The revert is in the status, and the hanging receiver has had one request, still unanswered.
    expect(hanging.got).toHaveLength(1);
    expect(hanging.got[0]!.res.writableEnded).toBe(false);
    expect(hanging.events()[0]).toMatchObject({
      type: 'io.modelship.rollout.started',
      data: { version: '1.0.0' },
    });

    const hCrash = md.status!.lastRollback!.from!.revision!;
    await until(
      'the 1.2.0 revision at 0 replicas',
      async () => (await revisionOf(ns.name, MD, hCrash))?.replicas === 0,
    );
    await Promise.all([pods.stop(), deps.stop()]);
    // Timed like rollout.test.ts's crash-loop revert, with the same bound: from the first
    // CrashLoopBackOff seen on a pod to the crashing revision's Deployment at 0 replicas.
    const t0 = pods.events.find(
      (e) =>
        e.object.metadata?.labels?.['modelship.io/revision'] === hCrash &&
        waitingReason(e.object) === 'CrashLoopBackOff',
    )?.at;
    const scaledDown = deps
      .of(`${MD}-${hCrash}`)
      .find((e) => t0 !== undefined && e.at >= t0 && e.object.spec?.replicas === 0)?.at;
    expect(t0).toBeDefined();
    expect(scaledDown).toBeDefined();
    process.stderr.write(
      `notify.test: 1.2.0 at 0 replicas at t0+${scaledDown! - t0!} ms with a hanging receiver\n`,
    );
    expect(scaledDown! - t0!).toBeLessThan(10000);
    expect(hanging.got).toHaveLength(1);

    await until('the revert delivered', async () =>
      good.events().some((e) => e.type.endsWith('.rolledback')),
    );
    expect(good.events().slice(5).map(summary)).toEqual(['started 1.2.0', 'rolledback 1.2.0']);
    expect(good.events()[6]!.data).toMatchObject({
      reason: 'CrashLoopBackOff',
      from: { revision: hCrash, version: '1.2.0' },
      to: { version: '1.1.0' },
      stable: { version: '1.1.0' },
    });
  },
  TEST_TIMEOUT_MS,
);

test(
  'delivery in /metrics: the good sink delivered all, the 500 sink retried and failed each, the hanging sink dropped the overflow',
  async () => {
    const n = good.events().length; // 7: 3 started, 2 steps, promoted, rolledback
    expect(n).toBe(7);
    await until(
      'the failing sink gave up on every notification',
      async () =>
        (await metric('modelship_notifications_total', { sink: 'failing', result: 'failed' })) === n,
    );
    expect(await metric('modelship_notifications_total', { sink: 'good', result: 'delivered' })).toBe(n);
    expect(
      await metric('modelship_notifications_total', {
        sink: 'good',
        type: 'io.modelship.rollout.started',
        result: 'delivered',
      }),
    ).toBe(3);
    expect(await metric('modelship_notification_retries_total', { sink: 'failing' })).toBe(2 * n);
    expect(await metric('modelship_notification_delivery_seconds_count', { sink: 'good' })).toBe(n);
    // Each notification reached the 500 receiver exactly maxAttempts times, in order.
    const ids = failing.events().map((e) => e.id);
    expect(ids).toEqual(good.events().flatMap((e) => [e.id, e.id, e.id]));
    // One in flight (held), two queued, the other four pushed out oldest first.
    expect(await metric('modelship_notifications_total', { sink: 'hanging', result: 'dropped' })).toBe(n - 3);
    expect(await metric('modelship_notifications_total', { sink: 'hanging', result: 'delivered' })).toBe(0);
    expect(hanging.got).toHaveLength(1);
  },
  TEST_TIMEOUT_MS,
);
