// Every failure the plugin reports is one line that says what is wrong and what to do next, and
// exits 1. This file turns the low-level errors (socket errors, apiserver Status answers) into
// those lines; it is pure so each mapping is unit-tested.
import { ApiError } from '../k8s/kube-http.js';

/** A failure already worded for the user. */
export class PluginError extends Error {}

/** What was being done when the error happened, to name it in the message. */
export interface ErrorContext {
  /** The apiserver URL from the kubeconfig. */
  server: string;
  /** e.g. `get ModelDeployment "x" in namespace "y"`. */
  action: string;
}

/** Node's codes for a request that never got an HTTP answer (socket, DNS, TLS). */
const UNREACHABLE =
  /^(E[A-Z]+|ERR_TLS_.*|ERR_SSL_.*|UNABLE_TO_.*|DEPTH_ZERO_.*|SELF_SIGNED_.*|CERT_.*|ABORT_ERR)$/;

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The user-facing line for an error from a request, or undefined when it is not a request error
 * (a bug, which main reports with its stack).
 */
export function explainError(err: unknown, ctx: ErrorContext): string | undefined {
  if (err instanceof PluginError) return err.message;
  if (err instanceof ApiError) {
    const detail = err.message.replace(/^[A-Z]+ \S+: (\d+ )?/, '');
    switch (err.code) {
      case 401:
        return `the Kubernetes API at ${ctx.server} did not accept the credentials (401) to ${ctx.action}; check your kubeconfig user or log in again`;
      case 403: {
        // An admission policy's refusal (deploy/09-release-policy.yaml, for one) is not a missing
        // verb: its own message says what is refused and what would allow it.
        const policy = /ValidatingAdmissionPolicy '([^']+)' with binding '[^']*' denied request: (.*)$/.exec(
          detail,
        );
        if (policy) return `refused to ${ctx.action} by the admission policy ${policy[1]}: ${policy[2]}`;
        return `not allowed to ${ctx.action}: ${detail}; ask for RBAC access or use another --context`;
      }
      case 404:
        // A Status with reason NotFound names a missing object; a bare "404 page not found" means
        // no API group serves the path: the CRDs are not installed.
        if (err.reason === 'NotFound') return `${ctx.action}: not found`;
        return `the modelship.io API is not installed in the cluster at ${ctx.server} (${ctx.action} answered 404); install the CRDs: kubectl apply -f crds/`;
      case 409:
        return `${ctx.action}: conflict (${detail}); run the command again`;
      case 422:
        return `${ctx.action} was rejected by the apiserver: ${detail}`;
      default:
        return `${ctx.action} failed: ${detail}`;
    }
  }
  const code = errorCode(err);
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `cannot reach the Kubernetes API at ${ctx.server}: no answer in time; check your kubeconfig and network`;
  if (code !== undefined && UNREACHABLE.test(code))
    return `cannot reach the Kubernetes API at ${ctx.server}: ${(err as Error).message}; check your kubeconfig`;
  return undefined;
}
