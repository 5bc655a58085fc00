// Pinning the content behind spec.processing's configMapRefs to the version (pure). A ConfigMap is
// not part of the immutable ModelVersion, so without a pin an edit of it would change what a
// released version answers. The pin is the sha256 of the selected keys, recorded in the
// ModelVersion's status.processing when the operator first sees the version; the content itself is
// copied into each revision's own immutable ConfigMap (`<stage>--<key>`, owned by the
// ModelDeployment), so a revision keeps serving its copy whatever happens to the user's ConfigMap.
// A rendering takes the content from a copy of the version already made, else from the live
// ConfigMap, and only if it matches the pin.
import { createHash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { ModelVersion, ModelVersionStatusProcessingPreprocess } from '../api/index.js';
import { canonicalJson } from '../runtimes/common/json.js';
import { copiedKey, STAGES, type Stage, type StageContent } from '../runtimes/common/processing.js';

export type Pin = ModelVersionStatusProcessingPreprocess;

/** Why a stage's content cannot be used, with the field a user fixes. */
export interface PinProblem {
  reason: 'ConfigMapNotFound' | 'ConfigMapKeyNotFound' | 'ProcessingBinaryData' | 'ProcessingChanged';
  message: string;
}

export type Selected = { ok: true; content: StageContent } | ({ ok: false } & PinProblem);

/** The stages of a version that reference a ConfigMap. */
export function referencingStages(mv: ModelVersion): Stage[] {
  return STAGES.filter((s) => mv.spec.processing?.[s]?.configMapRef !== undefined);
}

const sha256 = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

/** The keys a stage's configMapRef selects from a live ConfigMap (undefined: it does not exist). */
export function selectContent(mv: ModelVersion, stage: Stage, cm: V1ConfigMap | undefined): Selected {
  const ref = mv.spec.processing![stage]!.configMapRef!;
  const field = `spec.processing.${stage}.configMapRef`;
  const ns = mv.metadata?.namespace ?? '';
  if (!cm) {
    return {
      ok: false,
      reason: 'ConfigMapNotFound',
      message: `ConfigMap ${ns}/${ref.name} (${field}.name) does not exist`,
    };
  }
  const data = cm.data ?? {};
  const binary = Object.keys(cm.binaryData ?? {});
  if (ref.key !== undefined) {
    if (data[ref.key] !== undefined) return { ok: true, content: { data: { [ref.key]: data[ref.key]! } } };
    if (binary.includes(ref.key)) {
      return {
        ok: false,
        reason: 'ProcessingBinaryData',
        message: `key ${ref.key} of ConfigMap ${ns}/${ref.name} (${field}.key) is binaryData, which modelship does not copy; store it as data`,
      };
    }
    return {
      ok: false,
      reason: 'ConfigMapKeyNotFound',
      message: `ConfigMap ${ns}/${ref.name} has no key ${ref.key} (${field}.key); its keys: ${Object.keys(data).sort().join(', ') || 'none'}`,
    };
  }
  if (binary.length > 0) {
    return {
      ok: false,
      reason: 'ProcessingBinaryData',
      message: `ConfigMap ${ns}/${ref.name} (${field}) has binaryData keys (${binary.sort().join(', ')}), which modelship does not copy; store them as data or select one data key (${field}.key)`,
    };
  }
  return { ok: true, content: { data: { ...data } } };
}

/** The pin of a stage's content: one digest over all keys, and one per key (to name what changed). */
export function pinOf(configMap: string, content: StageContent, pinnedAt: string): Pin {
  const keys = Object.fromEntries(
    Object.entries(content.data)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, sha256(v)]),
  );
  return { configMap, digest: sha256(canonicalJson(content.data)), keys, pinnedAt };
}

/** What differs between a pin and content: the keys changed, added and removed. */
export function changedKeys(pin: Pin, content: StageContent): string[] {
  const now = pinOf(pin.configMap, content, '').keys ?? {};
  const was = pin.keys ?? {};
  const out: string[] = [];
  for (const k of Object.keys(was).sort()) {
    if (now[k] === undefined) out.push(`${k} (removed)`);
    else if (now[k] !== was[k]) out.push(`${k} (changed)`);
  }
  for (const k of Object.keys(now).sort()) if (was[k] === undefined) out.push(`${k} (added)`);
  return out;
}

export function matchesPin(pin: Pin | undefined, content: StageContent): boolean {
  return pin === undefined || pinOf(pin.configMap, content, '').digest === pin.digest;
}

/** The ProcessingChanged problem of a stage whose live content differs from its pin. */
export function changedProblem(mv: ModelVersion, stage: Stage, pin: Pin, live: StageContent): PinProblem {
  const ns = mv.metadata?.namespace ?? '';
  const keys = changedKeys(pin, live);
  return {
    reason: 'ProcessingChanged',
    message: `ConfigMap ${ns}/${pin.configMap} (spec.processing.${stage}.configMapRef) changed after version ${mv.spec.version} pinned it (${pin.pinnedAt ? `at ${pin.pinnedAt}, ` : ''}${pin.digest}): ${keys.join(', ') || 'content differs'}`,
  };
}

/**
 * The copy of a stage's content a revision ConfigMap holds (its `<stage>--<key>` keys), or
 * undefined when it holds none (a revision made before pinning, or a stage without keys).
 */
export function copyIn(cm: V1ConfigMap, stage: Stage): StageContent | undefined {
  const prefix = copiedKey(stage, '');
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(cm.data ?? {}))
    if (k.startsWith(prefix)) data[k.slice(prefix.length)] = v;
  return Object.keys(data).length > 0 ? { data } : undefined;
}
