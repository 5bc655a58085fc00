// The names a ModelDeployment's spec claims for its children, whatever the rollout's state. Pure.
//
// They are checked before the rollout is planned (controllers/modeldeployment.ts): a name held by
// someone else's object holds the whole rollout, so no plan is ever made that depends on an object
// that cannot be written. Checking only while writing is not enough: a blue-green switch planned in
// the reconcile after a blocked preview would go ahead without the preview ever having existed.
import type { ModelDeployment } from '../api/index.js';
import { revisionObjectName } from '../core/labels.js';
import { resolveSpec } from '../core/spec.js';
import type { TrafficRouter } from '../routers/types.js';

export interface Claim {
  apiVersion: string;
  kind: string;
  name: string;
}

export function claimedNames(
  md: ModelDeployment,
  desiredHash: string | undefined,
  router: TrafficRouter | undefined,
): Claim[] {
  const name = md.metadata!.name!;
  const spec = resolveSpec(md);
  const claims: Claim[] = [{ apiVersion: 'v1', kind: 'Service', name }];
  for (const k of router?.kinds ?? []) claims.push({ apiVersion: k.apiVersion, kind: k.kind, name });
  if (desiredHash) {
    const child = revisionObjectName(name, desiredHash);
    claims.push(
      { apiVersion: 'apps/v1', kind: 'Deployment', name: child },
      { apiVersion: 'v1', kind: 'Service', name: child },
      { apiVersion: 'v1', kind: 'ConfigMap', name: child },
    );
    // The preview Service exists only while a blue-green rollout replaces a stable revision.
    const stable = md.status?.stableRevision;
    const rollingOut = !!stable && desiredHash !== stable;
    if (spec.strategy === 'BlueGreen' && spec.blueGreen.previewService && rollingOut)
      claims.push({ apiVersion: 'v1', kind: 'Service', name: `${name}-preview` });
  }
  return claims;
}
