// pause, resume, rollback: these change the spec (spec.paused, spec.version), because that is what
// they are: a different desired state. Under GitOps the desired state lives in Git, so each prints
// a note: a self-healing sync would put the spec back.
import { resolveSpec } from '../../core/spec.js';
import { PluginError } from '../errors.js';
import { GITOPS_NOTE, explainPause, explainRollback } from '../explain.js';
import { ref, type Command } from './context.js';

export const setPaused =
  (paused: boolean): Command =>
  async (ctx) => {
    const verb = paused ? 'pause' : 'resume';
    const name = ctx.inv.args[0]!;
    const md = await ctx.client.getDeployment(name, `${verb} takes a ModelDeployment`);
    const what = explainPause(md, paused);
    if (!what.ok) throw new PluginError(what.error);
    if (resolveSpec(md).paused === paused) {
      ctx.io.out(`ModelDeployment ${ref(ctx, name)}: ${what.text}.\n`);
      return 0;
    }
    await ctx.client.patchDeployment(name, { spec: { paused } });
    ctx.io.out(
      `${paused ? 'Paused' : 'Resumed'} ModelDeployment ${ref(ctx, name)} (spec.paused=${paused}): ${what.text}.\n`,
    );
    ctx.io.err(`${GITOPS_NOTE}\n`);
    return 0;
  };

export const rollback: Command = async (ctx) => {
  const name = ctx.inv.args[0]!;
  const version = ctx.inv.to!;
  const md = await ctx.client.getDeployment(name, 'rollback takes a ModelDeployment');
  const model = md.spec.model;
  const target = (await ctx.client.listVersions()).find(
    (v) => v.spec.model === model && v.spec.version === version,
  );
  if (!target) {
    throw new PluginError(
      `no ModelVersion of model ${JSON.stringify(model)} has version ${JSON.stringify(version)} in namespace ${JSON.stringify(ctx.client.namespace)}; kubectl modelship versions ${model} lists them`,
    );
  }
  if (target.metadata?.deletionTimestamp) {
    throw new PluginError(
      `ModelVersion ${JSON.stringify(target.metadata.name)} (${model} ${version}) is being deleted: it cannot be served again`,
    );
  }
  const what = explainRollback(md, version);
  if (!what.ok) throw new PluginError(what.error);
  if (md.spec.version === version) {
    ctx.io.out(`ModelDeployment ${ref(ctx, name)}: ${what.text}.\n`);
    return 0;
  }
  await ctx.client.patchDeployment(name, { spec: { version } });
  ctx.io.out(
    `ModelDeployment ${ref(ctx, name)}: spec.version ${md.spec.version} → ${version} (ModelVersion ${target.metadata?.name}): ${what.text}.\n`,
  );
  ctx.io.err(`${GITOPS_NOTE}\n`);
  return 0;
};
