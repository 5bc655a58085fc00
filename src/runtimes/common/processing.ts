// A version's pre- and post-processing, mounted read-only next to the model so that rolling a
// ModelDeployment back to a version also brings back that version's processing.
//
// Layout, one directory per stage:
//   /mnt/processing/preprocess/preprocess.json    {"handler": ..., "config": {...}} (inline in the spec)
//   /mnt/processing/preprocess/<key>              the keys of spec.processing.preprocess.configMapRef
//   /mnt/processing/postprocess/...               the same for postprocess
// Each stage is one projected volume (the revision ConfigMap's file plus the referenced ConfigMap),
// mounted at its own directory: mounting a volume inside another read-only volume would need the
// container runtime to create the mount point in a read-only directory, which fails.
import type { V1EnvVar, V1Volume, V1VolumeMount, V1VolumeProjection } from '@kubernetes/client-node';
import type { ModelVersion, ModelVersionSpecProcessingPreprocess } from '../../api/index.js';
import { canonicalJson } from './json.js';
import { PROCESSING_ROOT } from './pod.js';

export interface ProcessingPart {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  /** preprocess.json / postprocess.json, for the revision ConfigMap. */
  files: Record<string, string>;
  env: V1EnvVar[];
}

const STAGES = ['preprocess', 'postprocess'] as const;

export function renderProcessing(mv: ModelVersion, configMapName: string): ProcessingPart {
  const part: ProcessingPart = { volumes: [], mounts: [], files: {}, env: [] };
  for (const stage of STAGES) {
    // Both stages have the same shape in the schema (a YAML anchor); the generator names them apart.
    const spec: ModelVersionSpecProcessingPreprocess | undefined = mv.spec.processing?.[stage];
    if (!spec) continue;
    const sources: V1VolumeProjection[] = [];
    if (spec.configMapRef) {
      const { name, key } = spec.configMapRef;
      sources.push({ configMap: { name, ...(key !== undefined ? { items: [{ key, path: key }] } : {}) } });
    }
    // Last, so that a referenced ConfigMap with a key of the same name cannot shadow the spec's file.
    if (spec.handler !== undefined || spec.config !== undefined) {
      const file = `${stage}.json`;
      part.files[file] = canonicalJson({ handler: spec.handler, config: spec.config }, 2) + '\n';
      sources.push({ configMap: { name: configMapName, items: [{ key: file, path: file }] } });
    }
    if (sources.length === 0) continue;
    part.volumes.push({ name: stage, projected: { sources } });
    part.mounts.push({ name: stage, mountPath: `${PROCESSING_ROOT}/${stage}`, readOnly: true });
  }
  if (part.mounts.length > 0) part.env.push({ name: 'MODELSHIP_PROCESSING_DIR', value: PROCESSING_ROOT });
  return part;
}
