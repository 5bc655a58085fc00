// The Pod Security Standards "restricted" profile, for every container modelship renders.
// https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

/**
 * Both stock images declare a non-root user by name (triton-server, model-server) or not at all
 * (amazon/aws-cli, google/cloud-sdk run as root). The kubelet cannot check runAsNonRoot against a
 * user name, and refuses to start such a container ("image has non-numeric user"), so the UID is
 * given explicitly: 1000 is the model-server and triton-server user of the stock images.
 */
export const RUN_AS_USER = 1000;

export function restrictedPodSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    // emptyDirs are world-writable; fsGroup makes a pvc:// claim's files readable to the fetcher.
    // OnRootMismatch skips the recursive chown on every start when ownership already matches.
    fsGroup: RUN_AS_USER,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * Repeated on each container (not only on the pod) so every container passes the restricted
 * profile on its own, whatever pod it ends up in. Containers write only to their emptyDir mounts.
 */
export function restrictedContainerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Quotes a string for POSIX sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Every container's exit explains itself: with FallbackToLogsOnError a container that fails without
 * writing /dev/termination-log gets the tail of its own output as its termination message, so the
 * server's load error or the fetch script's "digest mismatch" reaches the pod's status, and from
 * there the rollback's reason, instead of only "back-off restarting failed container" (found on the
 * real data plane, docs/data-plane.md).
 */
export const TERMINATION_MESSAGE_POLICY = 'FallbackToLogsOnError';
