// The work queue's unit of work: `namespace/name`, or `name` for a cluster-scoped object, as
// client-go's MetaNamespaceKeyFunc spells it, so keys read the same in logs as in kubectl.
import type { KubernetesObject } from '@kubernetes/client-node';

export function keyOf(obj: KubernetesObject): string {
  const name = obj.metadata?.name;
  if (!name) throw new Error(`a ${obj.kind ?? 'object'} without metadata.name has no key`);
  const namespace = obj.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const parts = key.split('/');
  const [first, second] = parts;
  if (parts.length === 1 && first) return { namespace: undefined, name: first };
  if (parts.length === 2 && first && second) return { namespace: first, name: second };
  throw new Error(`invalid key "${key}": want "namespace/name" or, for a cluster-scoped object, "name"`);
}
