// Where a rollout stands, in words: which step of how many, what it waits for, how long is left.
// Derived from the spec (steps, strategy, paused; defaults from core/spec.ts, as the planner reads
// them) and the status the operator wrote (currentStepIndex, currentStepStartedAt, canaryWeight),
// with the clock as an argument.
import type { ModelDeployment } from '../api/index.js';
import { resolveSpec, weightBefore } from '../core/spec.js';
import { parseTime } from '../core/time.js';
import { formatRemaining } from './format.js';

/**
 * One line about the rollout in progress, e.g. `step 2/4: paused 7s more at 25%`, or undefined
 * when none is in progress (no canary revision in the status).
 */
export function describeProgress(md: ModelDeployment, now: number): string | undefined {
  const s = md.status;
  if (!s?.canaryRevision) return undefined;
  const name = md.metadata?.name ?? '';
  const spec = resolveSpec(md);
  const started = parseTime(s.currentStepStartedAt);
  const index = s.currentStepIndex ?? 0;

  if (spec.strategy === 'BlueGreen') {
    // spec.paused freezes the rollout where it is: nothing counts down, nothing advances.
    if (spec.paused) return `stage ${index === 0 ? 1 : 2}/2: frozen before the switch (spec.paused)`;
    if (index === 0) return `stage 1/2: preview of ${s.canaryVersion} starting, 0% of traffic`;
    if (spec.blueGreen.autoPromotionEnabled) {
      const end = (started ?? now) + spec.blueGreen.autoPromotionMs;
      return `stage 2/2: preview Ready, switching traffic in ${formatRemaining(end, now)}`;
    }
    return `stage 2/2: preview Ready, waiting for promotion (kubectl modelship promote ${name})`;
  }

  const steps = spec.steps;
  const n = steps.length;
  const weight = s.canaryWeight ?? weightBefore(steps, index);
  const step = steps[index];
  const at = step ? `step ${index + 1}/${n}` : `all ${n} steps done`;
  if (spec.paused) return `${at}: frozen at ${weight}% (spec.paused)`;
  if (!step) return `${at}: promoting at ${weight}% once the canary is at full size`;
  if ('setWeight' in step)
    return `${at}: setting weight ${step.setWeight}% (now ${weight}%), waiting for ready canary pods`;
  if (step.pauseMs === undefined)
    return `${at}: paused at ${weight}% until promoted (kubectl modelship promote ${name})`;
  const end = (started ?? now) + step.pauseMs;
  if (end <= now) return `${at}: pause of ${step.duration} over at ${weight}%, moving on`;
  return `${at}: paused ${formatRemaining(end, now)} more at ${weight}%`;
}
