/**
 * Deleting a namespace that holds ModelDeployments. The namespace controller deletes every kind of
 * object in it, in no set order: a ModelDeployment can outlive its children by seconds, and its next
 * reconcile asks to create them again. The apiserver refuses (403, cause NamespaceTerminating), and
 * a retry cannot succeed. The operator must end that reconcile quietly instead of retrying with
 * back-off (which, at 1,000 ModelDeployments, was thousands of refused writes), and must still do
 * what the deletion needs from it: release the ModelVersions once nothing uses them, so that the
 * namespace goes away.
 *
 * To make the order certain, a ValidatingAdmissionPolicy refuses to delete the ModelDeployments
 * while the test looks: the namespace controller removes their children and the ModelDeployments
 * stay, as they would in the slow case. Once the policy is gone, the namespace must finish.
 */
import { kubectl, kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';
import {
  GROUP_VERSION,
  apply,
  endSuite,
  listObjects,
  modelVersion,
  sleep,
  startE2EOperator,
  TEST_TIMEOUT_MS,
  waitReady,
  type Operator,
} from '../harness/e2e.js';

const MDS = ['a', 'b', 'c'];
const HOLD = 'the e2e test holds ModelDeployments here';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
let policy: string;

function md(name: string): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name },
    spec: { model: 'iris', version: '1.0.0', replicas: 1, traffic: { router: 'service' } },
  };
}

async function removePolicy(): Promise<void> {
  await kubectl(['delete', 'validatingadmissionpolicybinding', policy, '--ignore-not-found']);
  await kubectl(['delete', 'validatingadmissionpolicy', policy, '--ignore-not-found']);
}

beforeAll(async () => {
  ns = await tempNamespace('e2e-nsdel');
  policy = `modelship-e2e-hold-${ns.name}`;
  op = startE2EOperator(ns.name);
  await apply(ns.name, modelVersion('iris', '1.0.0'));
  for (const m of MDS) await apply(ns.name, md(m));
  for (const m of MDS) await waitReady(ns.name, m);
});
afterAll(async () => {
  await removePolicy();
  await endSuite('namespace', ns, op ? [op] : []);
}, TEST_TIMEOUT_MS);

test(
  'a namespace being deleted: no retries of refused creates, the ModelVersion is released, the namespace goes',
  async () => {
    // Deny deleting ModelDeployments in this namespace only, until the test lifts it.
    await kubectlOk(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingAdmissionPolicy',
            metadata: { name: policy },
            spec: {
              failurePolicy: 'Fail',
              matchConstraints: {
                resourceRules: [
                  {
                    apiGroups: ['modelship.io'],
                    apiVersions: ['*'],
                    operations: ['DELETE'],
                    resources: ['modeldeployments'],
                  },
                ],
              },
              validations: [{ expression: 'false', message: HOLD }],
            },
          },
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingAdmissionPolicyBinding',
            metadata: { name: policy },
            spec: {
              policyName: policy,
              validationActions: ['Deny'],
              matchResources: {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns.name } },
              },
            },
          },
        ],
      }),
    );
    // The policy takes effect once the apiserver has loaded it: a server-side dry run says when.
    await waitFor(
      'the hold policy refuses a ModelDeployment deletion',
      async () => {
        const r = await kubectl(['delete', 'md', MDS[0]!, '-n', ns.name, '--dry-run=server']);
        return r.code !== 0 && r.stderr.includes(HOLD);
      },
      { timeoutMs: 30_000 },
    );

    await kubectlOk(['delete', 'namespace', ns.name, '--wait=false']);
    // The namespace controller removes the children; the ModelDeployments stay, and each one's
    // reconcile (its children are gone) asks to create them again.
    await waitFor(
      'the revision Deployments and Services gone, the ModelDeployments held',
      async () => {
        const [deployments, services, mds] = await Promise.all([
          listObjects(ns.name, 'deployments'),
          listObjects(ns.name, 'services'),
          listObjects(ns.name, 'modeldeployments'),
        ]);
        return deployments.length === 0 && services.length === 0 && mds.length === MDS.length;
      },
      { timeoutMs: 60_000 },
    );
    const refused = (): string[] => op!.lines('being terminated', 1000);
    // Long enough for a back-off to have retried many times (5 ms, doubling).
    await sleep(5_000);
    expect(await listObjects(ns.name, 'modeldeployments')).toHaveLength(MDS.length);
    // Nothing was made again, and no reconcile failed and was retried for the refusal.
    expect(await listObjects(ns.name, 'deployments')).toHaveLength(0);
    expect(op!.lines('reconcile failed', 1000).filter((l) => l.includes(ns.name))).toEqual([]);
    expect(refused()).toEqual([]);

    // Lift the hold: the ModelDeployments go, the operator releases the ModelVersion (its
    // finalizer), and the namespace is deleted.
    await removePolicy();
    await waitFor(
      `namespace ${ns.name} deleted`,
      async () => {
        const r = await kubectl(['get', 'namespace', ns.name]);
        return r.code !== 0 && /NotFound|not found/.test(r.stderr);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(op!.lines('reconcile failed', 1000).filter((l) => l.includes(ns.name))).toEqual([]);
  },
  TEST_TIMEOUT_MS + 60_000,
);
