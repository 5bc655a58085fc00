// Which objects are a ModelDeployment's own. modelship writes only objects it created: an object
// of a child's name that this ModelDeployment does not control (by uid) is someone else's, whatever
// its name or labels say, and is never changed, adopted or deleted. Pure.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/index.js';

/** The object's controller owner reference names this ModelDeployment object (same uid). */
export function controlledBy(obj: KubernetesObject, md: ModelDeployment): boolean {
  const uid = md.metadata?.uid;
  return !!uid && (obj.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.uid === uid);
}

/** Who controls an object, for a message: `ModelDeployment other`, or `no controller`. */
export function describeController(obj: KubernetesObject): string {
  const c = (obj.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
  return c ? `is controlled by ${c.kind} ${c.name}` : 'has no controller';
}

/** A name a ModelDeployment needs for a child, held by an object it does not control. */
export interface NameConflict {
  apiVersion: string;
  kind: string;
  name: string;
  /** e.g. `has no controller`, `is controlled by ModelDeployment shop-2`. */
  holder: string;
}

/** The condition message for name conflicts: what is in the way, and what to do. */
export function nameConflictMessage(namespace: string, conflicts: readonly NameConflict[]): string {
  const list = conflicts.map((c) => `${c.kind} ${namespace}/${c.name} (it ${c.holder})`).join(', ');
  return (
    `${list} already exist${conflicts.length === 1 ? 's' : ''} and ${conflicts.length === 1 ? 'is' : 'are'} not ` +
    `controlled by this ModelDeployment. modelship never changes, adopts or deletes an object it did ` +
    `not create: rename or delete ${conflicts.length === 1 ? 'that object' : 'those objects'}, or give the ` +
    `ModelDeployment another name`
  );
}
