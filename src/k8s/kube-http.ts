// The informer's two requests, list and watch, and the writes of the operator (request), made over node:http(s) with the KubeConfig's own
// credentials and agent (client certificates, tokens, exec plugins and proxies all come from
// kc.applyToHTTPSOptions, the same code client-node's generated clients and Watch rely on).
//
// Why not client-node's helpers:
// - listing is by collection path (`/apis/apps/v1/namespaces/ns1/deployments`), and client-node
//   has no list-by-path call (KubernetesObjectApi.list needs apiVersion + kind and a discovery
//   round-trip);
// - k8s.Watch (1.4.0, and still 2.0.1) hands back its AbortController only once the response headers
//   have arrived, so a stop() during connect cannot cancel the request, and it throws away the Status
//   body of a non-200 answer, which is where the apiserver says what went wrong; 2.x also aborts a
//   watch that receives nothing for 30 s, as a watch of objects nobody changes does (even
//   bookmarks come about a minute apart). Here one AbortSignal cancels either request at any
//   moment, and every error carries the apiserver's code, reason and message.
import http from 'node:http';
import https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { TLSSocket } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { FencedError, type Fence } from './fence.js';

/** The apiserver's error body (kind: Status), as sent for a failed request or in a watch ERROR event. */
export interface ApiStatus {
  kind?: string;
  status?: string;
  code?: number;
  reason?: string;
  message?: string;
  /** Why, in machine-readable form. A cause's type is sent under the key `reason`. */
  details?: { causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

/** A failed request, with the HTTP-like code the apiserver gave (410 = the resourceVersion expired). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string | undefined,
    message: string,
    /** The cause types of the Status's details, for example NamespaceTerminating. */
    readonly causes: readonly string[] = [],
    /** The fields the causes name (a 422's invalid fields), for example metadata.uid. */
    readonly fields: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * True for 410 Gone: the resourceVersion asked for is older than what etcd or the watch cache still
 * holds (a watch ERROR event with code 410, reason Expired), or a list continue token has expired.
 */
export function isGone(err: unknown): boolean {
  return err instanceof ApiError && err.code === 410;
}

export function statusError(what: string, status: ApiStatus, httpCode?: number): ApiError {
  const code = status.code ?? httpCode ?? 500;
  const detail = [status.reason, status.message].filter(Boolean).join(': ') || 'no message';
  const causes = (status.details?.causes ?? []).flatMap((c) => (c.reason ? [c.reason] : []));
  const fields = (status.details?.causes ?? []).flatMap((c) => (c.field ? [c.field] : []));
  return new ApiError(code, status.reason, `${what}: ${code} ${detail}`, causes, fields);
}

/**
 * True when the apiserver refused to create an object because its namespace is being deleted
 * (403 with the cause NamespaceTerminating): retrying cannot succeed, and the namespace's own
 * deletion removes whatever asked for the object.
 */
export function isNamespaceTerminating(err: unknown): boolean {
  return err instanceof ApiError && err.code === 403 && err.causes.includes('NamespaceTerminating');
}

export interface WatchEvent {
  type: string;
  object: unknown;
}

export type Query = Record<string, string | number | boolean | undefined>;

/**
 * Settings of every KubeHttp in the process, set once by main before the first client is made (the
 * informers' clients are made deep inside the controllers' caches).
 */
export const requestDefaults: { userAgent: string | undefined; timeoutMs: number } = {
  userAgent: undefined,
  // Well under the apiserver's own limit for a request that is not a watch (its --request-timeout,
  // 60 s): past this the connection is more likely dead (a peer gone without a FIN, a partition)
  // than the apiserver slow, and a request with no limit would hold its reconcile, and the
  // reconcile's key, for as long as the kernel keeps the socket.
  timeoutMs: 30_000,
};

/** A request that got no complete answer in time. */
export class RequestTimeoutError extends Error {
  constructor(
    what: string,
    readonly timeoutMs: number,
    phase: 'answer' | 'response headers',
  ) {
    super(`${what}: no ${phase} within ${timeoutMs / 1000} s (request timeout)`);
    this.name = 'RequestTimeoutError';
  }
}

export interface KubeHttpOptions {
  /** Default for every request of this client; else requestDefaults.timeoutMs. */
  timeoutMs?: number;
  /** Every request of this client is fenced by it (see fence.ts): the reconcilers' client. */
  fence?: Fence;
}

/** Per request: who may cancel it, and how long it may take. */
export interface CallOptions {
  signal?: AbortSignal;
  /** For the whole exchange (headers and body); a watch uses it until its response headers. */
  timeoutMs?: number;
  /** Checked just before the request is sent; its closing aborts the request. */
  fence?: Fence;
}

export class KubeHttp {
  /**
   * kc.applyToHTTPSOptions gives an agent without keep-alive (client-node 2.x caches one per cluster
   * and user; 1.x made one per call), so every request would pay a TLS handshake. Short requests
   * share one keep-alive agent (built from the same TLS material); watches keep their own
   * connection each, so a slow write never waits behind a long-lived watch socket.
   */
  private sharedAgent: https.Agent | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: KubeHttpOptions = {},
  ) {}

  /** GET `path` and parse the JSON body; a non-200 answer rejects with an ApiError. */
  async getJson<R>(path: string, query: Query, signal?: AbortSignal, call: CallOptions = {}): Promise<R> {
    const { what, url } = this.target('GET', path, query);
    return this.bounded(what, 'answer', { ...call, ...(signal ? { signal } : {}) }, async (s, fence) => {
      const res = await this.open(url, what, s, fence);
      const body = await readBody(res);
      if (res.statusCode !== 200) throw errorFromBody(what, res.statusCode, body);
      try {
        return JSON.parse(body) as R;
      } catch {
        throw new Error(`${what}: the answer is not JSON: ${body.slice(0, 200)}`);
      }
    });
  }

  /**
   * Any request with an optional JSON body (server-side apply, merge patch, create, delete): resolves
   * with the parsed answer, or rejects with an ApiError carrying the apiserver's code and message,
   * a RequestTimeoutError, or a FencedError.
   */
  async request<R>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string } & CallOptions = {},
  ): Promise<R> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const { what, url } = this.target(method, path, opts.query ?? {});
    return this.bounded(what, 'answer', opts, async (signal, fence) => {
      const res = await this.open(url, what, signal, fence, {
        method,
        body,
        contentType: opts.contentType ?? 'application/json',
      });
      const text = await readBody(res);
      if (!res.statusCode || res.statusCode < 200 || res.statusCode >= 300)
        throw errorFromBody(what, res.statusCode, text);
      if (text === '') return undefined as R;
      try {
        return JSON.parse(text) as R;
      } catch {
        throw new Error(`${what}: the answer is not JSON: ${text.slice(0, 200)}`);
      }
    });
  }

  /**
   * Streams a watch: calls `onEvent` for each JSON line and resolves when the apiserver ends the
   * response (its timeoutSeconds ran out, or it is shutting down). Rejects on a non-200 answer, a
   * broken connection, an abort, or an exception thrown by `onEvent` (which also closes the request).
   *
   * Only connecting is bounded by the request timeout (until the response headers): a watch on a
   * quiet collection may rightly send nothing for minutes, and the apiserver ends it after the
   * query's timeoutSeconds (the informer gives up on one still open well past that).
   */
  async watch(
    path: string,
    query: Query,
    signal: AbortSignal,
    onEvent: (e: WatchEvent) => void,
    call: Omit<CallOptions, 'signal'> = {},
  ): Promise<void> {
    const { what, url } = this.target('GET', path, query);
    const res = await this.bounded(what, 'response headers', { ...call, signal }, async (s, fence) => {
      const r = await this.open(url, what, s, fence);
      if (r.statusCode !== 200) throw errorFromBody(what, r.statusCode, await readBody(r));
      return r;
    });
    return new Promise<void>((resolve, reject) => {
      const decoder = new StringDecoder('utf8');
      let buffered = '';
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        res.destroy();
        reject(err);
      };
      const deliver = (line: string): boolean => {
        if (line.trim() === '') return true;
        let event: WatchEvent;
        try {
          event = JSON.parse(line) as WatchEvent;
        } catch {
          fail(new Error(`${what}: the watch sent a line that is not JSON: ${line.slice(0, 200)}`));
          return false;
        }
        try {
          onEvent(event);
        } catch (err) {
          fail(err);
          return false;
        }
        return true;
      };
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        buffered += decoder.write(chunk);
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (!deliver(line)) return;
        }
      });
      res.on('end', () => {
        if (settled || !deliver(buffered + decoder.end())) return;
        settled = true;
        resolve();
      });
      res.on('error', fail);
      // 'close' without 'end': the connection broke in the middle of the stream.
      res.on('close', () =>
        fail(new Error(`${what}: the watch connection closed before the response ended`)),
      );
    });
  }

  private target(method: string, path: string, query: Query): { url: URL; what: string } {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error(`${method} ${path}: the kubeconfig has no current cluster`);
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return { url, what: `${method} ${url.pathname}${url.search}` };
  }

  /**
   * Runs `fn` with one signal that aborts when the caller's signal does, when the fence closes, or
   * when the timeout runs out, and turns the error of an abort into one that says why and names
   * the request (Node's own is "The operation was aborted").
   */
  private async bounded<T>(
    what: string,
    phase: 'answer' | 'response headers',
    call: CallOptions,
    fn: (signal: AbortSignal, fence: Fence | undefined) => Promise<T>,
  ): Promise<T> {
    const fence = call.fence ?? this.opts.fence;
    const timeoutMs = call.timeoutMs ?? this.opts.timeoutMs ?? requestDefaults.timeoutMs;
    // Node's timers run on the monotonic clock, like the fence's.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new RequestTimeoutError(what, timeoutMs, phase)), timeoutMs);
    const signals = [timeout.signal, ...(call.signal ? [call.signal] : []), ...(fence ? [fence.signal] : [])];
    const signal = AbortSignal.any(signals);
    try {
      return await fn(signal, fence);
    } catch (err) {
      if (!signal.aborted || (err instanceof FencedError && err.request)) throw err;
      const why: unknown = signal.reason;
      if (why instanceof RequestTimeoutError) throw why;
      if (why instanceof FencedError) throw new FencedError(`${what}: stopped: ${why.message}`, what);
      throw err; // the caller's own abort: its signal says why
    } finally {
      clearTimeout(timer);
    }
  }

  private async open(
    url: URL,
    what: string,
    signal: AbortSignal,
    fence: Fence | undefined,
    write?: { method: string; body: string | undefined; contentType: string },
  ): Promise<http.IncomingMessage> {
    const method = write?.method ?? 'GET';
    const headers: http.OutgoingHttpHeaders = { Accept: 'application/json' };
    // The apiserver's audit log records it with every request: which replica wrote what.
    if (requestDefaults.userAgent) headers['User-Agent'] = requestDefaults.userAgent;
    if (write?.body !== undefined) {
      headers['Content-Type'] = write.contentType;
      headers['Content-Length'] = Buffer.byteLength(write.body);
    }
    const opts: https.RequestOptions = { method, headers };
    fence?.check(what);
    await this.kc.applyToHTTPSOptions(opts);
    signal.throwIfAborted();
    if (write && url.protocol === 'https:' && opts.agent?.constructor === https.Agent) {
      // Only a plain agent is shared; a proxy agent (hpagent, socks) is used as client-node made it.
      const tls = (opts.agent as https.Agent).options;
      this.sharedAgent ??= new https.Agent({ ...tls, keepAlive: true, maxSockets: 64 });
      opts.agent = this.sharedAgent;
    }
    const request = url.protocol === 'http:' ? http.request : https.request;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = request(url, { ...opts, signal }, resolve);
      req.on('error', reject);
      req.on('socket', (socket) => {
        // A watch can sit idle for minutes; keep-alive probes find a peer that vanished without a FIN.
        socket.setKeepAlive(true, 30_000);
        if (!fence) return;
        // Nothing is written before end(): check the fence at the last moment before the bytes go
        // out. A new connection is first made (TCP, then TLS), and a process frozen meanwhile would
        // otherwise send, when it wakes, a request it checked before it froze.
        const send = (): void => {
          try {
            fence.check(what);
          } catch (err) {
            // Settle with this error before the fence's abort (which closing it fires) destroys req.
            reject(err);
            req.destroy();
            return;
          }
          req.end(write?.body);
        };
        if (socket.connecting) socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', send);
        else send();
      });
      if (!fence) req.end(write?.body);
    });
  }
}

/**
 * The body as text, decoded chunk by chunk (a character split between chunks is joined) into a
 * string on the V8 heap. Not Buffer.concat: a list page of 500 Deployments is megabytes, and one
 * such buffer per page, malloc'd outside the heap and freed after the parse, left the process
 * holding memory it no longer used: about 25 MiB of RSS after a restart on 2,000 ModelDeployments
 * (docs/benchmarks.md, "Memory after a restart").
 */
function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve(text));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the connection closed before the response ended'));
    });
  });
}

function errorFromBody(what: string, httpCode: number | undefined, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as ApiStatus;
    if (parsed && typeof parsed === 'object') return statusError(what, parsed, httpCode);
  } catch {
    // not JSON, see below
  }
  // Not a Status: the apiserver's mux answers a path no API group serves with the plain text
  // "404 page not found", and a proxy in between may send HTML. Name the HTTP status, keep the text.
  const reason = httpCode === undefined ? undefined : http.STATUS_CODES[httpCode];
  return statusError(what, { reason, message: body.trim().slice(0, 500) }, httpCode);
}
