// Real inference requests through the local Gateway (Traefik) to model servers on the real data
// plane, for the e2e tests, the benchmarks and the demo: one KServe v2 request, and a load generator
// that sends them back to back and keeps every reply with its times, so a test or a benchmark can
// say which version answered, what failed, and when. Plain Node: no test framework.
import { Agent, request } from 'node:http';

/** One request through the Gateway, as the client saw it. */
export interface Reply {
  /** Local time (ms) the request was sent and its reply (or error) complete. */
  sentAt: number;
  doneAt: number;
  /** HTTP status; 0 when there was none (a connection error or a timeout: `error` says which). */
  status: number;
  /** The model version that answered: the MODEL_VERSION output of the test models. */
  version?: string;
  /** The LABEL output, where the model's post-processing writes one (test/e2e/processing.test.ts). */
  label?: string;
  /** The connection error's code (ECONNRESET, ECONNREFUSED, ...) or 'timeout'. */
  error?: string;
  /** The first bytes of a non-2xx reply's body: who refused it (Traefik's "no available server", Triton's error). */
  body?: string;
}

export const ok = (r: Reply): boolean => r.status >= 200 && r.status < 300;

export interface Target {
  /** The Gateway's listener, e.g. http://127.0.0.1:25448. */
  url: string;
  /** The Host header: the HTTPRoute's hostname (several suites share one Gateway). */
  host: string;
  /** The model's name in the KServe v2 path /v2/models/<model>/infer. */
  model: string;
}

/** Keep-alive connections to the Gateway, as a real client holds them. */
export function clientAgent(maxSockets = 8): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

const BODY = JSON.stringify({
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }],
});

/** One KServe v2 inference request (POST, JSON) through the Gateway. Never throws. */
export function inferThrough(
  t: Target,
  opts: { agent?: Agent; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<Reply, 'sentAt' | 'doneAt'>): void => {
      if (settled) return;
      settled = true;
      resolve({ sentAt, doneAt: Date.now(), ...r });
    };
    const req = request(`${t.url}/v2/models/${t.model}/infer`, {
      method: 'POST',
      agent: opts.agent,
      timeout: opts.timeoutMs ?? 10_000,
      headers: {
        host: t.host,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(BODY),
        ...opts.headers,
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, error: e.code ?? e.message }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        let version: string | undefined;
        let label: string | undefined;
        try {
          const j = JSON.parse(text) as { outputs?: Array<{ name: string; data?: unknown[] }> };
          const v = j.outputs?.find((o) => o.name === 'MODEL_VERSION')?.data?.[0];
          if (typeof v === 'string') version = v;
          const l = j.outputs?.find((o) => o.name === 'LABEL')?.data?.[0];
          if (typeof l === 'string') label = l;
        } catch {
          // not JSON (Traefik's plain-text errors): the status and body say what happened
        }
        done({
          status,
          ...(version !== undefined ? { version } : {}),
          ...(label !== undefined ? { label } : {}),
          ...(status >= 200 && status < 300 ? {} : { body: text.slice(0, 160).trim() }),
        });
      });
    });
    req.on('timeout', () => {
      req.destroy();
      done({ status: 0, error: 'timeout' });
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, error: e.code ?? e.message }));
    req.end(BODY);
  });
}

/** `n` requests, at most `concurrency` at once. */
export async function inferMany(
  t: Target,
  n: number,
  opts: { agent?: Agent; headers?: Record<string, string>; concurrency?: number } = {},
): Promise<Reply[]> {
  const out: Reply[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      out.push(await inferThrough(t, opts));
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, opts.concurrency ?? 8) }, worker));
  return out;
}

/** Replies by who answered: the version for a 2xx, else `HTTP <status>` or the connection error. */
export function tally(replies: readonly Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const k = ok(r) ? (r.version ?? '(no version)') : r.status ? `HTTP ${r.status}` : (r.error ?? 'error');
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * Sends requests back to back from `concurrency` workers until stopped, keeping every reply. What a
 * client of the Gateway sees during a rollout: nothing paces the requests but the replies.
 */
export class LoadGenerator {
  readonly replies: Reply[] = [];
  private running = false;
  private workers: Promise<void>[] = [];
  private readonly agent: Agent;

  constructor(
    private readonly target: Target,
    private readonly opts: { concurrency?: number; headers?: Record<string, string> } = {},
  ) {
    this.agent = clientAgent(opts.concurrency ?? 4);
  }

  start(): this {
    this.running = true;
    this.workers = Array.from({ length: this.opts.concurrency ?? 4 }, async () => {
      while (this.running) {
        const r = await inferThrough(this.target, {
          agent: this.agent,
          ...(this.opts.headers ? { headers: this.opts.headers } : {}),
        });
        this.replies.push(r);
        // A refused connection fails at once: do not spin.
        if (r.status === 0) await new Promise((res) => setTimeout(res, 10));
      }
    });
    return this;
  }

  async stop(): Promise<Reply[]> {
    this.running = false;
    await Promise.all(this.workers);
    this.agent.destroy();
    return this.replies;
  }

  /** Replies sent in [from, to). */
  between(from: number, to = Infinity): Reply[] {
    return this.replies.filter((r) => r.sentAt >= from && r.sentAt < to);
  }
}

/**
 * Resolves once a short burst through the Gateway (`concurrency` clients for `burstMs`) has at least
 * `min` replies, all answered by `version`; bursts are repeated until then, or throws after
 * `timeoutMs` with the last burst's tally. Traefik applies a route a second or two after modelship
 * writes it, so whoever starts measuring after a change waits for this first.
 */
export async function servedOnlyBy(
  target: Target,
  version: string,
  opts: { min?: number; concurrency?: number; burstMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const { min = 20, concurrency = 4, burstMs = 200, timeoutMs = 60_000 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new LoadGenerator(target, { concurrency }).start();
    await new Promise((res) => setTimeout(res, burstMs));
    const r = await probe.stop();
    if (r.length >= min && r.every((x) => ok(x) && x.version === version)) return;
    if (Date.now() > deadline)
      throw new Error(
        `the Gateway did not serve only ${version} within ${timeoutMs} ms: ${JSON.stringify(tally(r))}`,
      );
  }
}
