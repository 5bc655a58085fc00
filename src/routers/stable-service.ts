// The stable Service `<md>`: the one name clients use whatever the router. Every router renders it,
// differing only in which pods it selects. Pure.
import type { V1Service } from '@kubernetes/client-node';
import { mdName, revisionSelector } from '../core/labels.js';
import { heaviest } from './table.js';
import type { RouteContext } from './types.js';

/**
 * Selector of the stable Service behind a gateway or mesh: the revision with the most weight (the
 * first of them on a tie), so a client that bypasses the router still gets the revision most traffic
 * goes to, and never a canary that holds a minority share.
 */
export function heaviestRevisionSelector(ctx: RouteContext): Record<string, string> {
  return revisionSelector(mdName(ctx.md), heaviest(ctx.weights).revision);
}

/** The ClusterIP Service `<md>` on ctx.port (named http) forwarding to the serving container port. */
export function renderStableService(
  ctx: RouteContext,
  selector: Record<string, string>,
  annotations?: Record<string, string>,
): V1Service {
  const namespace = ctx.md.metadata?.namespace;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: mdName(ctx.md),
      ...(namespace ? { namespace } : {}),
      labels: { ...ctx.labels },
      ...(annotations ? { annotations } : {}),
      ownerReferences: [{ ...ctx.ownerReference }],
    },
    spec: {
      type: 'ClusterIP',
      selector,
      // The port name doubles as the protocol hint Istio's sidecars use (http, http-*).
      ports: [{ name: 'http', protocol: 'TCP', port: ctx.port, targetPort: ctx.targetPortName }],
    },
  };
}
