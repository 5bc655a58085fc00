// Where a rollout stands, in words: which step of how many, what it waits for, how long is left.
// Derived from the spec (steps, strategy, paused) and the status the operator wrote (currentStepIndex,
// currentStepStartedAt, canaryWeight), with the clock as an argument.
import type { ModelDeployment, ModelDeploymentSpecStrategyCanaryStep } from '../api/index.js';
import { parseDuration } from '../core/duration.js';
import { formatRemaining, parseTime } from './format.js';

export type Step = ModelDeploymentSpecStrategyCanaryStep;

/** The canary's weight once steps[0..index-1] are done: the last setWeight among them. */
export function weightBefore(steps: readonly Step[], index: number): number {
  let w = 0;
  for (const s of steps.slice(0, index)) if (s.setWeight !== undefined) w = s.setWeight;
  return w;
}

/**
 * One line about the rollout in progress, e.g. `step 2/4: paused 7s more at 25%`, or undefined
 * when none is in progress (no canary revision in the status).
 */
export function describeProgress(md: ModelDeployment, now: number): string | undefined {
  const s = md.status;
  if (!s?.canaryRevision) return undefined;
  const name = md.metadata?.name ?? '';
  const started = parseTime(s.currentStepStartedAt);
  const index = s.currentStepIndex ?? 0;

  if ((md.spec.strategy?.type ?? 'Canary') === 'BlueGreen') {
    // spec.paused freezes the rollout where it is: nothing counts down, nothing advances.
    if (md.spec.paused) return `stage ${index === 0 ? 1 : 2}/2: frozen before the switch (spec.paused)`;
    if (index === 0) return `stage 1/2: preview of ${s.canaryVersion} starting, 0% of traffic`;
    const bg = md.spec.strategy?.blueGreen ?? {};
    if (bg.autoPromotionEnabled ?? true) {
      const end = (started ?? now) + 1000 * (bg.autoPromotionSeconds ?? 0);
      return `stage 2/2: preview Ready, switching traffic in ${formatRemaining(end, now)}`;
    }
    return `stage 2/2: preview Ready, waiting for promotion (kubectl modelship promote ${name})`;
  }

  const steps = md.spec.strategy?.canary?.steps ?? [];
  const n = steps.length;
  const weight = s.canaryWeight ?? weightBefore(steps, index);
  const step = steps[index];
  const at = step ? `step ${index + 1}/${n}` : `all ${n} steps done`;
  if (md.spec.paused) return `${at}: frozen at ${weight}% (spec.paused)`;
  if (!step) return `${at}: promoting at ${weight}% once the canary is at full size`;
  if (step.setWeight !== undefined)
    return `${at}: setting weight ${step.setWeight}% (now ${weight}%), waiting for ready canary pods`;
  const duration = step.pause?.duration;
  if (duration === undefined)
    return `${at}: paused at ${weight}% until promoted (kubectl modelship promote ${name})`;
  const ms = parseDuration(duration) ?? 0;
  const end = (started ?? now) + ms;
  if (end <= now) return `${at}: pause of ${duration} over at ${weight}%, moving on`;
  return `${at}: paused ${formatRemaining(end, now)} more at ${weight}%`;
}
