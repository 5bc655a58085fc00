// A minimal client of the Prometheus HTTP API: instant queries (GET /api/v1/query), each with a
// timeout, answering one number. I/O. Errors say whether Prometheus could not be reached (the
// analysis then holds) or refused the query (a query to fix); neither ever reverts a rollout.

/** Why a query has no answer. */
export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
  constructor(
    readonly reason: 'PrometheusUnavailable' | 'QueryFailed',
    message: string,
  ) {
    super(message);
  }
}

export interface PrometheusClient {
  readonly url: string;
  /**
   * The value of an instant query at `atMs`: a scalar, or a vector of one element; undefined for an
   * empty vector (no series: no data). More than one series is an error (a check needs one number).
   */
  query(promql: string, atMs: number): Promise<number | undefined>;
}

export interface PrometheusOptions {
  /** Base URL, e.g. http://prometheus.monitoring:9090 (a path prefix is kept). */
  url: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

interface ApiAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

export function prometheusClient(o: PrometheusOptions): PrometheusClient {
  const base = o.url.replace(/\/+$/, '');
  const doFetch = o.fetch ?? fetch;
  return {
    url: base,
    async query(promql, atMs) {
      const params = new URLSearchParams({ query: promql, time: (atMs / 1000).toFixed(3) });
      const target = `${base}/api/v1/query?${params.toString()}`;
      let res: Response;
      let text: string;
      try {
        res = await doFetch(target, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const why =
          e.name === 'TimeoutError'
            ? `no answer within ${o.timeoutMs} ms`
            : (e.cause?.code ?? e.cause?.message ?? e.message);
        throw new PrometheusError('PrometheusUnavailable', `Prometheus at ${base} cannot be reached: ${why}`);
      }
      let body: ApiAnswer | undefined;
      try {
        body = JSON.parse(text) as ApiAnswer;
      } catch {
        body = undefined;
      }
      if (!res.ok || body?.status !== 'success') {
        // 400 and 422: the query is wrong (bad_data, execution); 503 and the rest: Prometheus is not
        // able to answer now (not ready, overloaded, a proxy in front of it failing).
        const refused = res.status === 400 || res.status === 422;
        const detail = body?.error ?? text.slice(0, 200);
        throw new PrometheusError(
          refused ? 'QueryFailed' : 'PrometheusUnavailable',
          refused
            ? `Prometheus refused the query (${body?.errorType ?? res.status}): ${detail}`
            : `Prometheus at ${base} answered ${res.status}: ${detail}`,
        );
      }
      return readNumber(body.data);
    },
  };
}

/** The one number of a query's answer (see PrometheusClient.query). */
export function readNumber(data: ApiAnswer['data']): number | undefined {
  const type = data?.resultType;
  const result = data?.result;
  if (type === 'scalar') return Number((result as [number, string])[1]);
  if (type === 'vector') {
    const v = result as Array<{ metric?: Record<string, string>; value: [number, string] }>;
    if (v.length === 0) return undefined;
    if (v.length > 1)
      throw new PrometheusError(
        'QueryFailed',
        `the query returned ${v.length} series (${v
          .slice(0, 3)
          .map((s) => JSON.stringify(s.metric ?? {}))
          .join(', ')}); a check needs one number: aggregate it (sum, avg, max)`,
      );
    return Number(v[0]!.value[1]);
  }
  throw new PrometheusError(
    'QueryFailed',
    `the query returned a ${type ?? 'missing'} result; a check needs a scalar or a vector`,
  );
}
