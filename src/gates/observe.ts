// Which pre-traffic checks apply to the revision a ModelDeployment rolls out, and their verdicts so
// far (I/O through the GateRunner; never waits for a probe). In order: the loaded interface (Triton),
// the smoke test (the ModelVersion's sample requests), the BeforeTraffic webhook gates; the
// BeforePromotion webhook gates once the rollout has reached its promotion. Each check starts only
// once the one before it passed.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpecStrategyGate, ModelVersion } from '../api/index.js';
import { parseDuration } from '../core/duration.js';
import { LABEL_SERVICE_NAME, mdKey, revisionObjectName } from '../core/labels.js';
import type { GatesInput, GateVerdict } from '../core/plan-types.js';
import { resolveSpec } from '../core/spec.js';
import { callWebhook, checkLoadedInterface, runSmokeTest, type Fetch, type PodTarget } from './probe.js';
import type { Check, GateRunner } from './runner.js';

export interface GateDeps {
  runner: GateRunner;
  fetch: Fetch;
  /**
   * Whether the checks that call the revision's pods run (loaded interface, smoke test); off with
   * --pre-traffic-checks=false, e.g. where pods are simulated and nothing answers at their IPs.
   */
  podChecks: boolean;
  now: () => number;
}

export interface GateSubject {
  md: ModelDeployment;
  /** The revision the spec asks for and its ModelVersion. */
  revision: string;
  mv: ModelVersion;
  slices: readonly V1EndpointSlice[];
}

/** The ready endpoints of the revision's Service, with the port named http. */
export function podTargets(
  md: ModelDeployment,
  revision: string,
  slices: readonly V1EndpointSlice[],
): PodTarget[] {
  const svc = revisionObjectName(md.metadata!.name!, revision);
  const out: PodTarget[] = [];
  for (const s of slices) {
    if (s.metadata?.labels?.[LABEL_SERVICE_NAME] !== svc) continue;
    const port = s.ports?.find((p) => p.name === 'http')?.port;
    if (port === undefined) continue;
    for (const e of s.endpoints ?? []) {
      const ip = e.addresses?.[0];
      if (e.conditions?.ready === false || e.targetRef?.kind !== 'Pod' || !e.targetRef.name || !ip) continue;
      out.push({ pod: e.targetRef.name, ip, port });
    }
  }
  return out.sort((a, b) => a.pod.localeCompare(b.pod));
}

type Gate = ModelDeploymentSpecStrategyGate;

/**
 * The gates' input for the planner, or undefined when none applies: no rollout (the desired
 * revision is the stable one, or there is no stable revision yet: a first version has no previous
 * one to keep traffic on), or nothing configured.
 */
export function observeGates(deps: GateDeps, s: GateSubject): GatesInput | undefined {
  const { md, revision, mv } = s;
  const key = mdKey(md);
  const st = md.status ?? {};
  const stable = st.stableRevision;
  const gates = md.spec.strategy?.gates ?? [];
  const triton = deps.podChecks && mv.spec.runtime === 'triton';
  const checkInterface =
    triton && !!(mv.spec.interface?.inputs?.length || mv.spec.interface?.outputs?.length);
  const smoke = triton ? mv.spec.smokeTest : undefined;
  const before = gates.filter((g) => (g.when ?? 'BeforeTraffic') === 'BeforeTraffic');
  const promo = gates.filter((g) => g.when === 'BeforePromotion');
  if (!stable || stable === revision || (!checkInterface && !smoke && !gates.length)) {
    deps.runner.forget(key);
    return undefined;
  }
  if (st.canaryRevision !== revision) {
    // The rollout has not begun (its first plan names the canary), or it ended (a revert): nothing
    // is sent to the revision, and nothing lets traffic move to it either.
    deps.runner.forget(key);
    const pending: GateVerdict = {
      result: 'Pending',
      reason: 'GatesPending',
      message: 'the checks start once the rollout has begun',
    };
    return {
      revision,
      ...(chainless(checkInterface, smoke, before) ? {} : { beforeTraffic: pending }),
      ...(promo.length ? { beforePromotion: pending } : {}),
    };
  }
  // One attempt of the rollout: a retry after a failure starts the checks afresh.
  const attempt = `${revision}@${st.rolloutStartedAt ?? ''}`;
  deps.runner.forget(key, (id) => id.startsWith(`${attempt}/`));
  const recorded = st.gates?.revision === revision ? st.gates : undefined;
  const out: GatesInput = { revision };
  const targets = podTargets(md, revision, s.slices);
  const body = (stage: 'BeforeTraffic' | 'BeforePromotion', g: Gate) => ({
    stage,
    gate: g.name,
    namespace: md.metadata!.namespace!,
    modelDeployment: md.metadata!.name!,
    model: md.spec.model,
    version: mv.spec.version,
    revision,
  });

  const chain: Array<{ id: string; pending: string; check: Check }> = [];
  if (checkInterface)
    chain.push({
      id: 'interface',
      pending: `reading the interface Triton loaded on ${targets.length} pod(s)`,
      check: () => checkLoadedInterface(deps.fetch, targets, mv.spec.model, mv.spec.interface, deps.now),
    });
  if (smoke)
    chain.push({
      id: 'smoke',
      pending: `smoke test running: ${smoke.requests.length} sample request(s) on ${targets.length} pod(s)`,
      check: () => runSmokeTest(deps.fetch, targets, mv.spec.model, smoke, deps.now),
    });
  for (const g of before)
    chain.push({
      id: `gate:${g.name}`,
      pending: `asking gate ${g.name}`,
      check: webhook(deps, g, body('BeforeTraffic', g)),
    });

  if (chain.length) {
    if (recorded?.beforeTraffic?.result === 'Passed') {
      // Passed in this rollout before an operator restart: not asked again.
      out.beforeTraffic = recorded.beforeTraffic as GateVerdict;
    } else if (targets.length === 0) {
      out.beforeTraffic = {
        result: 'Pending',
        reason: 'GatesPending',
        message: 'waiting for a ready endpoint of the revision to send the checks to',
      };
    } else {
      out.beforeTraffic = runChain(deps, key, attempt, 'before', chain);
    }
  }
  if (promo.length) {
    // Asked once the rollout waits at its promotion: the canary past its last step, the blue-green
    // preview up (resolveSpec gives the steps the status counts).
    const spec = resolveSpec(md);
    const atPromotion = (st.currentStepIndex ?? 0) >= (spec.strategy === 'BlueGreen' ? 1 : spec.steps.length);
    if (!atPromotion) {
      out.beforePromotion = {
        result: 'Pending',
        reason: 'GatesPending',
        message: 'the BeforePromotion gates are asked once the rollout reaches its promotion',
      };
    } else {
      out.beforePromotion = runChain(
        deps,
        key,
        attempt,
        'promotion',
        promo.map((g) => ({
          id: `gate:${g.name}`,
          pending: `asking gate ${g.name}`,
          check: webhook(deps, g, body('BeforePromotion', g)),
        })),
      );
    }
  }
  return out;
}

const chainless = (iface: boolean, smoke: unknown, before: readonly Gate[]): boolean =>
  !iface && !smoke && before.length === 0;

/** The first check that has not passed decides; all passed: Passed, with each one's message. */
function runChain(
  deps: GateDeps,
  key: string,
  attempt: string,
  stage: string,
  chain: Array<{ id: string; pending: string; check: Check }>,
): GateVerdict {
  const passed: GateVerdict[] = [];
  for (const c of chain) {
    const v = deps.runner.observe(key, `${attempt}/${stage}/${c.id}`, c.check, c.pending);
    if (v.result !== 'Passed') return v;
    passed.push(v);
  }
  const last = passed.at(-1)!;
  return {
    result: 'Passed',
    reason: 'GatesPassed',
    message: passed.map((v) => v.message).join('; '),
    ...(last.time ? { time: last.time } : {}),
  };
}

/** A webhook gate as a check: Held (asked again after its interval) until 2xx, Failed at failureLimit. */
function webhook(deps: GateDeps, g: Gate, body: Parameters<typeof callWebhook>[3]): Check {
  const timeoutMs = parseDuration(g.timeout ?? '') ?? 10_000;
  const againMs = parseDuration(g.interval ?? '') ?? 5_000;
  const limit = g.failureLimit ?? 0;
  return async (runsBefore) => {
    const r = await callWebhook(deps.fetch, g.url, timeoutMs, body);
    const time = new Date(deps.now()).toISOString();
    if (r.ok)
      return { result: 'Passed', reason: 'GatePassed', message: `gate ${g.name}: ${r.message}`, time };
    const n = runsBefore + 1;
    if (limit > 0 && n >= limit)
      return {
        result: 'Failed',
        reason: 'GateFailed',
        message: `gate ${g.name} said no ${n} time(s) in a row (failureLimit ${limit}); last: ${r.message}`,
        time,
      };
    return {
      result: 'Held',
      reason: 'GateRejected',
      message: `gate ${g.name} said no (${n}${limit ? ` of ${limit}` : ''}): ${r.message}; asking again in ${againMs / 1000}s`,
      time,
      againMs,
    };
  };
}
