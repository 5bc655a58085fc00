/**
 * A blue-green switch through the Istio router: the new revision comes up at full size behind the
 * preview Service while the VirtualService keeps every request on the old one; a promote switches all
 * traffic at once; the old revision stays at full size for scaleDownDelaySeconds (a rollback would
 * be instant) and is then scaled to 0. The VirtualService and the Deployments are watched, so the
 * order of what happened is the order the apiserver stored it.
 */
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../src/api/index.js';
import { tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  Recorder,
  apply,
  condition,
  current,
  getMd,
  getObject,
  modelVersion,
  paths,
  promote,
  revisionOf,
  revisions,
  TEST_TIMEOUT_MS,
  sameWeights,
  serviceSelector,
  sleep,
  startE2EOperator,
  virtualServiceWeights,
  vsWeights,
  waitReady,
  waiter,
  weightHistory,
  type Operator,
  endSuite,
} from '../harness/e2e.js';

const MD = 'iris';
const REPLICAS = 2;
const SCALE_DOWN_DELAY_S = 3;

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

function iris(version: string): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: 'iris',
      version,
      replicas: REPLICAS,
      strategy: {
        type: 'BlueGreen',
        blueGreen: {
          previewService: true,
          autoPromotionEnabled: false,
          scaleDownDelaySeconds: SCALE_DOWN_DELAY_S,
        },
      },
      traffic: { router: 'istio', istio: { hosts: ['iris.example.com'] } },
    },
  };
}

let blue: string;

beforeAll(async () => {
  ns = await tempNamespace('e2e-bluegreen');
  op = startE2EOperator(ns.name);
  for (const v of ['1.0.0', '2.0.0']) await apply(ns.name, modelVersion('iris', v));
});
afterAll(() => endSuite('bluegreen', ns, op ? [op] : []), TEST_TIMEOUT_MS);

test(
  '1.0.0 becomes Ready behind the VirtualService',
  async () => {
    await apply(ns.name, iris('1.0.0'));
    await waitReady(ns.name, MD);
    const md = await until('stable 1.0.0', async () => {
      const m = await getMd(ns.name, MD);
      return current(m) && m.status?.stableVersion === '1.0.0' && m;
    });
    blue = md.status!.stableRevision!;
    expect(blue).toMatch(/^[a-z0-9]{10}$/);
    const vs = await getObject<KubernetesObject & { spec: { hosts: string[] } }>(
      ns.name,
      'virtualservices.networking.istio.io',
      MD,
    );
    expect(vs?.spec.hosts).toEqual(['iris.example.com']);
    expect(vs?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ModelDeployment', name: MD, uid: md.metadata!.uid }),
    ]);
    expect(await vsWeights(ns.name, MD)).toEqual({ [blue]: 100 });
    expect(await revisionOf(ns.name, MD, blue)).toMatchObject({
      replicas: REPLICAS,
      readyReplicas: REPLICAS,
    });
  },
  TEST_TIMEOUT_MS,
);

test(
  '2.0.0 comes up behind the preview Service, switches on promote, and the old revision is scaled down after the delay',
  async () => {
    const vsRec = await Recorder.start<KubernetesObject>(paths.virtualServices(ns.name));
    const depRec = await Recorder.start<V1Deployment>(paths.deployments(ns.name));
    const mdRec = await Recorder.start<ModelDeployment>(paths.modelDeployments(ns.name));
    await apply(ns.name, iris('2.0.0'));

    // The preview: full size, Ready, reachable through iris-preview, and no share of the traffic.
    const waiting = await until(
      'the 2.0.0 preview Ready and waiting for promotion',
      async () => {
        const m = await getMd(ns.name, MD);
        const green = m.status?.canaryRevision;
        if (!current(m) || !green || m.status?.canaryVersion !== '2.0.0') return false;
        const rev = await revisionOf(ns.name, MD, green);
        const sel = await serviceSelector(ns.name, `${MD}-preview`);
        return (
          rev?.readyReplicas === REPLICAS &&
          sel?.['modelship.io/revision'] === green &&
          m.status?.phase === 'Paused' &&
          m
        );
      },
      { md: MD, timeoutMs: 45000 },
    );
    const green = waiting.status!.canaryRevision!;
    expect(green).not.toBe(blue);
    expect(await revisionOf(ns.name, MD, green)).toMatchObject({ version: '2.0.0', replicas: REPLICAS });
    expect(await serviceSelector(ns.name, `${MD}-preview`)).toMatchObject({ 'modelship.io/deployment': MD });
    expect(await vsWeights(ns.name, MD)).toEqual({ [blue]: 100 });
    expect(await serviceSelector(ns.name, MD)).toMatchObject({ 'modelship.io/revision': blue });
    expect(waiting.status).toMatchObject({ stableRevision: blue, stableVersion: '1.0.0', canaryWeight: 0 });
    expect(condition(waiting.status, 'Ready')?.status).toBe('False');

    // autoPromotionEnabled false: Ready is not enough, it waits.
    await sleep(2000);
    expect(await vsWeights(ns.name, MD)).toEqual({ [blue]: 100 });
    expect((await getMd(ns.name, MD)).status).toMatchObject({ stableRevision: blue, canaryRevision: green });

    await promote(ns.name, MD);
    await until(
      'all traffic on 2.0.0',
      async () => sameWeights(await vsWeights(ns.name, MD), { [green]: 100 }),
      {
        md: MD,
      },
    );
    await until(
      'the old revision scaled to 0',
      async () => (await revisionOf(ns.name, MD, blue))?.replicas === 0,
      { md: MD, timeoutMs: 30000 },
    );
    await waitReady(ns.name, MD);
    await Promise.all([vsRec.stop(), depRec.stop(), mdRec.stop()]);
    expect([vsRec.error, depRec.error, mdRec.error]).toEqual([undefined, undefined, undefined]);

    // The switch, as the VirtualService went: all on blue, then all on green, nothing in between.
    const vsTables = weightHistory(vsRec, MD, (o) =>
      virtualServiceWeights(o as Parameters<typeof virtualServiceWeights>[0], MD),
    );
    expect(vsTables.map((t) => t.weights)).toEqual([{ [blue]: 100 }, { [green]: 100 }]);
    const switchedAt = vsTables[1]!.at;

    // Blue stayed at full size through the switch and went to 0 only after the delay.
    const blueName = `${MD}-${blue}`;
    expect(depRec.stateAt(blueName, switchedAt)?.spec?.replicas).toBe(REPLICAS);
    const scaledAt = depRec.of(blueName).find((e) => e.at > switchedAt && e.object.spec?.replicas === 0)?.at;
    expect(scaledAt).toBeDefined();
    process.stderr.write(
      `bluegreen.test: old revision scaled to 0 ${scaledAt! - switchedAt} ms after the switch\n`,
    );
    // 3 s after the switch, minus 1 s for when the watch saw the switch versus when it was made.
    expect(scaledAt! - switchedAt).toBeGreaterThanOrEqual((SCALE_DOWN_DELAY_S - 1) * 1000);
    expect(scaledAt! - switchedAt).toBeLessThan((SCALE_DOWN_DELAY_S + 20) * 1000);
    // Green never lost a pod, and never had a share before it was Ready at full size.
    const greenName = `${MD}-${green}`;
    expect(depRec.stateAt(greenName, switchedAt)?.status?.readyReplicas).toBe(REPLICAS);

    // While it waited it was listed as warm, with the time it would be scaled down.
    const promoted = mdRec.events.find((e) => e.object.status?.stableRevision === green)?.object.status;
    expect(promoted?.warmRevisions).toEqual([expect.objectContaining({ revision: blue, version: '1.0.0' })]);
    const scaleDownAt = new Date(promoted!.warmRevisions![0]!.scaleDownAt).getTime();
    expect(scaledAt!).toBeGreaterThanOrEqual(scaleDownAt - 1000);

    const done = await getMd(ns.name, MD);
    expect(done.status).toMatchObject({ phase: 'Healthy', stableRevision: green, stableVersion: '2.0.0' });
    expect(done.status?.warmRevisions ?? []).toEqual([]);
    expect(await serviceSelector(ns.name, MD)).toMatchObject({ 'modelship.io/revision': green });
    // Kept as a history revision.
    expect((await revisions(ns.name, MD)).map((r) => [r.hash, r.replicas])).toEqual(
      expect.arrayContaining([
        [blue, 0],
        [green, REPLICAS],
      ]),
    );
  },
  TEST_TIMEOUT_MS,
);
