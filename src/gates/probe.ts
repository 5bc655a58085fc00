// The pre-traffic checks' I/O (docs/rollouts.md, Pre-traffic gates): HTTP calls to a revision's
// ready pods (the loaded interface, the smoke test) and to webhook gates. Each call has a timeout;
// every outcome, an error included, becomes a verdict (never an exception). The comparisons are pure
// (core/smoke.ts).
import type { ModelVersionSpecInterface, ModelVersionSpecSmokeTest } from '../api/index.js';
import { parseDuration } from '../core/duration.js';
import type { GateVerdict } from '../core/plan-types.js';
import { firstDifference, inferBody, loadedInterfaceDifferences } from '../core/smoke.js';

/** A ready endpoint of the revision's Service: the pod, its address and its HTTP port. */
export interface PodTarget {
  pod: string;
  ip: string;
  port: number;
}

export type Fetch = typeof fetch;

const DEFAULT_SMOKE_TIMEOUT_MS = 10_000;
/** How long the loaded-interface read may take per pod. */
export const CONFIG_TIMEOUT_MS = 10_000;

const host = (ip: string): string => (ip.includes(':') ? `[${ip}]` : ip);
const url = (t: PodTarget, path: string): string => `http://${host(t.ip)}:${t.port}${path}`;

const verdict = (
  result: GateVerdict['result'],
  reason: string,
  message: string,
  now: number,
): GateVerdict => ({
  result,
  reason,
  message,
  time: new Date(now).toISOString(),
});

/** GET or POST with a deadline; the body parsed as JSON when it is. */
async function call(
  f: Fetch,
  target: string,
  timeoutMs: number,
  body?: unknown,
): Promise<{ status: number; json: unknown; text: string }> {
  const init: RequestInit = { signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await f(target, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

function errorText(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs}ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

/**
 * Triton: the model configuration each pod loaded, compared with the declared interface (names,
 * datatypes, shapes). Passed with nothing to compare when the ModelVersion declares no interface.
 */
export async function checkLoadedInterface(
  f: Fetch,
  targets: readonly PodTarget[],
  model: string,
  declared: ModelVersionSpecInterface | undefined,
  now: () => number,
): Promise<GateVerdict> {
  for (const t of targets) {
    const where = `pod ${t.pod} (${t.ip})`;
    let r: Awaited<ReturnType<typeof call>>;
    try {
      r = await call(f, url(t, `/v2/models/${encodeURIComponent(model)}/config`), CONFIG_TIMEOUT_MS);
    } catch (err) {
      return verdict(
        'Failed',
        'InterfaceMismatch',
        `GET /v2/models/${model}/config on ${where}: ${errorText(err, CONFIG_TIMEOUT_MS)}`,
        now(),
      );
    }
    if (r.status !== 200)
      return verdict(
        'Failed',
        'InterfaceMismatch',
        `GET /v2/models/${model}/config on ${where} answered ${r.status}: ${r.text.slice(0, 200)}`,
        now(),
      );
    const diffs = loadedInterfaceDifferences(declared, r.json);
    if (diffs.length)
      return verdict(
        'Failed',
        'InterfaceMismatch',
        `the model ${where} loaded is not the declared interface: ${diffs.join('; ')}`,
        now(),
      );
  }
  return verdict(
    'Passed',
    'InterfaceMatches',
    `the loaded interface matches the declared one on ${targets.length} pod(s)`,
    now(),
  );
}

/**
 * The smoke test: every sample request to every pod, in order; the first mismatch, error or
 * time-out fails it, and the message names the request, the pod, the output and both values.
 */
export async function runSmokeTest(
  f: Fetch,
  targets: readonly PodTarget[],
  model: string,
  smoke: ModelVersionSpecSmokeTest,
  now: () => number,
): Promise<GateVerdict> {
  const timeoutMs = parseDuration(smoke.timeout ?? '') ?? DEFAULT_SMOKE_TIMEOUT_MS;
  const path = `/v2/models/${encodeURIComponent(model)}/infer`;
  for (const t of targets) {
    for (const req of smoke.requests) {
      const where = `request ${req.name} on pod ${t.pod} (${t.ip})`;
      let r: Awaited<ReturnType<typeof call>>;
      try {
        r = await call(f, url(t, path), timeoutMs, inferBody(req));
      } catch (err) {
        return verdict('Failed', 'SmokeTestFailed', `${where}: ${errorText(err, timeoutMs)}`, now());
      }
      if (r.status !== 200)
        return verdict(
          'Failed',
          'SmokeTestFailed',
          `${where}: answered ${r.status}: ${r.text.slice(0, 300)}`,
          now(),
        );
      const diff = firstDifference(req.expected, r.json);
      if (diff) return verdict('Failed', 'SmokeTestFailed', `${where}: ${diff}`, now());
    }
  }
  return verdict(
    'Passed',
    'SmokeTestPassed',
    `${smoke.requests.length} sample request(s) answered as expected on ${targets.length} pod(s)`,
    now(),
  );
}

/** What a webhook gate is told: which revision of what is about to get traffic (or be promoted). */
export interface GateBody {
  stage: 'BeforeTraffic' | 'BeforePromotion';
  gate: string;
  namespace: string;
  modelDeployment: string;
  model: string;
  version: string;
  revision: string;
}

/** One call of a webhook gate: 2xx passes; anything else (or no answer) says why not. */
export async function callWebhook(
  f: Fetch,
  target: string,
  timeoutMs: number,
  body: GateBody,
): Promise<{ ok: boolean; message: string }> {
  try {
    const r = await call(f, target, timeoutMs, body);
    const ok = r.status >= 200 && r.status < 300;
    // The status code only: the URL is the spec author's choice, and echoing what an arbitrary
    // address answers into status would let anyone who may edit a ModelDeployment read, through the
    // operator, services only the operator's network reaches (decision 0010).
    return { ok, message: `${target} answered ${r.status}` };
  } catch (err) {
    return { ok: false, message: `${target}: ${errorText(err, timeoutMs)}` };
  }
}
