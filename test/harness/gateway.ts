// The local Gateway API data plane for tests, the demo and the benchmarks: Traefik, started once per
// cluster by hack/cluster/gateway.sh (stopped by cluster:down), and small HTTP servers that say who
// they are, to stand behind hand-made EndpointSlices. Plain Node: no test framework.
import { createServer, request, Agent, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { clusterScripts } from './env.js';
import { run } from './process.js';

export interface LocalGateway {
  /** http://127.0.0.1:<port>: the Gateway's HTTP listener. */
  url: string;
  namespace: string;
  name: string;
  /** The listener's name, for parentRefs[].sectionName. */
  listener: string;
}

/**
 * The local Gateway, starting Traefik if it is not running (building it first on a machine that
 * has never built it: about 4 minutes on 2 cores). The cluster must be up.
 */
export async function localGateway(): Promise<LocalGateway> {
  const r = await run('bash', [join(clusterScripts, 'gateway.sh')]);
  if (r.code !== 0) throw new Error(`hack/cluster/gateway.sh failed (${r.code}):\n${r.stderr.trim()}`);
  const kv = new Map(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  const get = (k: string): string => {
    const v = kv.get(k);
    if (!v) throw new Error(`hack/cluster/gateway.sh printed no ${k}:\n${r.stdout}`);
    return v;
  };
  return {
    url: get('MODELSHIP_GATEWAY_URL'),
    namespace: get('MODELSHIP_GATEWAY_NAMESPACE'),
    name: get('MODELSHIP_GATEWAY_NAME'),
    listener: get('MODELSHIP_GATEWAY_LISTENER'),
  };
}

/**
 * An IPv4 address of this machine outside 127.0.0.0/8 (the apiserver refuses loopback addresses in
 * an EndpointSlice) and outside 169.254.0.0/16 (link-local, refused too): the address of the
 * machine's own network interface. A server bound there is reachable from Traefik in the same
 * network namespace, and needs no set-up to undo. Throws when the machine has none.
 */
export function hostAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
    }
  }
  throw new Error(
    'this machine has no non-loopback IPv4 address: an EndpointSlice cannot point at a local server ' +
      '(the apiserver refuses 127.0.0.0/8); give the machine a network interface with an address',
  );
}

export interface Backend {
  name: string;
  address: string;
  port: number;
  /** Requests it answered. */
  served: number;
  close(): Promise<void>;
}

/**
 * An HTTP server on `address` (an ephemeral port) that answers every request with 200, its name
 * in the body and in the header `x-backend`: who served a request routed through the Gateway.
 */
export async function startBackend(name: string, address: string): Promise<Backend> {
  const server: Server = createServer((req, res) => {
    backend.served++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(JSON.stringify({ backend: name }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const backend: Backend = {
    name,
    address,
    port,
    served: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return backend;
}

export interface Reply {
  status: number;
  /** The `x-backend` header: which backend answered ('' when none did, e.g. a gateway error). */
  backend: string;
}

/** Keep-alive connections to the Gateway, as a real client would hold. */
export function gatewayAgent(maxSockets = 8): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

/** One GET through the Gateway; a connection error is a reply with status 0. */
export function send(
  url: string,
  opts: { agent?: Agent; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request(url, { agent: opts.agent, headers: opts.headers, timeout: opts.timeoutMs ?? 10000 });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend'] ?? '') }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, backend: '' }));
    req.end();
  });
}

/** `n` GETs, at most `concurrency` at once; the replies in the order they were sent. */
export async function sendMany(
  url: string,
  n: number,
  opts: { agent?: Agent; headers?: Record<string, string>; concurrency?: number } = {},
): Promise<Reply[]> {
  const out = new Array<Reply>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await send(url, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, opts.concurrency ?? 8) }, worker));
  return out;
}

/** How many replies each backend gave (non-2xx replies under their status, e.g. '503', '0'). */
export function countByBackend(replies: readonly Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status >= 200 && r.status < 300 ? r.backend : String(r.status);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * The interval a count of successes in `n` independent trials of probability `p` falls in with
 * all but a negligible chance: mean ± `sigmas` standard deviations (binomial: sqrt(n·p·(1−p))),
 * clamped to [0, n]. At 4 σ a correct split falls outside about 6 times in 100,000 runs.
 */
export function binomialBound(n: number, p: number, sigmas = 4): { low: number; high: number; sd: number } {
  const sd = Math.sqrt(n * p * (1 - p));
  return {
    low: Math.max(0, Math.floor(n * p - sigmas * sd)),
    high: Math.min(n, Math.ceil(n * p + sigmas * sd)),
    sd,
  };
}
