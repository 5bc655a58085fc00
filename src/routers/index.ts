// The traffic routers, by the spec.traffic.router value that selects them. Adding a router is adding
// a folder under src/routers/ and one line here.
import type { ModelDeployment, ModelDeploymentSpecTrafficRouter } from '../api/index.js';
import { mdKey } from '../core/labels.js';
import { gatewayApiRouter } from './gateway-api/router.js';
import { istioRouter } from './istio/router.js';
import { serviceRouter } from './service/router.js';
import type { RoutedKind, TrafficRouter } from './types.js';

export type { RouteContext, RoutedKind, TrafficRouter, WeightEntry } from './types.js';
export { VERSION_HEADER } from './table.js';
export { ANNOTATION_WEIGHTS } from './service/router.js';

const routers: Record<ModelDeploymentSpecTrafficRouter, TrafficRouter> = {
  gatewayApi: gatewayApiRouter,
  istio: istioRouter,
  service: serviceRouter,
};

/** The router the ModelDeployment asks for (spec.traffic.router, default service). */
export function routerFor(md: ModelDeployment): TrafficRouter {
  const name = md.spec.traffic?.router ?? 'service';
  const router = Object.hasOwn(routers, name) ? routers[name] : undefined;
  if (!router) {
    throw new Error(
      `ModelDeployment ${mdKey(md)}: unknown traffic.router ${JSON.stringify(name)}; ` +
        `use one of ${Object.keys(routers).join(', ')}`,
    );
  }
  return router;
}

/**
 * Every kind some router writes besides Services (extraKinds too), once each: the operator watches them all and
 * deletes a ModelDeployment's objects of the kinds its current router does not write (after a change
 * of spec.traffic.router).
 */
export function allRoutedKinds(): RoutedKind[] {
  const seen = new Map<string, RoutedKind>();
  for (const router of Object.values(routers)) {
    for (const k of [...router.kinds, ...(router.extraKinds ?? [])]) seen.set(`${k.apiVersion}/${k.kind}`, k);
  }
  return [...seen.values()];
}

/** The kinds routers write only for some settings (TrafficRouter.extraKinds), once each. */
export function extraRoutedKinds(): RoutedKind[] {
  const seen = new Map<string, RoutedKind>();
  for (const router of Object.values(routers)) {
    for (const k of router.extraKinds ?? []) seen.set(`${k.apiVersion}/${k.kind}`, k);
  }
  return [...seen.values()];
}

/**
 * The kinds the ModelDeployment's router needs served: its own, and the extras its settings ask
 * for, each with what asks for it (`traffic.router <name>`, or the setting).
 */
export function kindsNeeded(
  router: TrafficRouter,
  md: ModelDeployment,
): Array<{ kind: RoutedKind; setting: string }> {
  return [
    ...router.kinds.map((kind) => ({ kind, setting: `traffic.router ${router.name}` })),
    ...(router.needs?.(md) ?? []),
  ];
}
