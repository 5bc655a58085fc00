// The model runtimes by name (ModelVersion spec.runtime). Adding a runtime is adding a folder and
// one line here.
import { torchserve } from './torchserve/index.js';
import { triton } from './triton/index.js';
import type { ModelRuntime } from './types.js';

export * from './types.js';

const RUNTIMES: ReadonlyMap<string, ModelRuntime> = new Map([triton, torchserve].map((r) => [r.name, r]));

/** Names of the known runtimes, sorted. */
export function runtimeNames(): string[] {
  return [...RUNTIMES.keys()].sort();
}

/** The runtime called `name`; throws an UnknownRuntimeError naming the known ones. */
export function getRuntime(name: string): ModelRuntime {
  const runtime = RUNTIMES.get(name);
  if (runtime === undefined) throw new UnknownRuntimeError(name);
  return runtime;
}

export class UnknownRuntimeError extends Error {
  override readonly name = 'UnknownRuntimeError';
  readonly reason = 'UnknownRuntime';
  constructor(readonly runtime: string) {
    super(
      `unknown model runtime "${runtime}": modelship knows ${runtimeNames().join(', ')}; ` +
        'set ModelVersion spec.runtime to one of them',
    );
  }
}
