// Istio router: one VirtualService `<md>` whose weighted route splits traffic exactly, after a
// header route per model version so clients can reach any live version directly. Pure.
//
// Istio evaluates http routes in order and takes the first match, so the header routes come first
// (version pins, then the cohorts while the planner routes them), and the weighted route (no match:
// everything else) last. A mirror is set on the weighted route (Istio mirrors per route, not per
// destination): the candidate then also gets copies of requests it serves itself while it has
// weight; the percentage is the mirror's percent scaled by the stable share, so that about
// percent% of the stable revision's requests are copied, as with Gateway API. The weighted route lists every revision,
// weight 0 included, so the table reads back whole. Destinations are Service FQDNs
// (`<svc>.<namespace>.svc.cluster.local`), as Istio recommends: a short name is expanded with the
// VirtualService's namespace, which silently breaks if the object is ever copied or delegated.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTrafficIstio } from '../../api/index.js';
import { mdKey, mdName } from '../../core/labels.js';
import { addWeight, findApplied, revisionOfService } from '../applied.js';
import { cohortMatches } from '../cohorts.js';
import { heaviestRevisionSelector, renderStableService } from '../stable-service.js';
import { VERSION_HEADER, checkTable, groupByVersion, headerBackends } from '../table.js';
import type { RouteContext, RoutedKind, TrafficRouter } from '../types.js';

export const VIRTUAL_SERVICE: RoutedKind = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  plural: 'virtualservices',
};

/** Name of the weighted route, by which readWeights finds it. */
export const SPLIT_ROUTE = 'split';
/** Name of the route that sends the cohorts to the new revision. */
export const COHORT_ROUTE = 'cohorts';
/** The cluster DNS domain of the destination hosts (kubelet --cluster-domain). */
export const CLUSTER_DOMAIN = 'cluster.local';

// The subset of VirtualService (networking.istio.io/v1) modelship writes and reads.
export interface VirtualService extends KubernetesObject {
  spec: VirtualServiceSpec;
}
export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
}
export interface HTTPRoute {
  name?: string;
  match?: Array<{ headers?: Record<string, { exact?: string; prefix?: string; regex?: string }> }>;
  route?: HTTPRouteDestination[];
  mirror?: { host: string; port?: { number?: number } };
  mirrorPercentage?: { value: number };
}
export interface HTTPRouteDestination {
  destination: { host: string; port?: { number?: number }; subset?: string };
  weight?: number;
}

function config(md: ModelDeployment): ModelDeploymentSpecTrafficIstio {
  const cfg = md.spec.traffic?.istio;
  if (!cfg) {
    throw new Error(
      `ModelDeployment ${mdKey(md)}: traffic.router is istio but traffic.istio is missing; ` +
        'set traffic.istio.hosts to the hosts the VirtualService serves',
    );
  }
  return cfg;
}

function host(md: ModelDeployment, service: string): string {
  const namespace = md.metadata?.namespace;
  if (!namespace) {
    throw new Error(
      `ModelDeployment ${mdKey(md)} has no metadata.namespace; the VirtualService needs it for the ` +
        `destination host of Service ${service}`,
    );
  }
  return `${service}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

export function renderVirtualService(ctx: RouteContext): VirtualService {
  const { md, weights, port } = ctx;
  const cfg = config(md);
  const namespace = md.metadata?.namespace;
  const destination = (service: string) => ({ host: host(md, service), port: { number: port } });

  const headerRoutes: HTTPRoute[] = groupByVersion(weights).map((group) => {
    const backends = headerBackends(group);
    return {
      name: `version-${group.version}`,
      match: [{ headers: { [VERSION_HEADER]: { exact: group.version } } }],
      // One destination takes all traffic whatever its weight, so the weight is only written for a split.
      route: backends.map((b) => ({
        destination: destination(b.entry.service),
        ...(backends.length > 1 ? { weight: b.weight } : {}),
      })),
    };
  });
  const cohorts = ctx.cohort ? cohortMatches(md) : [];
  const cohortRoutes: HTTPRoute[] =
    ctx.cohort && cohorts.length > 0
      ? [
          {
            name: COHORT_ROUTE,
            match: cohorts.map((headers) => ({
              headers: Object.fromEntries(
                headers.map((h) => [h.name, h.type === 'Exact' ? { exact: h.value } : { regex: h.value }]),
              ),
            })),
            route: [{ destination: destination(ctx.cohort.service) }],
          },
        ]
      : [];
  const split: HTTPRoute = {
    name: SPLIT_ROUTE,
    route: weights.map((e) => ({ destination: destination(e.service), weight: e.weight })),
  };
  const m = ctx.mirror;
  const copied = m ? weights.filter((e) => e.revision !== m.revision).reduce((a, e) => a + e.weight, 0) : 0;
  if (m && copied > 0) {
    split.mirror = destination(m.service);
    split.mirrorPercentage = { value: (m.percent * copied) / 100 };
  }

  return {
    apiVersion: VIRTUAL_SERVICE.apiVersion,
    kind: VIRTUAL_SERVICE.kind,
    metadata: {
      name: mdName(md),
      ...(namespace ? { namespace } : {}),
      labels: { ...ctx.labels },
      ownerReferences: [{ ...ctx.ownerReference }],
    },
    spec: {
      hosts: [...cfg.hosts],
      ...(cfg.gateways && cfg.gateways.length > 0 ? { gateways: [...cfg.gateways] } : {}),
      http: [...headerRoutes, ...cohortRoutes, split],
    },
  };
}

/**
 * Weights of the weighted route (named `split`; failing that, the last route without a match), by
 * revision, from the destination hosts' first DNS label (`<md>-<revision>`, so short names and other
 * cluster domains read back too). A lone destination without a weight takes all traffic (100), as in
 * Istio; otherwise a missing weight is 0. Destinations that are not revision Services of this
 * ModelDeployment are skipped. A VirtualService without such a route reads as an empty split.
 */
export function readVirtualServiceWeights(vs: VirtualService, md: ModelDeployment): Map<string, number> {
  const out = new Map<string, number>();
  const routes = vs.spec?.http ?? [];
  const split =
    routes.find((r) => r.name === SPLIT_ROUTE) ??
    [...routes].reverse().find((r) => (r.match ?? []).length === 0);
  const dests = split?.route ?? [];
  for (const d of dests) {
    const [service = '', ns] = d.destination.host.split('.');
    if (ns && md.metadata?.namespace && ns !== md.metadata.namespace) continue;
    const revision = revisionOfService(md, service);
    if (revision !== undefined) addWeight(out, revision, d.weight ?? (dests.length === 1 ? 100 : 0));
  }
  return out;
}

export const istioRouter: TrafficRouter = {
  name: 'istio',
  exactWeights: true,
  matches: true,
  mirrors: true,
  kinds: [VIRTUAL_SERVICE],
  render(ctx) {
    checkTable(ctx);
    return [renderVirtualService(ctx), renderStableService(ctx, heaviestRevisionSelector(ctx))];
  },
  readWeights(applied, md) {
    const vs = findApplied<VirtualService>(applied, VIRTUAL_SERVICE, md);
    return vs ? readVirtualServiceWeights(vs, md) : undefined;
  },
};
