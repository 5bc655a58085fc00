/**
 * A ModelDeployment deleted while its reconcile runs (the cache has not seen the delete yet): the
 * status write finds it gone (404), and nothing of that plan may be announced: no onPlan, which
 * feeds the metrics (series the delete had just forgotten would come back) and the rollout
 * notifications (a "rollout started" for an object that no longer exists). Real apiserver, real
 * caches; the cache's lag is made deterministic by handing it the object as it was before the delete.
 */
import type { ModelDeployment } from '../../src/api/index.js';
import { API_KINDS } from '../../src/api/index.js';
import { Caches } from '../../src/controllers/caches.js';
import { reconcileModelDeployment } from '../../src/controllers/modeldeployment.js';
import { FIELD_MANAGER } from '../../src/core/labels.js';
import type { Plan } from '../../src/core/plan.js';
import { KubeClient } from '../../src/k8s/client.js';
import { createLogger } from '../../src/log.js';
import { GROUP_VERSION, sampleModelVersion } from '../harness/objects.js';
import { kubeConfig, kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';

const MD = 'iris';

test('no onPlan (metrics, notifications) and no Event for a plan whose ModelDeployment was deleted mid-reconcile', async () => {
  const ns = await tempNamespace('gone');
  const kc = kubeConfig();
  const caches = new Caches(kc, { namespaces: [ns.name], routedKinds: [] });
  try {
    const apply = (o: object) => kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(o));
    await apply(sampleModelVersion(MD, '1.0.0'));
    await apply({
      apiVersion: GROUP_VERSION,
      kind: 'ModelDeployment',
      metadata: { name: MD },
      spec: { model: MD, version: '1.0.0', replicas: 1, traffic: { router: 'service' } },
    });
    caches.start();
    await caches.waitForSync();
    const before = await waitFor('the ModelDeployment in the cache', async () =>
      Promise.resolve(caches.modelDeployments.get(ns.name, MD)),
    );
    const plans: Plan[] = [];
    const events: string[] = [];
    const deps = {
      caches,
      client: new KubeClient(kc, { fieldManager: FIELD_MANAGER, kinds: [...API_KINDS] }),
      events: { record: (_o: unknown, _t: string, reason: string) => void events.push(reason) },
      log: createLogger('error'),
      settings: {},
      unreadyGraceMs: 1000,
      now: Date.now,
      onPlan: (_md: ModelDeployment, plan: Plan) => void plans.push(plan),
    };
    // The first reconcile creates the revision's objects and records its status, announced.
    await reconcileModelDeployment(deps, `${ns.name}/${MD}`);
    expect(plans).toHaveLength(1);
    expect(events).toEqual(['Deploying']);
    plans.length = 0;
    events.length = 0;
    await waitFor('the revision Deployment in the cache', async () =>
      Promise.resolve(caches.deployments.list(ns.name).length > 0 || undefined),
    );
    // Deleted; the cache is handed the object as it was (the delete event not yet seen).
    await kubectlOk(['delete', 'modeldeployment', MD, '-n', ns.name, '--wait=false']);
    await waitFor('the delete seen by the cache', async () =>
      Promise.resolve(caches.modelDeployments.get(ns.name, MD) ? undefined : true),
    );
    // `before` has no status, so the next plan's status differs and is written: the write finds it gone.
    caches.modelDeployments.observeWrite(before);
    await reconcileModelDeployment(deps, `${ns.name}/${MD}`);
    expect(plans).toEqual([]);
    expect(events).toEqual([]);
  } finally {
    await caches.stop();
    await ns.remove();
  }
});
