// Gateway API router: one HTTPRoute `<md>` whose weighted backendRefs split traffic exactly, plus a
// header rule per model version so clients can reach any live version directly. Pure.
//
// Rule layout (Gateway API v1, standard channel):
//   1. per version in the table (weight 0 too): path AND `x-model-version: <version>` -> that
//      version's revision Service(s);
//   2. while the planner routes cohorts: one rule whose matches are the cohorts (path AND the
//      cohort's headers) -> the cohort revision's Service;
//   3. last, the default rule: path -> every revision Service, weighted by the table (weight 0 kept,
//      so the table reads back whole and a revision's Service stays attached while it warms up).
//      With a mirror, each weighted backend other than the mirror target carries a RequestMirror
//      filter with `percent`: requests the stable revision serves are copied, not the candidate's
//      own. The filter sits on the backendRef, not on the rule: Traefik v3.6 answers 500 to every
//      request of a rule that has a filter it does not implement (RequestMirror is one), and
//      ignores backendRef filters (docs/routers.md).
//      With traffic.gatewayApi.mirrorWith: TraefikService, each such backendRef instead points to a
//      TraefikService `<md>-<revision>-mirror` of type mirroring (main: the revision's Service,
//      mirror: the candidate's at `percent`), rendered beside the route (traefik-service.ts).
// A header rule is more specific than the default rule (more header matches), so it wins whatever
// the list order; it is listed first anyway so the object reads in the order requests are matched.
// Between a version pin and a cohort match with as many headers, the earlier rule (the pin) wins.
//
// Limits: the CRD allows 16 rules and 16 backendRefs per rule. A table within them (at most 16
// revisions, at most 15 distinct versions) renders whole. Beyond them the route keeps the 16
// heaviest backendRefs (the gateway then splits among those in proportion, so dropped revisions'
// shares spread over the kept ones) and the 15 heaviest versions' header rules (weighted versions
// before weight-0 ones); readWeights then returns only what was kept. The planner keeps 2-3
// revisions alive, so this is a guard, not a mode of operation.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecTrafficGatewayApi } from '../../api/index.js';
import { mdKey, mdName } from '../../core/labels.js';
import { addWeight, findApplied, revisionOfService } from '../applied.js';
import { cohortMatches } from '../cohorts.js';
import { heaviestRevisionSelector, renderStableService } from '../stable-service.js';
import { VERSION_HEADER, checkTable, groupByVersion, headerBackends, keepHeaviest } from '../table.js';
import type { RouteContext, RoutedKind, TrafficRouter } from '../types.js';
import {
  TRAEFIK_GROUP,
  TRAEFIK_SERVICE,
  type TraefikService,
  findTraefikService,
  mainRevisionOf,
  mirrorServiceName,
  renderMirrorService,
  usesTraefikMirror,
} from './traefik-service.js';

export const HTTP_ROUTE: RoutedKind = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  plural: 'httproutes',
};

/** Gateway API caps, from the HTTPRoute CRD (spec.rules maxItems, rules[].backendRefs maxItems). */
export const MAX_RULES = 16;
export const MAX_BACKEND_REFS = 16;

// The subset of HTTPRoute (gateway.networking.k8s.io/v1) modelship writes and reads.
export interface HTTPRoute extends KubernetesObject {
  spec: HTTPRouteSpec;
}
export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}
export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
}
export interface HTTPRouteRule {
  matches?: HTTPRouteMatch[];
  backendRefs?: HTTPBackendRef[];
}
export interface HTTPRouteFilter {
  type: string;
  requestMirror?: {
    backendRef: { group?: string; kind?: string; name: string; namespace?: string; port?: number };
    percent?: number;
  };
}
export interface HTTPRouteMatch {
  path?: { type?: string; value?: string };
  headers?: Array<{ type?: string; name: string; value: string }>;
}
export interface HTTPBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: HTTPRouteFilter[];
}

function config(md: ModelDeployment): ModelDeploymentSpecTrafficGatewayApi {
  const cfg = md.spec.traffic?.gatewayApi;
  if (!cfg) {
    throw new Error(
      `ModelDeployment ${mdKey(md)}: traffic.router is gatewayApi but traffic.gatewayApi is missing; ` +
        'set traffic.gatewayApi.parentRefs to the Gateway the HTTPRoute attaches to',
    );
  }
  return cfg;
}

function backendRef(service: string, port: number, weight: number): HTTPBackendRef {
  // group and kind are the CRD defaults, written out so the stored route equals the rendered one.
  return { group: '', kind: 'Service', name: service, port, weight };
}

/** Header names match case-insensitively in Gateway API, so the header rule test is too. */
function isVersionMatch(m: HTTPRouteMatch): boolean {
  return (m.headers ?? []).some((h) => h.name.toLowerCase() === VERSION_HEADER);
}

export function renderHTTPRoute(ctx: RouteContext): HTTPRoute {
  const { md, weights, port } = ctx;
  const cfg = config(md);
  const namespace = md.metadata?.namespace;
  const path = { type: cfg.path?.type ?? 'PathPrefix', value: cfg.path?.value ?? '/' };

  const cohorts = ctx.cohort ? cohortMatches(md) : [];
  const cohortRules: HTTPRouteRule[] =
    ctx.cohort && cohorts.length > 0
      ? [
          {
            matches: cohorts.map((headers) => ({
              path,
              headers: headers.map((h) => ({ type: h.type, name: h.name, value: h.value })),
            })),
            backendRefs: [backendRef(ctx.cohort.service, port, 1)],
          },
        ]
      : [];
  const versions = keepHeaviest(groupByVersion(weights), MAX_RULES - 1 - cohortRules.length);
  const headerRules: HTTPRouteRule[] = versions.map((group) => ({
    matches: [{ path, headers: [{ type: 'Exact', name: VERSION_HEADER, value: group.version }] }],
    backendRefs: keepHeaviest(headerBackends(group), MAX_BACKEND_REFS).map((b) =>
      backendRef(b.entry.service, port, b.weight),
    ),
  }));
  const defaultRule: HTTPRouteRule = {
    matches: [{ path }],
    backendRefs: keepHeaviest(weights, MAX_BACKEND_REFS).map((e) => {
      const ref = backendRef(e.service, port, e.weight);
      const m = ctx.mirror;
      if (!m || e.weight === 0 || e.revision === m.revision) return ref;
      if (usesTraefikMirror(md)) {
        // Until the TraefikService is there, the backend stays the revision's Service: Traefik fails
        // every request of a rule one of whose backends is a TraefikService it has not loaded.
        if (!isObserved(ctx, mirrorServiceName(md, e.revision))) return ref;
        // No port: a TraefikService is not a Kubernetes Service (the CRD asks a port of Services only).
        return {
          group: TRAEFIK_GROUP,
          kind: TRAEFIK_SERVICE.kind,
          name: mirrorServiceName(md, e.revision),
          weight: e.weight,
        };
      }
      return {
        ...ref,
        filters: [
          {
            type: 'RequestMirror',
            requestMirror: {
              backendRef: { group: '', kind: 'Service', name: m.service, port },
              percent: m.percent,
            },
          },
        ],
      };
    }),
  };

  return {
    apiVersion: HTTP_ROUTE.apiVersion,
    kind: HTTP_ROUTE.kind,
    metadata: {
      name: mdName(md),
      ...(namespace ? { namespace } : {}),
      labels: { ...ctx.labels },
      ownerReferences: [{ ...ctx.ownerReference }],
    },
    spec: {
      parentRefs: cfg.parentRefs.map((p) => ({
        group: p.group ?? 'gateway.networking.k8s.io',
        kind: p.kind ?? 'Gateway',
        ...(p.namespace ? { namespace: p.namespace } : {}),
        name: p.name,
        ...(p.sectionName ? { sectionName: p.sectionName } : {}),
      })),
      ...(cfg.hostnames && cfg.hostnames.length > 0 ? { hostnames: [...cfg.hostnames] } : {}),
      rules: [...headerRules, ...cohortRules, defaultRule],
    },
  };
}

/** The default rule matches on the path alone; version pins and cohorts match headers. */
function isDefaultRule(r: HTTPRouteRule): boolean {
  return !(r.matches ?? []).some((m) => isVersionMatch(m) || (m.headers ?? []).length > 0);
}

/** Whether the TraefikService `name` is among the observed objects (every one is, when none are given). */
function isObserved(ctx: RouteContext, name: string): boolean {
  return !ctx.observed || findTraefikService(ctx.observed, name, ctx.md) !== undefined;
}

/** Names of the TraefikServices the applied route's default rule sends to. */
function traefikServicesInUse(applied: readonly KubernetesObject[], md: ModelDeployment): Set<string> {
  const route = findApplied<HTTPRoute>(applied, HTTP_ROUTE, md);
  const rule = (route?.spec?.rules ?? []).find(isDefaultRule);
  return new Set(
    (rule?.backendRefs ?? [])
      .filter((b) => b.group === TRAEFIK_GROUP && b.kind === TRAEFIK_SERVICE.kind)
      .map((b) => b.name),
  );
}

/**
 * The backendRefs of the default rule other than the candidate's, while a mirror copies to it with
 * mirrorWith TraefikService: each is served through a mirroring TraefikService.
 */
function traefikMirrors(ctx: RouteContext): TraefikService[] {
  const m = ctx.mirror;
  if (!m || !usesTraefikMirror(ctx.md)) return [];
  return keepHeaviest(ctx.weights, MAX_BACKEND_REFS)
    .filter((e) => e.weight > 0 && e.revision !== m.revision)
    .map((e) => renderMirrorService({ ...ctx, mirror: m }, e));
}

/**
 * Weights of the default rule (the first rule none of whose matches tests a header), by
 * revision. Backend weights are read as stored: Gateway API weights are proportions, and modelship
 * writes percentages, so a route it applied reads back as the table (weight-0 revisions included).
 * A backend missing its weight counts as 1, the CRD default; a backend that is one of this
 * ModelDeployment's mirroring TraefikServices counts for the revision it serves (its main Service;
 * `applied` holds the TraefikServices); other backends that are not revision Services of this
 * ModelDeployment are skipped. An HTTPRoute without such a rule reads as an empty split. Mirrored
 * copies are never read as weight: they are not served traffic.
 */
export function readHTTPRouteWeights(
  route: HTTPRoute,
  md: ModelDeployment,
  applied: readonly KubernetesObject[] = [],
): Map<string, number> {
  const out = new Map<string, number>();
  const rule = (route.spec?.rules ?? []).find(isDefaultRule);
  for (const b of rule?.backendRefs ?? []) {
    if (b.namespace && md.metadata?.namespace && b.namespace !== md.metadata.namespace) continue;
    if (b.group === TRAEFIK_GROUP && b.kind === TRAEFIK_SERVICE.kind) {
      const revision = mainRevisionOf(b.name, applied, md);
      if (revision !== undefined) addWeight(out, revision, b.weight ?? 1);
      continue;
    }
    if ((b.group ?? '') !== '' || (b.kind ?? 'Service') !== 'Service') continue;
    const revision = revisionOfService(md, b.name);
    if (revision !== undefined) addWeight(out, revision, b.weight ?? 1);
  }
  return out;
}

export const gatewayApiRouter: TrafficRouter = {
  name: 'gatewayApi',
  exactWeights: true,
  matches: true,
  mirrors: true,
  kinds: [HTTP_ROUTE],
  extraKinds: [TRAEFIK_SERVICE],
  needs(md) {
    return usesTraefikMirror(md)
      ? [{ kind: TRAEFIK_SERVICE, setting: 'traffic.gatewayApi.mirrorWith TraefikService' }]
      : [];
  },
  inUse: traefikServicesInUse,
  render(ctx) {
    checkTable(ctx);
    return [
      ...traefikMirrors(ctx),
      renderHTTPRoute(ctx),
      renderStableService(ctx, heaviestRevisionSelector(ctx)),
    ];
  },
  readWeights(applied, md) {
    const route = findApplied<HTTPRoute>(applied, HTTP_ROUTE, md);
    return route ? readHTTPRouteWeights(route, md, applied) : undefined;
  },
};
