// What differs between two ModelVersions: tensors of the I/O signature, metrics, training parameters.
// Pure; the diff command lays the results out.
// The interface rule lives in the core (the rollout's interface gate uses the same one).
export {
  describeTensorChange,
  diffInterface,
  diffTensors,
  shapeText,
  tensorText,
  type InterfaceDiff,
  type Tensor,
  type TensorChange,
} from '../core/interface.js';

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
