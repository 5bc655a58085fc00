#!/usr/bin/env node
// kubectl-modelship: the kubectl plugin (kubectl runs any `kubectl-<name>` on PATH as `kubectl <name>`).
// Flags and the kubeconfig in, one command run, an exit code out: 0 done, 1 with one line on stderr
// saying what is wrong and what to do next.
import { UsageError, parseArgs, usage } from './args.js';
import type { Io } from './commands/context.js';
import { PluginError } from './errors.js';

// Ctrl-C ends a watch or a wait: the command returns and the process exits normally (status
// --watch with 0). Any other command, or a second Ctrl-C, stops at once with 130 as a shell would.
// Registered first, so a Ctrl-C while the Kubernetes client still loads is handled the same way.
const stop = new AbortController();
let graceful = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (!graceful || stop.signal.aborted) process.exit(130);
    stop.abort();
  });
}

// `kubectl modelship status x --watch | head -3`: a closed pipe ends the program quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});

async function main(argv: string[], io: Io): Promise<number> {
  let inv;
  try {
    inv = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`modelship: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (inv.command === 'help') {
    io.out(usage());
    return 0;
  }
  graceful = inv.watch || inv.wait;
  // digest, and import without --apply, read no cluster: no kubeconfig needed.
  if (inv.command === 'digest') {
    const { runDigest } = await import('./commands/digest.js');
    return runDigest(inv, io);
  }
  if (inv.command === 'import' && !inv.import.apply) {
    const { runImport } = await import('./commands/import.js');
    return runImport({ inv, io, env: process.env });
  }
  const { PluginClient, loadKubeConfig } = await import('./kube.js');
  const { COMMAND_RUNNERS } = await import('./commands/index.js');
  const run = COMMAND_RUNNERS[inv.command];
  if (!run) throw new Error(`command ${inv.command} is listed in COMMANDS but has no implementation`);
  const { kc, namespace, server } = loadKubeConfig(inv);
  return run({
    inv,
    client: new PluginClient(kc, namespace, server),
    io,
    now: () => Date.now(),
    signal: stop.signal,
  });
}

const io: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  isTTY: process.stdout.isTTY === true,
  // Read at each redraw: the terminal may have been resized.
  get columns() {
    return process.stdout.isTTY ? process.stdout.columns : undefined;
  },
};

// Exit once stdout has been flushed (a pipe may still hold the last lines when exit() runs).
const exit = (code: number): void => void process.stdout.write('', () => process.exit(code));

main(process.argv.slice(2), io).then(exit, (err: unknown) => {
  if (err instanceof PluginError) process.stderr.write(`modelship: ${err.message}\n`);
  else
    process.stderr.write(
      `modelship: unexpected error (please report it): ${(err as Error)?.stack ?? String(err)}\n`,
    );
  exit(1);
});
