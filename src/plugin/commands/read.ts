// The read-only commands: history, versions, diff.
import { PluginError } from '../errors.js';
import { renderDiff } from '../view/diff.js';
import { renderHistory } from '../view/history.js';
import { planRetirement, renderRetirement } from '../view/retire.js';
import { renderVersions } from '../view/versions.js';
import type { Command } from './context.js';

export const history: Command = async (ctx) => {
  const md = await ctx.client.getDeployment(ctx.inv.args[0]!, 'history takes a ModelDeployment');
  ctx.io.out(`${renderHistory(md).join('\n')}\n`);
  return 0;
};

export const versions: Command = async (ctx) => {
  const model = ctx.inv.args[0]!;
  const all = await ctx.client.listVersions();
  const mine = all.filter((v) => v.spec.model === model);
  if (mine.length === 0) {
    const ns = JSON.stringify(ctx.client.namespace);
    // A common slip: the name of a ModelDeployment or ModelVersion instead of the model's name.
    const byName = all.find((v) => v.metadata?.name === model);
    const md = byName
      ? undefined
      : await ctx.client.find<{ spec: { model: string } }>('ModelDeployment', model);
    const hint = byName
      ? `; ${JSON.stringify(model)} is a ModelVersion of model ${JSON.stringify(byName.spec.model)}: kubectl modelship versions ${byName.spec.model}`
      : md
        ? `; ${JSON.stringify(model)} is a ModelDeployment serving model ${JSON.stringify(md.spec.model)}: kubectl modelship versions ${md.spec.model}`
        : all.length
          ? `; models in this namespace: ${[...new Set(all.map((v) => v.spec.model))].sort().join(', ')}`
          : '';
    throw new PluginError(`no ModelVersion of model ${JSON.stringify(model)} in namespace ${ns}${hint}`);
  }
  if (ctx.inv.unusedFor) {
    const { ms, text } = ctx.inv.unusedFor;
    const now = ctx.now();
    const plan = planRetirement(mine, now, ms);
    ctx.io.out(`${renderRetirement(model, ctx.client.namespace, plan, now, text).join('\n')}\n`);
    return 0;
  }
  ctx.io.out(`${renderVersions(mine).join('\n')}\n`);
  return 0;
};

export const diff: Command = async (ctx) => {
  const purpose = 'diff compares two ModelVersions';
  const [a, b] = await Promise.all(ctx.inv.args.map((n) => ctx.client.getVersion(n, purpose)));
  ctx.io.out(`${renderDiff(a!, b!).join('\n')}\n`);
  return 0;
};
