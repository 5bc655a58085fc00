// Who set which fields of an object, read from metadata.managedFields: the apiserver's own record,
// kept across restarts, of every field manager's fields (server-side apply and updates alike).
// Pure.
//
// Why this tells drift: when another manager changes a field that modelship set (kubectl edit,
// kubectl set image, a script's patch), the apiserver moves that field's ownership to the other
// manager; a field someone adds beside modelship's is owned by them alone. A field that another
// manager merely set to the same value stays co-owned by modelship. So "owned by someone else and
// not by modelship" is exactly "no longer what modelship wrote", without keeping a copy of the
// object or a generation counter anywhere.
import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';

/** A field path as it appears in fieldsV1: `f:spec`, `f:template`, `k:{"name":"x"}`, ... */
export type FieldPath = readonly string[];

/** Leaf paths of a fieldsV1 tree. `.` (the node itself) is left out: its children say more. */
export function leafPaths(tree: unknown, prefix: FieldPath = []): FieldPath[] {
  if (!tree || typeof tree !== 'object') return [prefix];
  const keys = Object.keys(tree).filter((k) => k !== '.');
  if (keys.length === 0) return Object.hasOwn(tree, '.') || prefix.length ? [prefix] : [];
  return keys.flatMap((k) => leafPaths((tree as Record<string, unknown>)[k], [...prefix, k]));
}

export interface ForeignFields {
  manager: string;
  operation: string;
  time?: string;
  paths: FieldPath[];
}

/**
 * The fields under `root` (e.g. `['f:spec']`) that a manager other than `manager` owns and
 * `manager` does not, by manager; `ignore` drops paths that others may own by design.
 */
export function foreignOnlyFields(
  entries: readonly V1ManagedFieldsEntry[] | undefined,
  manager: string,
  root: FieldPath,
  ignore: (path: FieldPath) => boolean = () => false,
): ForeignFields[] {
  const subtree = (e: V1ManagedFieldsEntry): unknown =>
    root.reduce<unknown>((t, k) => (t as Record<string, unknown> | undefined)?.[k], e.fieldsV1);
  const ours = new Set(
    (entries ?? [])
      .filter((e) => e.manager === manager)
      .flatMap((e) => leafPaths(subtree(e) ?? {}).map((p) => JSON.stringify(p))),
  );
  const out: ForeignFields[] = [];
  for (const e of entries ?? []) {
    if (e.manager === manager) continue;
    const t = subtree(e);
    if (t === undefined) continue;
    const paths = leafPaths(t).filter((p) => p.length > 0 && !ours.has(JSON.stringify(p)) && !ignore(p));
    if (paths.length === 0) continue;
    const entry: ForeignFields = { manager: e.manager ?? '(unnamed)', operation: e.operation ?? '', paths };
    const time = e.time as unknown;
    if (time) entry.time = time instanceof Date ? time.toISOString() : String(time);
    out.push(entry);
  }
  return out;
}

/** `f:template/f:spec/f:containers/k:{"name":"x"}/f:image` -> `template.spec.containers[name=x].image`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (part.startsWith('f:')) out += `${out ? '.' : ''}${part.slice(2)}`;
    else if (part.startsWith('k:')) {
      let key = part.slice(2);
      try {
        const parsed = JSON.parse(key) as Record<string, unknown>;
        key = Object.entries(parsed)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(',');
      } catch {
        // not JSON: keep it as written
      }
      out += `[${key}]`;
    } else if (part.startsWith('v:')) out += `[${part.slice(2)}]`;
    else if (part.startsWith('i:')) out += `[${part.slice(2)}]`;
    else out += `.${part}`;
  }
  return out;
}
