// Reading back what the apiserver holds. Applied objects come from a cache or `kubectl get -o json`:
// they carry defaulted fields, status and managedFields, and may be served at another version of the
// same group, so matching is by group, kind, name and namespace only. Pure.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';
import { mdName } from '../core/labels.js';

function groupOf(apiVersion: string | undefined): string {
  const slash = apiVersion?.indexOf('/') ?? -1;
  return slash < 0 ? '' : (apiVersion ?? '').slice(0, slash);
}

/** The object of this group and kind named `<md>` in the ModelDeployment's namespace, if applied. */
export function findApplied<T extends KubernetesObject>(
  applied: readonly KubernetesObject[],
  kind: { apiVersion: string; kind: string },
  md: ModelDeployment,
): T | undefined {
  const name = mdName(md);
  const namespace = md.metadata?.namespace;
  const group = groupOf(kind.apiVersion);
  return applied.find(
    (o) =>
      o.kind === kind.kind &&
      groupOf(o.apiVersion) === group &&
      o.metadata?.name === name &&
      (!namespace || !o.metadata?.namespace || o.metadata.namespace === namespace),
  ) as T | undefined;
}

/**
 * The revision a Service name `<md>-<revision>` belongs to, or undefined for a Service that is not a
 * revision Service of this ModelDeployment (someone else's backend: it is not in our table).
 */
export function revisionOfService(md: ModelDeployment, service: string): string | undefined {
  const prefix = `${mdName(md)}-`;
  return service.startsWith(prefix) && service.length > prefix.length
    ? service.slice(prefix.length)
    : undefined;
}

/** Adds `weight` to the revision's total (a revision may appear in several backends). */
export function addWeight(into: Map<string, number>, revision: string, weight: number): void {
  into.set(revision, (into.get(revision) ?? 0) + weight);
}
