// Rollout notifications as CloudEvents 1.0 (structured JSON mode). Pure: what one applied plan says
// happened (the Kubernetes Events it recorded, the status before and after) in, the CloudEvents to
// send out. Built from the same plan.events the operator records as Kubernetes Events, so the two
// never disagree about what happened; the status only adds the versions and revisions, and the one
// notice that has no Event of its own (a canary step reached).
import { API_VERSION, MODEL_DEPLOYMENT_PLURAL, type ModelDeployment } from '../api/index.js';
import type { PlanEvent, RolloutStatus } from '../core/plan-types.js';

export const TYPE_PREFIX = 'io.modelship.rollout.';

/** Every type modelship sends; a sink may subscribe to a subset. */
export const NOTIFICATION_TYPES = [
  'io.modelship.rollout.started',
  'io.modelship.rollout.step',
  'io.modelship.rollout.promoted',
  'io.modelship.rollout.analysis.failed',
  'io.modelship.rollout.rolledback',
  'io.modelship.rollout.stable.failedover',
  'io.modelship.rollout.aborted',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface RevisionRef {
  revision: string;
  version: string;
}

/** The `data` of every notification. */
export interface NotificationData {
  namespace: string;
  modelDeployment: string;
  model: string;
  /** The version and revision the notification is about (the new one, the promoted one, the one reverted from). */
  version?: string;
  revision?: string;
  /** The Kubernetes Event's reason, or for a revert the failure's (e.g. AnalysisFailed, CrashLoopBackOff). */
  reason: string;
  /** The Kubernetes Event's message, word for word. */
  message: string;
  /** The stable revision after the change. */
  stable?: RevisionRef;
  /** A revert: from which revision to which. */
  from?: RevisionRef;
  to?: RevisionRef;
  /** A step: the index reached (status.currentStepIndex) and the canary's weight there. */
  step?: number;
  weight?: number;
}

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: NotificationType;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  data: NotificationData;
}

export interface AppliedPlan {
  md: ModelDeployment;
  /** Status before this plan (as the reconcile read it). */
  previous: RolloutStatus | undefined;
  /** Status this plan wrote. */
  status: RolloutStatus;
  /** The Events recorded for this plan, in order. */
  events: PlanEvent[];
  /** Now, in ms since the epoch. */
  now: number;
  /** A fresh id per CloudEvent (the shell passes crypto.randomUUID). */
  newId: () => string;
}

/** The CloudEvents `source` of a ModelDeployment: its API path, a URI-reference unique per object. */
export function sourceOf(md: ModelDeployment): string {
  const m = md.metadata ?? {};
  return `/apis/${API_VERSION}/namespaces/${m.namespace ?? ''}/${MODEL_DEPLOYMENT_PLURAL}/${m.name ?? ''}`;
}

/**
 * The notifications of one applied plan, in the order its Events were recorded; a step reached
 * (which has no Event) comes last. Events that are not rollout milestones (holds, ignored requests,
 * drift) send nothing.
 */
export function planNotifications(p: AppliedPlan): CloudEvent[] {
  const prev = p.previous ?? {};
  const next = p.status;
  const out: Array<{
    type: NotificationType;
    data: Partial<NotificationData> & { reason: string; message: string };
  }> = [];
  const stable = ref(next.stableRevision, next.stableVersion);
  for (const e of p.events) {
    const base = { reason: e.reason, message: e.message };
    switch (e.reason) {
      case 'RolloutStarted':
        out.push({
          type: 'io.modelship.rollout.started',
          data: { ...base, ...refFields(next.canaryRevision, next.canaryVersion) },
        });
        break;
      case 'Deploying':
        out.push({
          type: 'io.modelship.rollout.started',
          data: { ...base, ...refFields(next.stableRevision, next.stableVersion) },
        });
        break;
      case 'Promoted':
        out.push({
          type: 'io.modelship.rollout.promoted',
          data: { ...base, ...refFields(next.stableRevision, next.stableVersion) },
        });
        break;
      case 'Aborted':
        out.push({
          type: 'io.modelship.rollout.aborted',
          data: { ...base, ...refFields(prev.canaryRevision, prev.canaryVersion) },
        });
        break;
      case 'AnalysisFailed':
        // Analysis failed without a revert (autoRollback off, or nothing to go back to).
        out.push({
          type: 'io.modelship.rollout.analysis.failed',
          data: {
            ...base,
            ...refFields(
              prev.canaryRevision ?? next.canaryRevision,
              prev.canaryVersion ?? next.canaryVersion,
            ),
          },
        });
        break;
      case 'RolledBack': {
        const rb = next.lastRollback;
        if (!rb) break;
        const from = ref(rb.from?.revision, rb.from?.version);
        const to = ref(rb.to?.revision, rb.to?.version);
        const data = {
          ...base,
          reason: rb.reason ?? e.reason,
          ...refFields(rb.from?.revision, rb.from?.version),
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
        };
        // The cause first, then the action: a receiver of either learns of the revert.
        if (rb.reason === 'AnalysisFailed') out.push({ type: 'io.modelship.rollout.analysis.failed', data });
        // The serving revision failed its health (not a canary, not an analysis in the bake time).
        const failedOver = rb.from?.revision === prev.stableRevision && rb.reason !== 'AnalysisFailed';
        out.push({
          type: failedOver ? 'io.modelship.rollout.stable.failedover' : 'io.modelship.rollout.rolledback',
          data,
        });
        break;
      }
    }
  }
  const step = stepReached(prev, next);
  if (step !== undefined) {
    out.push({
      type: 'io.modelship.rollout.step',
      data: {
        reason: 'StepReached',
        message: `version ${next.canaryVersion} reached step ${step} at ${next.canaryWeight ?? 0}% of traffic`,
        ...refFields(next.canaryRevision, next.canaryVersion),
        step,
        weight: next.canaryWeight ?? 0,
      },
    });
  }
  const time = new Date(p.now).toISOString();
  const md = p.md;
  return out.map(({ type, data }) => {
    const full: NotificationData = {
      namespace: md.metadata?.namespace ?? '',
      modelDeployment: md.metadata?.name ?? '',
      model: md.spec?.model ?? '',
      ...data,
      ...(stable ? { stable } : {}),
    };
    const ce: CloudEvent = {
      specversion: '1.0',
      id: p.newId(),
      source: sourceOf(md),
      type,
      time,
      datacontenttype: 'application/json',
      data: full,
    };
    if (full.revision) ce.subject = full.revision;
    return ce;
  });
}

/** The step index a canary moved to in this plan; not its first step (the start says that). */
export function stepReached(prev: RolloutStatus, next: RolloutStatus): number | undefined {
  if (!next.canaryRevision || next.currentStepIndex === undefined) return undefined;
  const before = prev.canaryRevision === next.canaryRevision ? (prev.currentStepIndex ?? 0) : 0;
  return next.currentStepIndex > before ? next.currentStepIndex : undefined;
}

function ref(revision: string | undefined, version: string | undefined): RevisionRef | undefined {
  return revision && version ? { revision, version } : undefined;
}

function refFields(
  revision: string | undefined,
  version: string | undefined,
): { revision?: string; version?: string } {
  return { ...(revision ? { revision } : {}), ...(version ? { version } : {}) };
}
