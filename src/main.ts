#!/usr/bin/env node
// The operator process: flags, kubeconfig, the operator, and a graceful stop on SIGTERM/SIGINT
// (stop taking keys, finish the ones in flight, stop the watches, exit).
import * as k8s from '@kubernetes/client-node';
import { parseFlags, usage, UsageError } from './cli/options.js';
import { createLogger } from './log.js';
import { Operator } from './operator.js';

async function main(): Promise<number> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`modelship: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  const log = createLogger(flags.logLevel, flags.logFormat);
  const kc = new k8s.KubeConfig();
  try {
    if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    log.error('cannot load a kubeconfig', {
      error: (err as Error).message,
      hint: 'pass --kubeconfig or run in a cluster',
    });
    return 1;
  }
  const operator = new Operator({
    kc,
    log,
    ...(flags.namespaces ? { namespaces: flags.namespaces } : {}),
    concurrency: flags.concurrency,
    resyncMs: flags.resyncMs,
    unreadyGraceMs: flags.unreadyGraceMs,
  });
  const stopping = new AbortController();
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      if (stopping.signal.aborted) return;
      log.info('stopping', { signal: sig });
      stopping.abort();
      void operator.stop().then(resolve);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  log.info('starting', {
    server: kc.getCurrentCluster()?.server,
    namespaces: flags.namespaces?.join(',') || 'all',
    concurrency: flags.concurrency,
  });
  try {
    await operator.start(stopping.signal);
  } catch (err) {
    if (!stopping.signal.aborted) throw err;
  }
  await stopped;
  log.info('stopped');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`modelship: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
