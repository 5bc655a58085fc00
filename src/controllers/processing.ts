// The I/O side of pinning a version's processing content (src/processing/pin.ts): reading the
// ConfigMaps spec.processing references (a live read: the operator's caches hold only what it made)
// and the copies its revisions already hold (from the caches). Used by both reconciles: the
// ModelDeployment's, to render a revision from the pinned content; the ModelVersion's, to record
// the pin and report a change of the ConfigMap under the released version.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { ModelDeployment, ModelVersion, ModelVersionStatusProcessing } from '../api/index.js';
import type { ConditionInput } from '../core/conditions.js';
import { LABEL_DEPLOYMENT } from '../core/labels.js';
import { controlledBy } from '../core/ownership.js';
import {
  changedProblem,
  copyIn,
  matchesPin,
  pinOf,
  referencingStages,
  selectContent,
  type Pin,
} from '../processing/pin.js';
import type { ProcessingContent, Stage, StageContent } from '../runtimes/common/processing.js';
import { BY_MODEL_VERSION } from './caches.js';
import type { ReconcileDeps } from './deps.js';

/**
 * How often a version whose processing references a ConfigMap compares it with its pin. The
 * operator does not watch users' ConfigMaps (that would cache every ConfigMap of the cluster), so
 * a change is found by this look, a cheap read from the apiserver's watch cache.
 */
export const PROCESSING_RECHECK_MS = 30_000;

export type ProcessingResolution =
  { ok: true; content: ProcessingContent } | { ok: false; reason: string; message: string };

const mvName = (mv: ModelVersion) => `${mv.metadata?.namespace}/${mv.metadata?.name}`;

/**
 * The revision ConfigMaps built from a version (found through their Deployments, which name it),
 * oldest first: of one ModelDeployment (`owner`), or of any. Only objects the ModelDeployment
 * controls count: a label or a name is no proof of who wrote the content.
 */
function revisionConfigMaps(
  deps: ReconcileDeps,
  ns: string,
  mv: string,
  owner?: ModelDeployment,
): V1ConfigMap[] {
  const out: V1ConfigMap[] = [];
  for (const d of deps.caches.deployments.byIndex(BY_MODEL_VERSION, ns, mv)) {
    const name = d.metadata?.name;
    const cm = name ? deps.caches.configMaps.get(ns, name) : undefined;
    const mdName = d.metadata?.labels?.[LABEL_DEPLOYMENT];
    if (!cm || !mdName || (owner && owner.metadata?.name !== mdName)) continue;
    const md = owner ?? deps.caches.modelDeployments.get(ns, mdName);
    if (md && controlledBy(d, md) && controlledBy(cm, md)) out.push(cm);
  }
  const created = (c: V1ConfigMap) => String(c.metadata?.creationTimestamp ?? '');
  return out.sort(
    (a, b) => created(a).localeCompare(created(b)) || a.metadata!.name!.localeCompare(b.metadata!.name!),
  );
}

async function readConfigMap(
  deps: ReconcileDeps,
  ns: string,
  name: string,
): Promise<V1ConfigMap | undefined> {
  return deps.client.get<V1ConfigMap>('v1', 'ConfigMap', ns, name, { fromWatchCache: true });
}

/**
 * The content to render a revision of `mv` for `md` from: for each stage with a configMapRef, the
 * copy a revision of this ModelDeployment built from the version already holds, else the live
 * ConfigMap, if it still matches the version's pin. Otherwise why not, naming the ConfigMap and the
 * field: the reconcile then holds (nothing serving changes) and reports it.
 */
export async function observeProcessing(
  deps: ReconcileDeps,
  md: ModelDeployment,
  mv: ModelVersion,
): Promise<ProcessingResolution> {
  const stages = referencingStages(mv);
  if (stages.length === 0) return { ok: true, content: {} };
  const ns = mv.metadata!.namespace!;
  const copies = revisionConfigMaps(deps, ns, mv.metadata!.name!, md);
  const content: ProcessingContent = {};
  for (const stage of stages) {
    const ref = mv.spec.processing![stage]!.configMapRef!;
    const pin = pinFor(mv, stage);
    const copy = copies.map((cm) => copyIn(cm, stage)).find((c) => c !== undefined && matchesPin(pin, c));
    if (copy) {
      content[stage] = copy;
      continue;
    }
    const live = selectContent(mv, stage, await readConfigMap(deps, ns, ref.name));
    if (!live.ok) {
      return {
        ok: false,
        reason: live.reason,
        message: `ModelVersion ${mvName(mv)}: ${live.message}; the version cannot be deployed until it does (what serves now keeps serving)`,
      };
    }
    if (pin && !matchesPin(pin, live.content)) {
      const p = changedProblem(mv, stage, pin, live.content);
      return {
        ok: false,
        reason: p.reason,
        message: `ModelVersion ${mvName(mv)}: ${p.message}; no revision of this ModelDeployment holds a copy of the pinned content, so the version cannot be deployed: restore the ConfigMap's pinned content, or release the change as a new ModelVersion`,
      };
    }
    content[stage] = live.content;
  }
  return { ok: true, content };
}

/** The copies a ModelDeployment's revisions hold (no live read): to re-render a revision it keeps. */
export function processingCopies(
  deps: ReconcileDeps,
  md: ModelDeployment,
  mv: ModelVersion,
): ProcessingContent {
  const content: ProcessingContent = {};
  const copies = revisionConfigMaps(deps, mv.metadata!.namespace!, mv.metadata!.name!, md);
  for (const stage of referencingStages(mv)) {
    const copy = copies.map((cm) => copyIn(cm, stage)).find((c) => c !== undefined);
    if (copy) content[stage] = copy;
  }
  return content;
}

function pinFor(mv: ModelVersion, stage: Stage): Pin | undefined {
  const pin = mv.status?.processing?.[stage];
  // The spec is immutable, so a pin of another ConfigMap can only be a status written by hand.
  return pin && pin.configMap === mv.spec.processing?.[stage]?.configMapRef?.name ? pin : undefined;
}

export interface PinObservation {
  /** status.processing: the pins, kept once recorded. */
  pins: ModelVersionStatusProcessing;
  condition: ConditionInput;
  /** The content to validate the version with (unknown where it is not available). */
  content: ProcessingContent;
}

/**
 * The ModelVersion's side: records the pin of each stage's content the first time it can (from the
 * oldest copy a revision holds, else the live ConfigMap), and compares the live ConfigMap with it.
 * Undefined for a version that references no ConfigMap.
 */
export async function observePins(
  deps: ReconcileDeps,
  mv: ModelVersion,
  nowIso: string,
): Promise<PinObservation | undefined> {
  const stages = referencingStages(mv);
  if (stages.length === 0) return undefined;
  const ns = mv.metadata!.namespace!;
  const copies = revisionConfigMaps(deps, ns, mv.metadata!.name!);
  const pins: ModelVersionStatusProcessing = {};
  const content: ProcessingContent = {};
  const problems: Array<{ reason: string; message: string }> = [];
  const pinned: string[] = [];
  for (const stage of stages) {
    const ref = mv.spec.processing![stage]!.configMapRef!;
    const live = selectContent(mv, stage, await readConfigMap(deps, ns, ref.name));
    let pin = pinFor(mv, stage);
    const copy = copies.map((cm) => copyIn(cm, stage)).find((c) => c !== undefined && matchesPin(pin, c));
    if (!pin) {
      if (copy) pin = pinOf(ref.name, copy, nowIso);
      else if (live.ok) pin = pinOf(ref.name, live.content, nowIso);
    }
    if (pin) pins[stage] = pin;
    const unknown: StageContent = copy ?? { data: {}, unknown: true };
    if (!live.ok) {
      problems.push({ reason: live.reason, message: live.message });
      content[stage] = unknown;
    } else if (pin && !matchesPin(pin, live.content)) {
      problems.push(changedProblem(mv, stage, pin, live.content));
      content[stage] = unknown;
    } else {
      content[stage] = live.content;
      pinned.push(`ConfigMap ${ref.name} (spec.processing.${stage}.configMapRef) at ${pin!.digest}`);
    }
  }
  const condition: ConditionInput = problems.length
    ? {
        type: 'ProcessingPinned',
        status: 'False',
        reason: problems[0]!.reason,
        message: `${problems.map((p) => p.message).join('; ')}. Revisions already made from this version keep serving their pinned copy; a new revision of it is refused until the ConfigMap holds the pinned content again (or release the change as a new ModelVersion)`,
      }
    : {
        type: 'ProcessingPinned',
        status: 'True',
        reason: 'Pinned',
        message: `the processing content is pinned to version ${mv.spec.version}: ${pinned.join('; ')}`,
      };
  return { pins, condition, content };
}
