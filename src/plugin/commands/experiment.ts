// experiment stop|promote: user actions on an experiment, made as spec edits (the operator never
// writes the spec). Under GitOps each prints the note that the same change belongs in Git.
import { PluginError } from '../errors.js';
import { GITOPS_NOTE } from '../explain.js';
import { promoteFromExperiment, stopExperiment } from '../view/experiment.js';
import { ref, type Command } from './context.js';

export const experiment: Command = async (ctx) => {
  const [action, name] = ctx.inv.args as [string, string];
  const md = await ctx.client.getDeployment(name, `experiment ${action} takes a ModelDeployment`);
  const change = action === 'stop' ? stopExperiment(md, ctx.now()) : promoteFromExperiment(md, ctx.inv.to);
  if (!change.ok) throw new PluginError(change.error);
  if (action === 'promote' && ctx.inv.to) {
    const found = (await ctx.client.listVersions()).some(
      (v) => v.spec.model === md.spec.model && v.spec.version === ctx.inv.to,
    );
    if (!found)
      throw new PluginError(
        `no ModelVersion of model ${JSON.stringify(md.spec.model)} has version ${JSON.stringify(ctx.inv.to)} in namespace ${JSON.stringify(ctx.client.namespace)}`,
      );
  }
  await ctx.client.patchDeployment(name, change.patch);
  ctx.io.out(`ModelDeployment ${ref(ctx, name)}: ${change.text}.\n`);
  ctx.io.err(`${GITOPS_NOTE}\n`);
  return 0;
};
