// The interface contract between two ModelVersions: which differences of the I/O signature break a
// client written for the first, and whether Semantic Versioning lets the second ship them. Pure; the
// one home of the rule, used by the rollout planner (the interface gate) and `kubectl modelship diff`.
import type { ModelVersionSpecInterface, ModelVersionSpecInterfaceInput } from '../api/index.js';
import { parseSemver } from './semver.js';

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

/**
 * An input of the new shape accepts every tensor a client sent to the old one: same rank, and each
 * dimension unchanged or now dynamic (-1). A fixed dimension that was dynamic, or another size, refuses
 * some requests that worked.
 */
export function inputShapeAccepts(before: readonly number[] = [], after: readonly number[] = []): boolean {
  return before.length === after.length && after.every((d, i) => d === -1 || d === before[i]);
}

/**
 * An output of the new shape is what a client of the old one can read: same rank, and each dimension
 * unchanged, or one the old version declared dynamic (-1) now fixed. A fixed dimension that became
 * dynamic may hand a client sizes it never had to handle.
 */
export function outputShapeFits(before: readonly number[] = [], after: readonly number[] = []): boolean {
  return before.length === after.length && before.every((d, i) => d === -1 || d === after[i]);
}

/** Whether one change breaks a client of the old version (see breakingChanges for the rule). */
export function isBreaking(side: 'input' | 'output', c: TensorChange): boolean {
  if (c.kind === 'added') return side === 'input';
  if (c.kind === 'removed') return true;
  if (c.before.datatype !== c.after.datatype) return true;
  if ((c.before.format ?? '') !== (c.after.format ?? '')) return true;
  return side === 'input'
    ? !inputShapeAccepts(c.before.shape, c.after.shape)
    : !outputShapeFits(c.before.shape, c.after.shape);
}

export interface InterfaceDiff {
  inputs: TensorChange[];
  outputs: TensorChange[];
  /** One line per difference that breaks a client of the first version, e.g. `input in: removed`. */
  breakingChanges: string[];
  /** Clients written for the first version may break against the second. */
  breaking: boolean;
}

/**
 * The rule: a client of `a` breaks against `b` when an input is removed or renamed (callers send a
 * tensor the server refuses), a new input appears (every declared input is required), an output is
 * removed or renamed, a datatype or format changes, or a shape stops fitting (inputShapeAccepts,
 * outputShapeFits). An added output, a fixed input dimension made dynamic, a dynamic output
 * dimension made fixed, and descriptions leave every client working.
 */
export function diffInterface(
  a: ModelVersionSpecInterface | undefined,
  b: ModelVersionSpecInterface | undefined,
): InterfaceDiff {
  const inputs = diffTensors(a?.inputs, b?.inputs);
  const outputs = diffTensors(a?.outputs, b?.outputs);
  const breakingChanges = [
    ...inputs.filter((c) => isBreaking('input', c)).map((c) => breakingText('input', c)),
    ...outputs.filter((c) => isBreaking('output', c)).map((c) => breakingText('output', c)),
  ];
  return { inputs, outputs, breakingChanges, breaking: breakingChanges.length > 0 };
}

function breakingText(side: 'input' | 'output', c: TensorChange): string {
  switch (c.kind) {
    case 'added':
      return `new required ${side} ${c.name} (${tensorText(c.after)})`;
    case 'removed':
      return `${side} ${c.name} removed (was ${tensorText(c.before)})`;
    case 'changed':
      return `${side} ${c.name}: ${c.what.join(', ')}`;
  }
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

/** What one side of the check knows: the exact version and the interface its ModelVersion declares. */
export interface InterfaceSide {
  version: string;
  /** undefined: the ModelVersion declares no interface. */
  interface: ModelVersionSpecInterface | undefined;
}

export type InterfaceVerdict =
  | { ok: true; why: 'compatible' | 'undeclared' | 'newMajor' | 'allowed'; breakingChanges: string[] }
  | { ok: false; breakingChanges: string[]; message: string };

/**
 * May `next` replace `serving`? Semantic Versioning: a breaking interface change needs a new major
 * version (next's major above serving's; 0.x is not special), or the explicit opt-in
 * `allowInterfaceChangeTo` naming next's exact version. A serving version that declares no interface
 * has no contract to check.
 */
export function checkInterfaceChange(
  serving: InterfaceSide,
  next: InterfaceSide,
  allowInterfaceChangeTo?: string,
): InterfaceVerdict {
  if (!serving.interface) return { ok: true, why: 'undeclared', breakingChanges: [] };
  const { breakingChanges } = diffInterface(serving.interface, next.interface ?? {});
  if (breakingChanges.length === 0) return { ok: true, why: 'compatible', breakingChanges };
  if (majorAbove(next.version, serving.version)) return { ok: true, why: 'newMajor', breakingChanges };
  if (allowInterfaceChangeTo !== undefined && allowInterfaceChangeTo === next.version)
    return { ok: true, why: 'allowed', breakingChanges };
  const list = next.interface
    ? breakingChanges.join('; ')
    : `${next.version} declares no interface (${breakingChanges.join('; ')})`;
  return {
    ok: false,
    breakingChanges,
    message:
      `version ${next.version} breaks the interface of the serving version ${serving.version}: ${list}. ` +
      `A breaking change needs a new major version (Semantic Versioning), or ` +
      `spec.strategy.allowInterfaceChangeTo: "${next.version}" to ship it anyway`,
  };
}

/** next's MAJOR is greater than serving's; false when either is not a semantic version. */
export function majorAbove(next: string, serving: string): boolean {
  const n = parseSemver(next);
  const s = parseSemver(serving);
  if (!n || !s) return false;
  const [a, b] = [n.core[0], s.core[0]];
  return a.length !== b.length ? a.length > b.length : a > b;
}
