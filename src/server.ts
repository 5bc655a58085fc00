// /healthz (the process is alive and not stuck: src/k8s/health.ts), /readyz (caches synced,
// whatever the leader-election role: a standby is ready to take over), /metrics (Prometheus text
// format; with `authorize`, only for a caller the apiserver authenticates and authorizes, see
// metrics-auth.ts). Over HTTPS when given a certificate: the probes and scrapers then use https.
import http from 'node:http';
import https from 'node:https';
import type { Health } from './k8s/health.js';
import type { Decision } from './metrics-auth.js';
import type { Metrics } from './metrics.js';

export interface ServerOptions {
  listen: string;
  metrics: Metrics;
  ready: () => boolean;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Decides who may read /metrics; without it, anyone who can reach the port may. */
  authorize?: (authorization: string | undefined, path: string) => Promise<Decision>;
  /** A /metrics request that was refused (for a log line). */
  onRefused?: (d: Decision) => void;
  /** The verdict of /healthz; without it, /healthz only shows that the event loop answers. */
  health?: () => Health;
}

/** Parses `:8080`, `0.0.0.0:8080`, `127.0.0.1:0` into host and port. */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen ${JSON.stringify(listen)}: expected [host]:port, e.g. :8080`);
  return { host: m[1] ? m[1].replace(/^\[|\]$/g, '') : undefined, port: Number(m[2]) };
}

export async function startServer(opts: ServerOptions): Promise<http.Server> {
  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const h = opts.health?.() ?? { healthy: true, problems: [] };
      res
        .writeHead(h.healthy ? 200 : 503, { 'Content-Type': 'text/plain' })
        .end(h.healthy ? 'ok' : `stuck:\n${h.problems.join('\n')}\n`);
    } else if (path === '/readyz') {
      const ok = opts.ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ok ? 'ok' : 'caches not synced');
    } else if (path === '/metrics') {
      const allowed: Promise<Decision> = opts.authorize
        ? opts.authorize(req.headers.authorization, path)
        : Promise.resolve({ code: 200, reason: 'no authorization configured' });
      allowed
        .then(async (d) => {
          if (d.code !== 200) {
            opts.onRefused?.(d);
            res
              .writeHead(d.code, {
                'Content-Type': 'text/plain',
                ...(d.code === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}),
              })
              .end(d.reason);
            return;
          }
          const text = await opts.metrics.registry.metrics();
          res.writeHead(200, { 'Content-Type': opts.metrics.registry.contentType }).end(text);
        })
        .catch((err: Error) => res.writeHead(500).end(err.message));
    } else {
      res.writeHead(404).end('not found');
    }
  };
  const server = opts.tls ? https.createServer({ ...opts.tls }, handler) : http.createServer(handler);
  const { host, port } = parseListen(opts.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
