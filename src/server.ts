// /healthz (the process serves requests), /readyz (caches synced, whatever the leader-election
// role: a standby is ready to take over), /metrics (Prometheus text format).
import http from 'node:http';
import type { Metrics } from './metrics.js';

export interface ServerOptions {
  listen: string;
  metrics: Metrics;
  ready: () => boolean;
}

/** Parses `:8080`, `0.0.0.0:8080`, `127.0.0.1:0` into host and port. */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen ${JSON.stringify(listen)}: expected [host]:port, e.g. :8080`);
  return { host: m[1] ? m[1].replace(/^\[|\]$/g, '') : undefined, port: Number(m[2]) };
}

export async function startServer(opts: ServerOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const ok = opts.ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ok ? 'ok' : 'caches not synced');
    } else if (path === '/metrics') {
      opts.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': opts.metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404).end('not found');
    }
  });
  const { host, port } = parseListen(opts.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
