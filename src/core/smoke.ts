// The pre-traffic checks' comparisons: a KServe v2 response against a ModelVersion's expected outputs
// (numbers within a tolerance, strings and booleans exactly), and the interface a Triton server
// loaded (GET /v2/models/<m>/config) against the one the ModelVersion declares. Pure: the I/O is in
// src/gates; the verdicts feed the planner (core/planner/pre-traffic.ts).
import type { ModelVersionSpecInterface, ModelVersionSpecSmokeTestRequest } from '../api/index.js';
import { diffTensors, shapeText, type Tensor } from './interface.js';

export type SmokeRequest = ModelVersionSpecSmokeTestRequest;
export type ExpectedOutput = SmokeRequest['expected'][number];

/** The body to POST to /v2/models/<model>/infer for one sample request. */
export function inferBody(r: SmokeRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    inputs: r.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, data: i.data })),
    outputs: r.expected.map((o) => ({ name: o.name })),
  };
  if (r.parameters) body.parameters = r.parameters;
  return body;
}

/** A value as a message shows it: strings quoted, long arrays cut. */
export function show(v: unknown): string {
  if (Array.isArray(v)) {
    const head = v.slice(0, 8).map(show).join(', ');
    return `[${head}${v.length > 8 ? `, … (${v.length} values)` : ''}]`;
  }
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Whether `got` matches `want`: numbers within abs + rel × |want|, everything else exactly. */
export function valueMatches(want: unknown, got: unknown, abs = 0, rel = 0): boolean {
  if (typeof want === 'number') {
    if (typeof got !== 'number' || Number.isNaN(got)) return false;
    if (want === got) return true;
    return Math.abs(got - want) <= abs + rel * Math.abs(want);
  }
  return want === got;
}

/** Flattens a KServe v2 data field (flat, or nested row-major arrays) to its values. */
export function flatten(data: unknown): unknown[] {
  return Array.isArray(data) ? data.flatMap((d) => flatten(d)) : [data];
}

/**
 * The first way one KServe v2 JSON response differs from the expected outputs, or undefined when it
 * matches. Outputs are matched by name; outputs the response has beyond the expected ones are not
 * compared. The text names the output, the index and both values.
 */
export function firstDifference(expected: readonly ExpectedOutput[], response: unknown): string | undefined {
  const outputs = (response as { outputs?: unknown } | null)?.outputs;
  if (!Array.isArray(outputs))
    return `the response has no outputs (${show(truncate(JSON.stringify(response)))})`;
  for (const e of expected) {
    const o = outputs.find((x) => (x as { name?: unknown })?.name === e.name) as
      { shape?: unknown; data?: unknown } | undefined;
    if (!o) return `output ${e.name} is missing from the response`;
    if (e.shape && shapeText(e.shape) !== shapeText(Array.isArray(o.shape) ? (o.shape as number[]) : []))
      return `output ${e.name}: expected shape ${shapeText(e.shape)}, got ${show(o.shape)}`;
    const got = flatten(o.data);
    const want = e.data;
    if (got.length !== want.length)
      return `output ${e.name}: expected ${want.length} values ${show(want)}, got ${got.length} values ${show(got)}`;
    for (let i = 0; i < want.length; i++) {
      if (!valueMatches(want[i], got[i], e.absoluteTolerance ?? 0, e.relativeTolerance ?? 0)) {
        const tol =
          e.absoluteTolerance || e.relativeTolerance
            ? ` (tolerance abs ${e.absoluteTolerance ?? 0}, rel ${e.relativeTolerance ?? 0})`
            : '';
        return `output ${e.name}[${i}]: expected ${show(want[i])}, got ${show(got[i])}${tol}`;
      }
    }
  }
  return undefined;
}

const truncate = (s: string | undefined, n = 200): string =>
  s === undefined ? '' : s.length > n ? `${s.slice(0, n)}…` : s;

// ---- the interface the server loaded ----------------------------------------------------------------

interface TritonTensorConfig {
  name?: unknown;
  data_type?: unknown;
  dims?: unknown;
}

/** TYPE_FP32 → FP32; Triton's TYPE_STRING is the v2 protocol's BYTES. */
export function v2DataType(tritonType: string): string {
  const t = tritonType.replace(/^TYPE_/, '');
  return t === 'STRING' ? 'BYTES' : t;
}

/** The inputs and outputs of a Triton model configuration as JSON (what /v2/models/<m>/config answers). */
export function loadedInterface(config: unknown): { inputs: Tensor[]; outputs: Tensor[] } {
  const c = (config ?? {}) as { input?: unknown; output?: unknown };
  const tensors = (list: unknown): Tensor[] =>
    (Array.isArray(list) ? (list as TritonTensorConfig[]) : []).map((t) => ({
      name: String(t.name ?? ''),
      datatype: v2DataType(String(t.data_type ?? '')) as Tensor['datatype'],
      // protobuf's JSON mapping writes int64 as strings; Triton's as numbers: both are read.
      shape: (Array.isArray(t.dims) ? (t.dims as unknown[]) : []).map((d) => Number(d)),
    }));
  return { inputs: tensors(c.input), outputs: tensors(c.output) };
}

/**
 * Every difference between the interface a ModelVersion declares and the one the server loaded, in
 * names, datatypes and shapes (formats and descriptions are not part of what Triton reports back
 * the same way). One side the ModelVersion does not declare (no inputs, no outputs) is not compared.
 * Empty: they agree. Uses the same tensor diff as the interface gate (core/interface.ts), but any
 * difference counts: the declared interface is a promise about this very version, not a
 * compatibility question between two versions.
 */
export function loadedInterfaceDifferences(
  declared: ModelVersionSpecInterface | undefined,
  config: unknown,
): string[] {
  if (!declared) return [];
  const loaded = loadedInterface(config);
  const strip = (ts: readonly Tensor[] | undefined): Tensor[] | undefined =>
    ts?.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape }));
  const out: string[] = [];
  const sides: Array<['input' | 'output', Tensor[] | undefined, Tensor[]]> = [
    ['input', strip(declared.inputs), loaded.inputs],
    ['output', strip(declared.outputs), loaded.outputs],
  ];
  for (const [side, want, got] of sides) {
    if (!want?.length) continue;
    for (const c of diffTensors(want, got)) {
      switch (c.kind) {
        case 'removed':
          out.push(`declared ${side} ${c.name} is not in the loaded model`);
          break;
        case 'added':
          out.push(
            `loaded ${side} ${c.name} (${c.after.datatype} ${shapeText(c.after.shape)}) is not declared`,
          );
          break;
        case 'changed':
          out.push(`${side} ${c.name}: declared → loaded ${c.what.join(', ')}`);
      }
    }
  }
  return out;
}
