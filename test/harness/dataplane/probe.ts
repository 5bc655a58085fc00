// Probes as the kubelet runs them: httpGet and tcpSocket from the node to the pod's address (the
// kubelet is in the host's network namespace), exec inside the container (its mount, network and
// UTS namespaces, its root, user and environment). A result is success or failure; a probe that
// does not answer within timeoutSeconds fails.
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export interface ProbeTarget {
  podIP: string;
  container: V1Container;
  /** The container's main process, for exec probes. */
  pid: number;
  /** The container's environment and user, for exec probes. */
  env: Array<[string, string]>;
  user?: { uid: number; gid: number; groups: number[] };
}

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, in the kubelet's words (for the Unhealthy event). */
  output: string;
}

/** A named or numbered port of the container, as the kubelet resolves it. */
export function resolvePort(port: number | string | undefined, c: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

export async function runProbe(probe: V1Probe, t: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) return httpProbe(probe, t, timeoutMs);
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port as number | string, t.container);
    if (port === undefined) return { ok: false, output: `port ${probe.tcpSocket.port} not found` };
    return tcpProbe(probe.tcpSocket.host || t.podIP, port, timeoutMs);
  }
  if (probe.exec) return execProbe(probe.exec.command ?? [], t, timeoutMs);
  return { ok: false, output: 'the data plane supports httpGet, tcpSocket and exec probes only' };
}

function httpProbe(probe: V1Probe, t: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const g = probe.httpGet!;
  const port = resolvePort(g.port as number | string, t.container);
  if (port === undefined) return Promise.resolve({ ok: false, output: `port ${g.port} not found` });
  const scheme = (g.scheme ?? 'HTTP').toLowerCase();
  const host = g.host || t.podIP;
  const path = g.path ?? '/';
  const url = `${scheme}://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`;
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.34', Accept: '*/*' };
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise((resolve) => {
    const lib = scheme === 'https' ? https : http;
    const req = lib.get(
      url,
      {
        headers,
        agent: false,
        timeout: timeoutMs,
        ...(scheme === 'https' ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 400) resolve({ ok: true, output: '' });
        else resolve({ ok: false, output: `HTTP probe failed with statuscode: ${code}` });
      },
    );
    req.on('timeout', () => {
      req.destroy(
        new Error(`Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`),
      );
    });
    req.on('error', (e) =>
      resolve({ ok: false, output: e.message.startsWith('Get ') ? e.message : `Get "${url}": ${e.message}` }),
    );
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: timeoutMs });
    s.on('connect', () => {
      s.destroy();
      resolve({ ok: true, output: '' });
    });
    s.on('timeout', () => {
      s.destroy();
      resolve({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` });
    });
    s.on('error', (e) => resolve({ ok: false, output: `dial tcp ${host}:${port}: ${e.message}` }));
  });
}

function execProbe(command: string[], t: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const drop = t.user
    ? [
        '/usr/bin/setpriv',
        `--reuid=${t.user.uid}`,
        `--regid=${t.user.gid}`,
        t.user.groups.length > 0 ? `--groups=${t.user.groups.join(',')}` : '--clear-groups',
        '--no-new-privs',
        '--inh-caps=-all',
        '--',
      ]
    : [];
  const args = [
    '-t',
    String(t.pid),
    '-m',
    '-n',
    '-u',
    '-r',
    '-w',
    '--',
    ...drop,
    '/usr/bin/env',
    '-i',
    ...t.env.map(([k, v]) => `${k}=${v}`),
    ...command,
  ];
  return new Promise((resolve) => {
    const child = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-10240)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-10240)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ ok: false, output: `command ${JSON.stringify(command)} timed out` });
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, output: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, output: code === 0 ? out : out || `command exited with ${code}` });
    });
  });
}
