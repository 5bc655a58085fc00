/**
 * The interface gate on the real control plane (kwok pods: the interface is on the ModelVersion).
 * A minor version that breaks the serving version's interface is held before anything of it exists:
 * no Deployment of it is ever created (watched, not polled), the Service keeps all traffic on the
 * stable revision, the ModelDeployment says InterfaceIncompatible naming each difference, and one
 * Warning Event is written however often it reconciles. An additive change rolls out; the same kind
 * of break as a new major version rolls out; and the opt-in spec.strategy.allowInterfaceChangeTo
 * lets a breaking minor through.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelVersionSpecInterface } from '../../src/api/index.js';
import { kubectlOk, tempNamespace } from '../harness/kube.js';
import {
  GROUP_VERSION,
  Recorder,
  apply,
  condition,
  current,
  endSuite,
  getMd,
  modelVersion,
  paths,
  revisions,
  serviceWeights,
  sleep,
  startE2EOperator,
  TEST_TIMEOUT_MS,
  waitReady,
  waiter,
  type Operator,
} from '../harness/e2e.js';

const MD = 'iris-api';

const V1: ModelVersionSpecInterface = {
  inputs: [{ name: 'features', datatype: 'FP32', shape: [4] }],
  outputs: [{ name: 'label', datatype: 'INT64', shape: [1] }],
};
/** 1.1.0: the input renamed (features removed, x a new required input). */
const RENAMED: ModelVersionSpecInterface = { ...V1, inputs: [{ name: 'x', datatype: 'FP32', shape: [4] }] };
/** 1.2.0: an output added and an input dimension made dynamic: every 1.0.0 client keeps working. */
const ADDITIVE: ModelVersionSpecInterface = {
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1] }],
  outputs: [...V1.outputs!, { name: 'probabilities', datatype: 'FP32', shape: [3] }],
};
/** 2.0.0: the rename of 1.1.0 again, now as a new major. */
const V2: ModelVersionSpecInterface = { ...ADDITIVE, inputs: [{ name: 'x', datatype: 'FP32', shape: [4] }] };
/** 2.1.0: x becomes FP16, a break within major 2. */
const FP16: ModelVersionSpecInterface = { ...V2, inputs: [{ name: 'x', datatype: 'FP16', shape: [4] }] };

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let op: Operator | undefined;
const until = waiter(
  () => ns.name,
  () => op,
);

const mvWith = (version: string, iface: ModelVersionSpecInterface) => {
  const mv = modelVersion('iris', version);
  return { ...mv, spec: { ...mv.spec, interface: iface } };
};

function md(version: string, strategy: object = {}): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: MD },
    spec: {
      model: 'iris',
      version,
      replicas: 1,
      strategy: { type: 'Canary', canary: { scaleDownDelaySeconds: 0 }, ...strategy },
    },
  };
}

/** The hold for `version`, computed from the current spec. */
async function heldAt(version: string) {
  return until(
    `${MD} held at ${version} with InterfaceIncompatible`,
    async () => {
      const m = await getMd(ns.name, MD);
      const c = condition(m.status, 'Degraded');
      return (
        current(m) &&
        m.spec.version === version &&
        c?.status === 'True' &&
        c.reason === 'InterfaceIncompatible' &&
        m
      );
    },
    { md: MD },
  );
}

async function stableAt(version: string): Promise<void> {
  await until(
    `${MD} stable at ${version}`,
    async () => {
      const m = await getMd(ns.name, MD);
      return current(m) && m.status?.stableVersion === version && m.status.phase === 'Healthy';
    },
    { md: MD, timeoutMs: 60000 },
  );
}

/** Events with reason InterfaceIncompatible about the ModelDeployment, counting repeats. */
async function gateEvents(): Promise<{ count: number; messages: string[] }> {
  const out = JSON.parse(
    await kubectlOk([
      'get',
      'events',
      '-n',
      ns.name,
      '--field-selector',
      `involvedObject.name=${MD},reason=InterfaceIncompatible`,
      '-o',
      'json',
    ]),
  ) as { items: Array<{ count?: number; series?: { count?: number }; message?: string }> };
  return {
    count: out.items.reduce((n, e) => n + Math.max(e.count ?? 1, e.series?.count ?? 0), 0),
    messages: out.items.map((e) => e.message ?? ''),
  };
}

beforeAll(async () => {
  ns = await tempNamespace('e2e-iface');
  op = startE2EOperator(ns.name);
  await apply(ns.name, mvWith('1.0.0', V1));
  await apply(ns.name, mvWith('1.1.0', RENAMED));
  await apply(ns.name, mvWith('1.2.0', ADDITIVE));
  await apply(ns.name, mvWith('2.0.0', V2));
  await apply(ns.name, mvWith('2.1.0', FP16));
  await apply(ns.name, md('1.0.0'));
  await waitReady(ns.name, MD);
}, TEST_TIMEOUT_MS);
afterAll(() => endSuite('interface', ns, op ? [op] : []), TEST_TIMEOUT_MS);

test(
  'a minor version that breaks the interface is held: no revision, no traffic change, a condition, one Warning',
  async () => {
    const [stable] = await revisions(ns.name, MD);
    expect(stable?.version).toBe('1.0.0');
    const before = await serviceWeights(ns.name, MD);
    expect(before?.weights).toEqual({ [stable!.hash]: 100 });
    // Every state of the Deployments and of the Service from here on: a revision of 1.1.0 that
    // existed for a moment, or a weight that moved and came back, would be seen.
    const deployments = await Recorder.start<V1Deployment>(
      paths.deployments(ns.name),
      `modelship.io/deployment=${MD}`,
    );
    const services = await Recorder.start<{
      metadata?: { name?: string; annotations?: Record<string, string> };
    }>(`/api/v1/namespaces/${ns.name}/services`);

    await apply(ns.name, md('1.1.0'));
    const held = await heldAt('1.1.0');
    const msg = condition(held.status, 'Degraded')!.message!;
    expect(msg).toContain('version 1.1.0 breaks the interface of the serving version 1.0.0');
    expect(msg).toContain('input features removed (was FP32 [4])');
    expect(msg).toContain('new required input x (FP32 [4])');
    expect(msg).toContain('spec.strategy.allowInterfaceChangeTo: "1.1.0"');
    expect(held.status?.phase).toBe('Degraded');
    expect(condition(held.status, 'Ready')?.status).toBe('False');
    expect(held.status?.stableVersion).toBe('1.0.0');
    expect(held.status?.canaryRevision).toBeUndefined();

    // More reconciles over the same world (an annotation change enqueues the key without a new
    // generation): still held, and still one Event.
    for (let i = 0; i < 3; i++) {
      await kubectlOk(['annotate', '-n', ns.name, 'md', MD, `test.modelship.io/poke=${i}`, '--overwrite']);
      await sleep(700);
    }
    await heldAt('1.1.0');
    const events = await gateEvents();
    expect(events.count).toBe(1);
    expect(events.messages[0]).toContain('input features removed');

    await deployments.stop();
    await services.stop();
    expect(deployments.error).toBeUndefined();
    expect(services.error).toBeUndefined();
    const versionsSeen = new Set(
      deployments.events.map((e) => e.object.metadata?.annotations?.['modelship.io/version']),
    );
    expect([...versionsSeen]).toEqual(['1.0.0']);
    const tables = new Set(
      services.of(MD).map((e) => e.object.metadata?.annotations?.['modelship.io/weights']),
    );
    expect(tables.size).toBe(1);
    expect((await serviceWeights(ns.name, MD))?.weights).toEqual({ [stable!.hash]: 100 });
    expect((await revisions(ns.name, MD)).map((r) => [r.version, r.replicas])).toEqual([['1.0.0', 1]]);
  },
  TEST_TIMEOUT_MS,
);

test(
  'an additive change rolls out (and ends the hold)',
  async () => {
    await apply(ns.name, md('1.2.0'));
    await stableAt('1.2.0');
    const m = await getMd(ns.name, MD);
    expect(condition(m.status, 'Degraded')?.status).toBe('False');
  },
  TEST_TIMEOUT_MS,
);

test(
  'the same break as a new major version rolls out',
  async () => {
    const eventsBefore = (await gateEvents()).count;
    await apply(ns.name, md('2.0.0'));
    await stableAt('2.0.0');
    expect((await gateEvents()).count).toBe(eventsBefore);
  },
  TEST_TIMEOUT_MS,
);

test(
  'a break within major 2 is held; the opt-in naming the version lets it through',
  async () => {
    await apply(ns.name, md('2.1.0'));
    const held = await heldAt('2.1.0');
    expect(condition(held.status, 'Degraded')?.message).toContain('input x: datatype FP32 → FP16');
    expect((await revisions(ns.name, MD)).some((r) => r.version === '2.1.0')).toBe(false);

    await apply(ns.name, md('2.1.0', { allowInterfaceChangeTo: '2.1.0' }));
    await stableAt('2.1.0');
  },
  TEST_TIMEOUT_MS,
);
