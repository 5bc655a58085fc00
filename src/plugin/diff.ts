// What differs between two ModelVersions: tensors of the I/O signature, metrics, training parameters.
// Pure; the diff command lays the results out.
import type { ModelVersionSpecInterface, ModelVersionSpecInterfaceInput } from '../api/index.js';

export type Tensor = Pick<ModelVersionSpecInterfaceInput, 'name' | 'datatype' | 'shape' | 'format'>;

export type TensorChange =
  | { kind: 'added'; name: string; after: Tensor }
  | { kind: 'removed'; name: string; before: Tensor }
  | { kind: 'changed'; name: string; before: Tensor; after: Tensor; what: string[] };

export const shapeText = (shape: readonly number[] | undefined): string =>
  `[${(shape ?? []).map((d) => (d === -1 ? '-1' : String(d))).join(', ')}]`;

export const tensorText = (t: Tensor): string =>
  `${t.datatype} ${shapeText(t.shape)}${t.format ? ` ${t.format}` : ''}`;

/**
 * Tensors are matched by name (the CRD keys the lists by name). A change of datatype, shape or
 * format is listed with each part that changed; descriptions are documentation, not signature.
 */
export function diffTensors(before: readonly Tensor[] = [], after: readonly Tensor[] = []): TensorChange[] {
  const out: TensorChange[] = [];
  const next = new Map(after.map((t) => [t.name, t]));
  const prev = new Map(before.map((t) => [t.name, t]));
  for (const b of before) {
    const a = next.get(b.name);
    if (!a) {
      out.push({ kind: 'removed', name: b.name, before: b });
      continue;
    }
    const what: string[] = [];
    if (a.datatype !== b.datatype) what.push(`datatype ${b.datatype} → ${a.datatype}`);
    if (shapeText(a.shape) !== shapeText(b.shape))
      what.push(`shape ${shapeText(b.shape)} → ${shapeText(a.shape)}`);
    if ((a.format ?? '') !== (b.format ?? '')) what.push(`format ${b.format ?? '-'} → ${a.format ?? '-'}`);
    if (what.length) out.push({ kind: 'changed', name: b.name, before: b, after: a, what });
  }
  for (const a of after) if (!prev.has(a.name)) out.push({ kind: 'added', name: a.name, after: a });
  return out;
}

export interface InterfaceDiff {
  inputs: TensorChange[];
  outputs: TensorChange[];
  /** Clients written for the first version may break against the second. */
  breaking: boolean;
}

export function diffInterface(
  a: ModelVersionSpecInterface | undefined,
  b: ModelVersionSpecInterface | undefined,
): InterfaceDiff {
  const inputs = diffTensors(a?.inputs, b?.inputs);
  const outputs = diffTensors(a?.outputs, b?.outputs);
  // Any change of an input (a new one is required too) breaks callers; so does a changed or
  // removed output. Only an added output leaves existing clients working.
  const breaking = inputs.length > 0 || outputs.some((c) => c.kind !== 'added');
  return { inputs, outputs, breaking };
}

/** One line per change: `+ name: FP32 [3]`, `- name: …`, `~ name: datatype FP32 → FP16`. */
export function describeTensorChange(c: TensorChange): string {
  switch (c.kind) {
    case 'added':
      return `+ ${c.name}: ${tensorText(c.after)}`;
    case 'removed':
      return `- ${c.name}: ${tensorText(c.before)}`;
    case 'changed':
      return `~ ${c.name}: ${c.what.join(', ')}`;
  }
}

export interface ValueRow<T> {
  name: string;
  a: T | undefined;
  b: T | undefined;
  mark: ' ' | '+' | '-' | '~';
}

/** Keys of both maps, sorted, with a diff mark: ' ' same, '~' changed, '+' only in b, '-' only in a. */
export function diffMaps<T>(a: Record<string, T> = {}, b: Record<string, T> = {}): Array<ValueRow<T>> {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names.map((name) => {
    const va = Object.prototype.hasOwnProperty.call(a, name) ? a[name] : undefined;
    const vb = Object.prototype.hasOwnProperty.call(b, name) ? b[name] : undefined;
    const mark = va === undefined ? '+' : vb === undefined ? '-' : va === vb ? ' ' : '~';
    return { name, a: va, b: vb, mark };
  });
}

/** b - a and the relative change in percent (undefined when a is 0 or either side is missing). */
export function metricDelta(
  a: number | undefined,
  b: number | undefined,
): { delta: number; percent: number | undefined } | undefined {
  if (a === undefined || b === undefined) return undefined;
  const delta = b - a;
  return { delta, percent: a === 0 ? undefined : (100 * delta) / Math.abs(a) };
}
