// A version's pre- and post-processing, mounted read-only next to the model so that rolling a
// ModelDeployment back to a version also brings back that version's processing.
//
// Layout, one directory per stage:
//   /mnt/processing/preprocess/preprocess.json    {"handler": ..., "config": {...}} (inline in the spec)
//   /mnt/processing/preprocess/<key>              the keys of spec.processing.preprocess.configMapRef
//   /mnt/processing/postprocess/...               the same for postprocess
// Everything comes from the revision's own immutable ConfigMap: the keys of a referenced ConfigMap
// are copied into it (as `<stage>--<key>`) from the content pinned to the version, so a later edit
// of the user's ConfigMap never reaches a pod of a released version (see src/processing/).
// Each stage is one projected volume, mounted at its own directory: mounting a volume inside
// another read-only volume would need the container runtime to create the mount point in a
// read-only directory, which fails.
import type { V1EnvVar, V1Volume, V1VolumeMount, V1KeyToPath } from '@kubernetes/client-node';
import type { ModelVersion, ModelVersionSpecProcessingPreprocess } from '../../api/index.js';
import { InvalidModelVersionError, mvKey } from '../types.js';
import { canonicalJson } from './json.js';
import { PROCESSING_ROOT } from './pod.js';

export const STAGES = ['preprocess', 'postprocess'] as const;
export type Stage = (typeof STAGES)[number];

/** The content behind one stage's configMapRef: the selected keys and their values. */
export interface StageContent {
  /** key -> value (ConfigMap data). */
  data: Record<string, string>;
  /**
   * Validation only (the ModelVersion's Ready condition): the content is not available now (the
   * ConfigMap is gone or changed and no copy is at hand), so the checks that read it are skipped.
   */
  unknown?: boolean;
}

/** The content behind each stage's configMapRef, resolved (and pinned) by the caller. */
export type ProcessingContent = Partial<Record<Stage, StageContent>>;

export interface ProcessingPart {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  /** preprocess.json / postprocess.json and the copied keys, for the revision ConfigMap. */
  files: Record<string, string>;
  env: V1EnvVar[];
}

/** The revision ConfigMap key that holds a copy of `key` of a stage's configMapRef. */
export function copiedKey(stage: Stage, key: string): string {
  return `${stage}--${key}`;
}

/** The stage's spec (both stages have the same shape; the generator names them apart). */
export function stageSpec(mv: ModelVersion, stage: Stage): ModelVersionSpecProcessingPreprocess | undefined {
  return mv.spec.processing?.[stage];
}

/**
 * The content a stage's configMapRef resolved to, or an error naming the field: the renderer
 * cannot guess what a ConfigMap it was not given holds.
 */
export function stageContent(
  mv: ModelVersion,
  stage: Stage,
  content: ProcessingContent | undefined,
): StageContent | undefined {
  const ref = stageSpec(mv, stage)?.configMapRef;
  if (!ref) return undefined;
  const got = content?.[stage];
  if (!got) {
    throw new InvalidModelVersionError(
      'ProcessingNotResolved',
      `ModelVersion ${mvKey(mv)}: the content of ConfigMap ${ref.name} (spec.processing.${stage}.configMapRef) was not resolved`,
    );
  }
  return got;
}

export function renderProcessing(
  mv: ModelVersion,
  configMapName: string,
  content?: ProcessingContent,
): ProcessingPart {
  const part: ProcessingPart = { volumes: [], mounts: [], files: {}, env: [] };
  for (const stage of STAGES) {
    const spec = stageSpec(mv, stage);
    if (!spec) continue;
    const items: V1KeyToPath[] = [];
    const copied = stageContent(mv, stage, content);
    for (const [key, value] of Object.entries(copied?.data ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      part.files[copiedKey(stage, key)] = value;
      items.push({ key: copiedKey(stage, key), path: key });
    }
    // Last, so that a referenced ConfigMap with a key of the same name cannot shadow the spec's file.
    if (spec.handler !== undefined || spec.config !== undefined) {
      const file = `${stage}.json`;
      part.files[file] = canonicalJson({ handler: spec.handler, config: spec.config }, 2) + '\n';
      const i = items.findIndex((x) => x.path === file);
      if (i >= 0) items.splice(i, 1);
      items.push({ key: file, path: file });
    }
    if (items.length === 0) continue;
    part.volumes.push({
      name: stage,
      projected: { sources: [{ configMap: { name: configMapName, items } }] },
    });
    part.mounts.push({ name: stage, mountPath: `${PROCESSING_ROOT}/${stage}`, readOnly: true });
  }
  if (part.mounts.length > 0) part.env.push({ name: 'MODELSHIP_PROCESSING_DIR', value: PROCESSING_ROOT });
  return part;
}
