// Command name -> implementation. Loaded on demand by main, after the arguments are checked, so
// --help and usage errors answer without loading the Kubernetes client.
import { experiment } from './experiment.js';
import { runImport } from './import.js';
import { diff, history, versions } from './read.js';
import { releaseFinalizers } from './release.js';
import { request } from './request.js';
import { rollback, setPaused } from './spec.js';
import { status } from './status.js';
import type { Command } from './context.js';

export const COMMAND_RUNNERS: Record<string, Command> = {
  status,
  history,
  versions,
  diff,
  promote: request('promote'),
  abort: request('abort'),
  retry: request('retry'),
  pause: setPaused(true),
  resume: setPaused(false),
  rollback,
  experiment,
  'release-finalizers': releaseFinalizers,
  // main runs it without a cluster unless --apply; MLflow's credentials come from the environment.
  import: (ctx) => runImport({ inv: ctx.inv, io: ctx.io, env: process.env, client: ctx.client }),
};
