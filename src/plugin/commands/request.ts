// promote, abort, retry: requests by annotation. The annotation modelship.io/<verb> gets a fresh
// token; the operator acts on each token once and records it in status.acknowledged.<verb>. Only
// metadata.annotations is patched, never the spec, so a GitOps tool that syncs the spec from Git
// neither sees drift nor undoes the request.
import { randomBytes } from 'node:crypto';
import type { ModelDeployment } from '../../api/index.js';
import { PluginError } from '../errors.js';
import { explainRequest, newToken } from '../explain.js';
import { formatDuration } from '../format.js';
import { statusLine, type RequestVerb } from '../view/status.js';
import { ref, type Command, type CommandContext } from './context.js';

/** Exit code of a --wait interrupted by Ctrl-C: the request is set, its outcome unknown. */
const INTERRUPTED = 130;

export const request =
  (verb: RequestVerb): Command =>
  async (ctx) => {
    const name = ctx.inv.args[0]!;
    const md = await ctx.client.getDeployment(name, `${verb} takes a ModelDeployment`);
    const what = explainRequest(verb, md);
    if (!what.ok) throw new PluginError(what.error);
    const token = newToken(ctx.now(), randomBytes(3).toString('hex'));
    const annotation = `modelship.io/${verb}`;
    ctx.io.out(`${verb} ModelDeployment ${ref(ctx, name)}: ${what.text}.\n`);
    await ctx.client.patchDeployment(name, { metadata: { annotations: { [annotation]: token } } });
    ctx.io.out(
      `Set ${annotation}=${token}; the operator acts on it once and records it in status.acknowledged.${verb}.\n`,
    );
    if (!ctx.inv.wait) return 0;
    const acked = await waitForAck(ctx, name, verb, token);
    if (acked === 'interrupted') return INTERRUPTED;
    ctx.io.out(`Acknowledged: ${statusLine(acked)}\n`);
    return 0;
  };

async function waitForAck(
  ctx: CommandContext,
  name: string,
  verb: RequestVerb,
  token: string,
): Promise<ModelDeployment | 'interrupted'> {
  const done = new AbortController();
  const timer = setTimeout(() => done.abort(), ctx.inv.timeoutMs);
  let acked: ModelDeployment | undefined;
  let trouble: string | undefined;
  try {
    await ctx.client.follow(
      name,
      AbortSignal.any([ctx.signal, done.signal]),
      (md) => {
        if (md.status?.acknowledged?.[verb] !== token) return;
        acked = md;
        done.abort();
      },
      (problem) => {
        if (problem && problem !== trouble) ctx.io.err(`modelship: ${problem}\n`);
        trouble = problem;
      },
    );
  } finally {
    clearTimeout(timer);
  }
  if (acked) return acked;
  if (ctx.signal.aborted) return 'interrupted';
  throw new PluginError(
    `the operator did not acknowledge modelship.io/${verb}=${token} within ${formatDuration(ctx.inv.timeoutMs)}; is it running and watching namespace ${JSON.stringify(ctx.client.namespace)}? The request stays set and is acted on when it runs`,
  );
}
