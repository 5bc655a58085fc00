// What changed while an informer was not watching. After a 410 Gone the events between the
// resourceVersion it held and now are lost for good; a fresh list is the only truth, and the cache
// is compared with it so that handlers hear about every difference, the objects that vanished in
// between above all: no watch event will ever report their deletion.
import type { KubernetesObject } from '@kubernetes/client-node';
import { keyOf } from './keys.js';

export interface RelistDiff<T> {
  /** In the list, not in the cache (or in the cache under another uid: deleted and recreated). */
  added: T[];
  /** In both with a different resourceVersion. Unchanged objects are left out: resync covers them. */
  updated: Array<{ oldObj: T; newObj: T }>;
  /** In the cache, gone from the list (or replaced by a new object of the same name); last known state. */
  deleted: T[];
}

export function computeRelistDiff<T extends KubernetesObject>(
  cache: ReadonlyMap<string, T>,
  listed: readonly T[],
): RelistDiff<T> {
  const diff: RelistDiff<T> = { added: [], updated: [], deleted: [] };
  const seen = new Set<string>();
  for (const obj of listed) {
    const key = keyOf(obj);
    seen.add(key);
    const old = cache.get(key);
    if (!old) {
      diff.added.push(obj);
    } else if (old.metadata?.uid && obj.metadata?.uid && old.metadata.uid !== obj.metadata.uid) {
      // Same name, new object: a controller that owned children of the old one must see it go.
      diff.deleted.push(old);
      diff.added.push(obj);
    } else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
      diff.updated.push({ oldObj: old, newObj: obj });
    }
  }
  for (const [key, old] of cache) if (!seen.has(key)) diff.deleted.push(old);
  return diff;
}
