// What a steering command will do, said before it is done: read from the spec and the status the
// operator wrote, with the same rules and spec defaults as the planner (src/core/plan.ts,
// src/core/planner/, src/core/spec.ts). Pure.
import type { ModelDeployment } from '../api/index.js';
import { resolveSpec, weightBefore } from '../core/spec.js';
import { parseTime } from '../core/time.js';
import type { RequestVerb } from './view/status.js';

export const GITOPS_NOTE =
  'note: this edits the spec. If a GitOps tool (Argo CD, Flux) manages this ModelDeployment, make the same change in Git: a self-healing sync puts the spec back to what Git says.';

/** A fresh request token: when (ISO time) and a random suffix, so two requests in one millisecond differ. */
export function newToken(now: number, random: string): string {
  return `${new Date(now).toISOString()}-${random}`;
}

export type Explanation = { ok: true; text: string } | { ok: false; error: string };

const inProgress = (md: ModelDeployment): boolean =>
  !!md.status?.canaryRevision && md.status.canaryRevision !== md.status.stableRevision;

/**
 * promote: the operator takes a promote token only at a pause step (or a ready blue-green preview);
 * until then it stays pending. With no rollout in progress it would stay pending and silently skip
 * the first pause of the *next* rollout, so the plugin refuses to set it.
 */
function explainPromote(md: ModelDeployment): Explanation {
  const s = md.status ?? {};
  const name = md.metadata?.name ?? '';
  if (!inProgress(md)) {
    return {
      ok: false,
      error: `ModelDeployment ${JSON.stringify(name)} has no rollout in progress (phase ${s.phase ?? 'unknown'}, serving ${s.stableVersion ?? 'nothing yet'}): nothing to promote`,
    };
  }
  const spec = resolveSpec(md);
  if (spec.strategy === 'BlueGreen') {
    return {
      ok: true,
      text: `all traffic switches from ${s.stableVersion} to ${s.canaryVersion}${(s.currentStepIndex ?? 0) === 0 ? ' once the preview is Ready' : ''}`,
    };
  }
  const steps = spec.steps;
  const index = s.currentStepIndex ?? 0;
  const next = steps.findIndex((st, i) => i >= index && 'pauseMs' in st);
  if (next < 0) {
    return {
      ok: false,
      error: `the rollout of ${s.canaryVersion} has no pause step left (step ${Math.min(index + 1, steps.length)}/${steps.length}): it goes on by itself, nothing to promote`,
    };
  }
  const at = `step ${next + 1}/${steps.length}`;
  const step = steps[next]!;
  const pause = 'duration' in step && step.duration ? `pause of ${step.duration}` : 'pause';
  if (next === index)
    return {
      ok: true,
      text: `the rollout of ${s.canaryVersion} leaves ${at} (${pause} at ${weightBefore(steps, next)}%) and goes on with the next step`,
    };
  return {
    ok: true,
    text: `the rollout of ${s.canaryVersion} skips the ${pause} of ${at} when it gets there (it is at step ${index + 1}/${steps.length} now)`,
  };
}

function explainAbort(md: ModelDeployment): Explanation {
  const s = md.status ?? {};
  const name = md.metadata?.name ?? '';
  if (!inProgress(md)) {
    return {
      ok: true,
      text: `no rollout is in progress (phase ${s.phase ?? 'unknown'}): the operator records the request and changes nothing`,
    };
  }
  return {
    ok: true,
    text: `the rollout of ${s.canaryVersion} stops: all traffic goes back to ${s.stableVersion}, ${s.canaryVersion} is scaled down and recorded as Aborted, and is not tried again until spec.version changes or you run kubectl modelship retry ${name}`,
  };
}

function explainRetry(md: ModelDeployment): Explanation {
  const s = md.status ?? {};
  const desired = md.spec.version;
  const last = [...(s.history ?? [])].reverse().find((h) => h.version === desired);
  // The planner's rule: a failure under the current generation blocks the version until a retry
  // acted on after it.
  const blocked =
    last !== undefined &&
    (last.result === 'RolledBack' || last.result === 'Failed' || last.result === 'Aborted') &&
    last.generation === md.metadata?.generation &&
    (parseTime(last.finishedAt) ?? 0) > (parseTime(s.acknowledged?.retryAt) ?? -Infinity);
  if (!blocked) {
    return {
      ok: true,
      text: `version ${desired} is not held back by a failure: the operator records the request and changes nothing`,
    };
  }
  return {
    ok: true,
    text: `version ${desired} (${last.result}${last.reason ? `: ${last.reason}` : ''}) is rolled out again from the first step, with ${s.stableVersion ?? 'the stable version'} serving meanwhile`,
  };
}

export function explainRequest(verb: RequestVerb, md: ModelDeployment): Explanation {
  switch (verb) {
    case 'promote':
      return explainPromote(md);
    case 'abort':
      return explainAbort(md);
    case 'retry':
      return explainRetry(md);
  }
}

export function explainPause(md: ModelDeployment, paused: boolean): Explanation {
  const s = md.status ?? {};
  const name = md.metadata?.name ?? '';
  const spec = resolveSpec(md);
  if (spec.paused === paused)
    return { ok: true, text: `spec.paused is already ${paused}: nothing to change` };
  if (!paused)
    return {
      ok: true,
      text: inProgress(md)
        ? `the rollout of ${s.canaryVersion} goes on from where it stopped`
        : `a new spec.version starts rolling out again`,
    };
  if (inProgress(md)) {
    const steps = spec.steps;
    const index = s.currentStepIndex ?? 0;
    const where =
      spec.strategy === 'BlueGreen'
        ? 'before the switch'
        : `at step ${Math.min(index + 1, steps.length)}/${steps.length}, ${s.canaryWeight ?? 0}% of traffic`;
    return {
      ok: true,
      text: `the rollout of ${s.canaryVersion} freezes ${where}: no step advances and no traffic moves until kubectl modelship resume ${name}; a failing canary is still rolled back`,
    };
  }
  return {
    ok: true,
    text: `no rollout is in progress: a new spec.version will not start rolling out until kubectl modelship resume ${name}`,
  };
}

export function explainRollback(md: ModelDeployment, version: string): Explanation {
  const s = md.status ?? {};
  if (md.spec.version === version)
    return { ok: true, text: `spec.version is already ${version}: nothing to change` };
  if (s.stableVersion === version)
    return {
      ok: true,
      text: `${version} already serves as the stable version: the rollout of ${md.spec.version} ends and ${version} keeps all traffic`,
    };
  const strategy = resolveSpec(md).strategy;
  const bad = [...(s.history ?? [])].reverse().find((h) => h.version === version);
  const warning =
    bad && (bad.result === 'RolledBack' || bad.result === 'Failed')
      ? ` (careful: its last rollout ended ${bad.result}${bad.reason ? `: ${bad.reason}` : ''})`
      : '';
  return {
    ok: true,
    text: `the operator rolls out ${version} with the ${strategy} strategy, replacing ${s.stableVersion ?? md.spec.version}${warning}`,
  };
}
