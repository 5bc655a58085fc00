// `kubectl modelship release-finalizers [-A]`: the last step of an uninstall. Every ModelVersion
// carries the operator's in-use finalizer; with the operator gone, nothing removes it, and deleting
// a ModelVersion, or the namespace that holds one, waits for ever. This removes modelship's entry
// (and only it) from each ModelVersion in the namespace, or in all of them. The chart's post-delete
// hook runs it (charts/modelship/templates/uninstall-hook.yaml); after `kubectl delete -f deploy/`
// a person runs it (docs/operations.md, "Uninstalling").
import type { Command } from './context.js';

/** The operator's finalizer (src/controllers/modelversion.ts IN_USE_FINALIZER; a unit test checks). */
export const IN_USE_FINALIZER = 'modelship.io/in-use-protection';

/** Attempts per ModelVersion: a concurrent change of its finalizers makes the guarded patch fail. */
const ATTEMPTS = 3;

export const releaseFinalizers: Command = async (ctx) => {
  const all = ctx.inv.allNamespaces;
  const released: string[] = [];
  for (const listed of await ctx.client.listVersionsIn(all)) {
    let mv = listed;
    for (let attempt = 1; ; attempt++) {
      try {
        if (await ctx.client.removeFinalizer(mv, IN_USE_FINALIZER))
          released.push(`${mv.metadata!.namespace}/${mv.metadata!.name}`);
        break;
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
        // Read it again: the list changed under the patch, or the object went.
        const fresh = (await ctx.client.listVersionsIn(all)).find(
          (v) => v.metadata?.uid === mv.metadata?.uid,
        );
        if (!fresh) break;
        mv = fresh;
      }
    }
  }
  const where = all ? 'any namespace' : `namespace ${ctx.client.namespace}`;
  if (released.length === 0) ctx.io.out(`No ModelVersion in ${where} carries ${IN_USE_FINALIZER}.\n`);
  else {
    ctx.io.out(`Removed ${IN_USE_FINALIZER} from ${released.length} ModelVersion(s):\n`);
    for (const r of released) ctx.io.out(`  ${r}\n`);
  }
  ctx.io.err(
    `note: a running modelship operator puts the finalizer back on every ModelVersion it watches; run this once it is stopped (after helm uninstall or kubectl delete -f deploy/).\n`,
  );
  return 0;
};
