// Plain-Service router, for clusters without a gateway or mesh: the stable Service `<md>` alone.
// Pure.
//
// A Service cannot weight its endpoints; kube-proxy spreads connections evenly over the ready pods it
// selects. So:
//   - one revision with all the weight: the Service selects that revision's pods only
//     ({modelship.io/deployment, modelship.io/revision});
//   - a split: the Service selects every pod of the ModelDeployment ({modelship.io/deployment}), and
//     the split is the ratio of ready pods. The planner (exactWeights: false) sizes each weighted
//     revision's replicas in proportion to its weight and scales weight-0 revisions to 0 while a split
//     is in effect, since any pod of the ModelDeployment that is running gets traffic. The result is
//     approximate: replica counts are whole numbers, pods turn ready at different times, and
//     kube-proxy balances connections, not requests (long-lived HTTP/2 or keep-alive clients stick).
// There is no header routing; a client reaches one revision directly through its revision Service
// `<md>-<revision>`. The intended table is recorded on the Service (ANNOTATION_WEIGHTS), since the
// selector alone cannot say what split was meant.
import type { V1Service } from '@kubernetes/client-node';
import { LABEL_DEPLOYMENT, mdName, revisionSelector } from '../../core/labels.js';
import { findApplied } from '../applied.js';
import { renderStableService } from '../stable-service.js';
import { checkTable } from '../table.js';
import type { RouteContext, TrafficRouter, WeightEntry } from '../types.js';

/** The weight table the Service is meant to route by: `abc123=80,def456=20`, sorted by revision. */
export const ANNOTATION_WEIGHTS = 'modelship.io/weights';

const SERVICE = { apiVersion: 'v1', kind: 'Service' };

/** The annotation value: every entry, weight 0 included, sorted by revision (code-unit order). */
export function formatWeights(weights: readonly WeightEntry[]): string {
  return [...weights]
    .sort((a, b) => (a.revision < b.revision ? -1 : a.revision > b.revision ? 1 : 0))
    .map((e) => `${e.revision}=${e.weight}`)
    .join(',');
}

/** Parses the annotation; entries that are not `revision=<whole number>` are skipped. */
export function parseWeights(value: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of value.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
  }
  return out;
}

export function serviceSelector(ctx: RouteContext): Record<string, string> {
  const weighted = ctx.weights.filter((e) => e.weight > 0);
  const only = weighted.length === 1 ? weighted[0] : undefined;
  return only ? revisionSelector(mdName(ctx.md), only.revision) : { [LABEL_DEPLOYMENT]: mdName(ctx.md) };
}

export const serviceRouter: TrafficRouter = {
  name: 'service',
  exactWeights: false,
  // A Service selects pods: it sees neither headers nor requests to copy.
  matches: false,
  mirrors: false,
  kinds: [],
  render(ctx) {
    checkTable(ctx);
    return [
      renderStableService(ctx, serviceSelector(ctx), { [ANNOTATION_WEIGHTS]: formatWeights(ctx.weights) }),
    ];
  },
  /**
   * The recorded table. undefined when the Service is absent or carries no annotation (then it was
   * not written by this router, for example by another router before traffic.router changed).
   */
  readWeights(applied, md) {
    const value = findApplied<V1Service>(applied, SERVICE, md)?.metadata?.annotations?.[ANNOTATION_WEIGHTS];
    return value === undefined ? undefined : parseWeights(value);
  },
};
