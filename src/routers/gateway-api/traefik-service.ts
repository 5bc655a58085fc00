// Traefik's own mirroring, for traffic.gatewayApi.mirrorWith: TraefikService. Pure.
//
// Traefik v3.6's Gateway provider does not implement the Gateway API RequestMirror filter (it ignores
// it on a backendRef, answers 500 on a rule: docs/routers.md), but it routes a backendRef of group
// traefik.io, kind TraefikService to the TraefikService of that name when its kubernetescrd provider
// runs too (the provider registers that backend kind with the Gateway provider). A TraefikService of
// type mirroring sends every request to its main service and a copy of `percent`% of them to each
// mirror, whose answers it discards. So the stable revision's backendRef points to a TraefikService
// `<md>-<revision>-mirror` whose main is the revision's own Service and whose one mirror is the new
// revision's Service (docs/decisions/0012-traefik-mirroring.md).
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/index.js';
import { mdName } from '../../core/labels.js';
import { revisionOfService } from '../applied.js';
import type { RouteContext, RoutedKind, WeightEntry } from '../types.js';

export const TRAEFIK_SERVICE: RoutedKind = {
  apiVersion: 'traefik.io/v1alpha1',
  kind: 'TraefikService',
  plural: 'traefikservices',
};
export const TRAEFIK_GROUP = 'traefik.io';

// The subset of TraefikService (traefik.io/v1alpha1) modelship writes and reads.
export interface TraefikService extends KubernetesObject {
  spec: {
    mirroring?: TraefikServiceRef & { mirrors?: Array<TraefikServiceRef & { percent?: number }> };
  };
}
interface TraefikServiceRef {
  /** Service (the default) or TraefikService. */
  kind?: string;
  name: string;
  namespace?: string;
  port?: number | string;
}

/** The TraefikService that mirrors a revision's requests: `<md>-<revision>-mirror`. */
export function mirrorServiceName(md: ModelDeployment, revision: string): string {
  return `${mdName(md)}-${revision}-mirror`;
}

export function usesTraefikMirror(md: ModelDeployment): boolean {
  return md.spec.traffic?.gatewayApi?.mirrorWith === 'TraefikService';
}

/**
 * The TraefikService through which `entry`'s revision serves while `ctx.mirror` copies its
 * requests: main = the revision's Service, one mirror = the mirror target's Service at `percent`.
 */
export function renderMirrorService(
  ctx: RouteContext & { mirror: NonNullable<RouteContext['mirror']> },
  entry: WeightEntry,
): TraefikService {
  const namespace = ctx.md.metadata?.namespace;
  return {
    apiVersion: TRAEFIK_SERVICE.apiVersion,
    kind: TRAEFIK_SERVICE.kind,
    metadata: {
      name: mirrorServiceName(ctx.md, entry.revision),
      ...(namespace ? { namespace } : {}),
      labels: { ...ctx.labels },
      ownerReferences: [{ ...ctx.ownerReference }],
    },
    spec: {
      mirroring: {
        kind: 'Service',
        name: entry.service,
        port: ctx.port,
        mirrors: [{ kind: 'Service', name: ctx.mirror.service, port: ctx.port, percent: ctx.mirror.percent }],
      },
    },
  };
}

/** The TraefikService `name` of the ModelDeployment's namespace among `objects` (one without a namespace matches). */
export function findTraefikService(
  objects: readonly KubernetesObject[],
  name: string,
  md: ModelDeployment,
): TraefikService | undefined {
  const namespace = md.metadata?.namespace;
  return objects.find(
    (o) =>
      o.kind === TRAEFIK_SERVICE.kind &&
      o.metadata?.name === name &&
      (!namespace || !o.metadata?.namespace || o.metadata.namespace === namespace),
  ) as TraefikService | undefined;
}

/**
 * The revision a mirroring TraefikService of this ModelDeployment serves (its main Service), as
 * applied when it is among `applied`, else as its name says (`<md>-<revision>-mirror`): the route and
 * the TraefikService come from two caches, and the route may be seen first. undefined for a name
 * that is not one of ours, or a TraefikService whose main is not one of our revision Services.
 */
export function mainRevisionOf(
  name: string,
  applied: readonly KubernetesObject[],
  md: ModelDeployment,
): string | undefined {
  const prefix = `${mdName(md)}-`;
  if (!name.startsWith(prefix) || !name.endsWith('-mirror')) return undefined;
  const namespace = md.metadata?.namespace;
  const found = findTraefikService(applied, name, md);
  const ts = found && (found.apiVersion ?? '').startsWith(`${TRAEFIK_GROUP}/`) ? found : undefined;
  if (!ts) {
    const revision = name.slice(prefix.length, -'-mirror'.length);
    return revision.length > 0 ? revision : undefined;
  }
  const main = ts.spec?.mirroring;
  if (!main || (main.kind ?? 'Service') !== 'Service') return undefined;
  if (main.namespace && namespace && main.namespace !== namespace) return undefined;
  return revisionOfService(md, main.name);
}
