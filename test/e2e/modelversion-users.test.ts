/**
 * A ModelVersion used by more ModelDeployments than status.usedBy may list (the CRD's maxItems,
 * 256). Before the fix, the operator wrote every name: the apiserver refused the status (422) and
 * the ModelVersion's key was retried with back-off for ever, its status frozen at the last write
 * that fitted. Now the status carries the count and the first 256 names, and follows the users as
 * they go. On the real apiserver, so its own validation of the schema is what is tested.
 */
import type { ModelVersion } from '../../src/api/index.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  TEST_TIMEOUT_MS,
  apply,
  condition,
  endSuite,
  getObject,
  modelVersion,
  startE2EOperator,
  waiter,
  type Operator,
} from '../harness/e2e.js';

const USERS = 260;
const LIMIT = 256;
const MV = 'iris-1.0.0';
const names = Array.from({ length: USERS }, (_, i) => `user-${String(i).padStart(3, '0')}`);

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

beforeAll(async () => {
  ns = await tempNamespace('e2e-mv-users');
  await apply(ns.name, modelVersion('iris', '1.0.0'));
  op = startE2EOperator(ns.name);
});
afterAll(async () => {
  await endSuite('modelversion-users', ns, op ? [op] : []);
}, TEST_TIMEOUT_MS);

/** The ModelDeployments `which`, each naming iris 1.0.0; no pods (replicas 0), so they cost little. */
function list(which: string[]): object {
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: which.map((name) => ({
      apiVersion: GROUP_VERSION,
      kind: 'ModelDeployment',
      metadata: { name },
      spec: { model: 'iris', version: '1.0.0', replicas: 0, traffic: { router: 'service' } },
    })),
  };
}

const mv = async (): Promise<ModelVersion> => (await getObject<ModelVersion>(ns.name, 'modelversion', MV))!;

test(
  `${USERS} ModelDeployments use one ModelVersion: its status counts them all and lists the first ${LIMIT}`,
  async () => {
    await apply(ns.name, list(names));
    const seen = await until(
      `usedByCount ${USERS}`,
      async () => {
        const m = await mv();
        return m.status?.usedByCount === USERS && m;
      },
      { timeoutMs: 90000 },
    );
    expect(seen.status?.phase).toBe('InUse');
    expect(seen.status?.usedBy?.map((u) => u.name)).toEqual(names.slice(0, LIMIT));
    expect(condition(seen.status, 'InUse')).toMatchObject({
      status: 'True',
      reason: 'InUse',
      message: expect.stringMatching(
        /^used by ModelDeployment user-000 \(.*\); .* and 250 more \(260 in all\)$/,
      ),
    });
    // No status write was refused on the way (a refusal is logged as a failed reconcile of the
    // modelversion queue).
    expect(op!.lines('"queue":"modelversion"', 5)).toEqual([]);
  },
  TEST_TIMEOUT_MS,
);

test(
  'when users go, the count and the list follow; below the cap the list is complete again',
  async () => {
    const stay = names.slice(0, 200);
    await kubectlOk(['delete', 'modeldeployments', '-n', ns.name, '--wait=false', ...names.slice(200)]);
    const seen = await until(
      'usedByCount 200',
      async () => {
        const m = await mv();
        return m.status?.usedByCount === 200 && m;
      },
      { timeoutMs: 90000 },
    );
    expect(seen.status?.usedBy?.map((u) => u.name)).toEqual(stay);
    expect(condition(seen.status, 'InUse')?.message).toMatch(/ and 190 more \(200 in all\)$/);
    expect(op!.lines('"queue":"modelversion"', 5)).toEqual([]);
  },
  TEST_TIMEOUT_MS,
);
