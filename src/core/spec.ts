import type { ModelDeployment, ModelDeploymentSpecStrategyCanaryStep } from '../api/index.js';
import { parseDuration } from './duration.js';

/**
 * A ModelDeployment spec with every default filled in. The apiserver applies the CRD defaults to
 * stored objects; filling them here too keeps the core total over partial input (tests, dry runs)
 * and is the one place that knows the defaults outside crds/.
 */
export interface ResolvedSpec {
  model: string;
  version: string;
  replicas: number;
  strategy: 'Canary' | 'BlueGreen' | 'Experiment';
  /** strategy.experiment with its defaults; undefined unless strategy.type is Experiment. */
  experiment: ResolvedExperiment | undefined;
  steps: ResolvedStep[];
  scaleDownDelayMs: number;
  blueGreen: { previewService: boolean; autoPromotionEnabled: boolean; autoPromotionMs: number };
  progressDeadlineMs: number;
  autoRollback: boolean;
  maxRestarts: number;
  router: 'gatewayApi' | 'istio' | 'service';
  port: number;
  revisionHistoryLimit: number;
  paused: boolean;
  /** The one version allowed to break the serving version's interface without a new major. */
  allowInterfaceChangeTo: string | undefined;
}

/** An experiment's settings (strategy.experiment) with defaults filled in. */
export interface ResolvedExperiment {
  /** The challenger's (spec.version's) weight. */
  weight: number;
  /** More challengers, in spec order. */
  arms: Array<{ version: string; weight: number }>;
  /** undefined: until the spec changes. */
  durationMs: number | undefined;
  onEnd: 'Rollback' | 'PromoteIfWinner';
  metric: 'ErrorRate' | 'MeanLatency';
  minSamples: number;
}

/** A canary step; a timed pause keeps its duration as written, for messages. */
export type ResolvedStep = { setWeight: number } | { pauseMs: number | undefined; duration?: string };

export function resolveSpec(md: ModelDeployment): ResolvedSpec {
  const s = md.spec;
  const st = s.strategy ?? {};
  const type = st.type ?? 'Canary';
  return {
    model: s.model,
    version: s.version,
    replicas: s.replicas ?? 1,
    strategy: type,
    steps: (st.canary?.steps ?? []).map(resolveStep),
    scaleDownDelayMs:
      1000 *
      ((type === 'BlueGreen' ? st.blueGreen?.scaleDownDelaySeconds : st.canary?.scaleDownDelaySeconds) ?? 30),
    blueGreen: {
      previewService: st.blueGreen?.previewService ?? true,
      autoPromotionEnabled: st.blueGreen?.autoPromotionEnabled ?? true,
      autoPromotionMs: 1000 * (st.blueGreen?.autoPromotionSeconds ?? 0),
    },
    progressDeadlineMs: 1000 * (st.progressDeadlineSeconds ?? 300),
    autoRollback: st.autoRollback ?? true,
    maxRestarts: st.maxRestarts ?? 3,
    router: s.traffic?.router ?? 'service',
    port: s.traffic?.port ?? 80,
    revisionHistoryLimit: s.revisionHistoryLimit ?? 3,
    paused: s.paused ?? false,
    allowInterfaceChangeTo: st.allowInterfaceChangeTo,
    experiment: type === 'Experiment' ? resolveExperiment(md) : undefined,
  };
}

export function resolveExperiment(md: ModelDeployment): ResolvedExperiment {
  const e = md.spec.strategy?.experiment;
  return {
    weight: e?.weight ?? 0,
    arms: (e?.arms ?? []).map((a) => ({ version: a.version, weight: a.weight })),
    durationMs: e?.duration === undefined ? undefined : (parseDuration(e.duration) ?? 0),
    onEnd: e?.onEnd ?? 'Rollback',
    metric: e?.decideBy?.metric ?? 'ErrorRate',
    minSamples: e?.decideBy?.minSamples ?? 100,
  };
}

export function resolveStep(step: ModelDeploymentSpecStrategyCanaryStep): ResolvedStep {
  if (step.setWeight !== undefined) return { setWeight: step.setWeight };
  const d = step.pause?.duration;
  return d === undefined ? { pauseMs: undefined } : { pauseMs: parseDuration(d) ?? 0, duration: d };
}

/** The canary's weight once steps[0..index-1] are done: the last setWeight among them. */
export function weightBefore(steps: readonly ResolvedStep[], index: number): number {
  let w = 0;
  for (const s of steps.slice(0, index)) if ('setWeight' in s) w = s.setWeight;
  return w;
}
