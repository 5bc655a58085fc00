// Who may read /metrics: the metrics name tenants (namespaces, ModelDeployments, versions), so with
// --metrics-auth=kubernetes a scrape needs a bearer token that the apiserver authenticates
// (TokenReview) and authorizes for `get` on the non-resource URL /metrics (SubjectAccessReview), as
// kube-rbac-proxy and controller-runtime's WithAuthenticationAndAuthorization filter do. Grant it
// with a ClusterRole rule `nonResourceURLs: [/metrics], verbs: [get]` (deploy/07-metrics-auth.yaml);
// the operator itself needs `create` on tokenreviews and subjectaccessreviews.
import { createHash } from 'node:crypto';
import type { KubeHttp } from './k8s/kube-http.js';

export interface Decision {
  /** 200 to serve, 401 without a valid token, 403 when not allowed, 503 when the apiserver could not say. */
  code: 200 | 401 | 403 | 503;
  /** Why, for the response body and the log; never the token. */
  reason: string;
  /** The authenticated user, when there is one. */
  user?: string;
}

export interface MetricsAuthOptions {
  http: KubeHttp;
  /** Decisions are kept this long per token (default 60 s), so a scrape every 15 s costs no reviews. */
  ttlMs?: number;
  now?: () => number;
  /** At most this many tokens are remembered (default 256); the oldest are forgotten first. */
  maxEntries?: number;
}

interface TokenReview {
  status?: {
    authenticated?: boolean;
    error?: string;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  };
}

interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

export class MetricsAuth {
  private readonly cache = new Map<string, { at: number; decision: Decision }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: MetricsAuthOptions) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.maxEntries = opts.maxEntries ?? 256;
    this.now = opts.now ?? Date.now;
  }

  /** The decision for a request's Authorization header to `get` `path`. */
  async authorize(authorization: string | undefined, path: string): Promise<Decision> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { code: 401, reason: 'a bearer token is required (Authorization: Bearer <token>)' };
    const key = createHash('sha256').update(m[1]!).update('\0').update(path).digest('hex');
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.decision;
    let decision: Decision;
    try {
      decision = await this.review(m[1]!, path);
    } catch (err) {
      // Not remembered: the next scrape asks again.
      return { code: 503, reason: `the apiserver could not review the token: ${(err as Error).message}` };
    }
    this.cache.delete(key);
    this.cache.set(key, { at: this.now(), decision });
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    return decision;
  }

  private async review(token: string, path: string): Promise<Decision> {
    const tr = await this.opts.http.request<TokenReview>(
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      },
    );
    const user = tr.status?.user;
    if (!tr.status?.authenticated || !user?.username)
      return { code: 401, reason: 'the token was not accepted' };
    const sar = await this.opts.http.request<SubjectAccessReview>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            nonResourceAttributes: { path, verb: 'get' },
          },
        },
      },
    );
    if (sar.status?.allowed) return { code: 200, reason: 'allowed', user: user.username };
    return {
      code: 403,
      reason: `${user.username} may not get ${path} (grant nonResourceURLs: [${path}], verbs: [get])`,
      user: user.username,
    };
  }
}
