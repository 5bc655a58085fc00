// A network partition between one process and the apiserver, and nobody else: a TCP proxy that
// forwards bytes both ways until cut(), and from then on drops every byte and closes nothing. That is
// what a partition looks like from either end: no FIN, no RST, requests that are never answered,
// connections that never complete their TLS handshake. Give the process a kubeconfig whose server
// is the proxy (kubeconfigVia). Plain Node: no test framework.
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dump, load } from 'js-yaml';

export class Partition {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly sockets = new Set<net.Socket>();
  private cutAt: number | undefined;
  private listening = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  /** A proxy on 127.0.0.1 (any free port) to `server` (https://host:port). */
  static async to(server: string): Promise<Partition> {
    const u = new URL(server);
    const p = new Partition({ host: u.hostname, port: Number(u.port || 443) });
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', resolve);
    });
    p.listening = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  get port(): number {
    return this.listening;
  }

  /** From now on, nothing gets through either way, on open connections and on new ones. */
  cut(): void {
    this.cutAt ??= Date.now();
  }

  get isCut(): boolean {
    return this.cutAt !== undefined;
  }

  /** Closes the proxy and every connection through it. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    // After the cut a new connection is accepted and then left alone, as if the SYN-ACK got through
    // and nothing else did.
    if (this.isCut) return;
    const upstream = net.connect(this.target.port, this.target.host);
    this.track(upstream);
    const forward = (from: net.Socket, to: net.Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (!this.isCut) to.write(chunk);
      });
      from.on('end', () => {
        if (!this.isCut) to.end();
      });
      from.on('close', () => {
        if (!this.isCut) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
  }
}

/** A copy of `kubeconfig` (written to `file`) whose current cluster's server is the proxy. */
export function kubeconfigVia(kubeconfig: string, file: string, partition: Partition): string {
  const kc = load(readFileSync(kubeconfig, 'utf8')) as {
    clusters: Array<{ cluster: { server: string } }>;
  };
  for (const c of kc.clusters) {
    const u = new URL(c.cluster.server);
    u.port = String(partition.port);
    c.cluster.server = u.toString().replace(/\/$/, '');
  }
  writeFileSync(file, dump(kc), { mode: 0o600 });
  return file;
}
