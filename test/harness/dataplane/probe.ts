// Probes as the kubelet runs them: httpGet and tcpSocket from the node to the pod's address (the
// kubelet is in the host's network namespace), exec inside the container (its mount, network and
// UTS namespaces, its root, user and environment). A result is success or failure; a probe that
// does not answer within timeoutSeconds fails.
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import { wait } from './time.js';

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

/** What the probe loops change and report on the pod. */
export interface ProbeHooks {
  publish(): void;
  event(type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** Kills the container (SIGTERM, `graceMs`, SIGKILL); its exit restarts it. */
  kill(graceMs: number): void;
}

/** The state the probes drive: the container's `started` and `ready`. */
export interface ProbedContainer {
  started: boolean;
  ready: boolean;
}

/**
 * The kubelet's probe workers for one run of a container: the startup probe until it succeeds
 * (liveness and readiness wait for it), then readiness and liveness at their periods. Ready after
 * successThreshold successes in a row, unready after failureThreshold failures; failureThreshold
 * failures of the startup or liveness probe kill the container. Abort the returned controller when
 * the run ends.
 */
export function startProbes(
  c: V1Container,
  r: ProbedContainer,
  target: ProbeTarget,
  hooks: ProbeHooks,
  terminationGracePeriodSeconds: number,
): AbortController {
  const ac = new AbortController();
  const s = ac.signal;
  const loop = async (kind: 'startup' | 'readiness' | 'liveness', probe: V1Probe): Promise<void> => {
    if (!(await wait((probe.initialDelaySeconds ?? 0) * 1000, s))) return;
    const period = (probe.periodSeconds ?? 10) * 1000;
    const failureThreshold = probe.failureThreshold ?? 3;
    let ok = 0;
    let failed = 0;
    for (;;) {
      if (kind === 'startup' && r.started) return;
      if (kind === 'startup' || r.started) {
        const res = await runProbe(probe, target);
        if (s.aborted) return;
        if (res.ok) {
          ok++;
          failed = 0;
        } else {
          failed++;
          ok = 0;
          const label = kind[0]!.toUpperCase() + kind.slice(1);
          hooks.event('Warning', 'Unhealthy', `${label} probe failed: ${res.output}`);
        }
        if (kind === 'startup' && res.ok) {
          r.started = true;
          if (!c.readinessProbe) r.ready = true;
          hooks.publish();
          return;
        }
        if (kind === 'readiness') {
          if (res.ok && !r.ready && ok >= (probe.successThreshold ?? 1)) {
            r.ready = true;
            hooks.publish();
          } else if (!res.ok && r.ready && failed >= failureThreshold) {
            r.ready = false;
            hooks.publish();
          }
        } else if (failed >= failureThreshold) {
          hooks.event('Normal', 'Killing', `Container ${c.name} failed ${kind} probe, will be restarted`);
          hooks.kill((probe.terminationGracePeriodSeconds ?? terminationGracePeriodSeconds) * 1000);
          return;
        }
      }
      if (!(await wait(period, s))) return;
    }
  };
  if (c.startupProbe) void loop('startup', c.startupProbe);
  if (c.readinessProbe) void loop('readiness', c.readinessProbe);
  if (c.livenessProbe) void loop('liveness', c.livenessProbe);
  return ac;
}
