import type { Invocation } from '../args.js';
import type { PluginClient } from '../kube.js';

/** Where a command writes; main binds it to process.stdout/stderr, so commands never touch `process`. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: `status --watch` redraws the screen instead of appending lines. */
  isTTY: boolean;
  /** Terminal width, when known, to keep redrawn lines from wrapping. */
  columns: number | undefined;
}

export interface CommandContext {
  inv: Invocation;
  client: PluginClient;
  io: Io;
  now(): number;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
}

/** A command's exit code. */
export type Command = (ctx: CommandContext) => Promise<number>;

/** `ns/name`, the way kubectl names an object in its messages. */
export const ref = (ctx: CommandContext, name: string): string => `${ctx.client.namespace}/${name}`;
