// Which ModelVersion a ModelDeployment's spec names, or why none can serve it. Pure.
import type { ModelDeployment, ModelVersion } from '../api/index.js';
import type { Resolution } from './plan.js';

/**
 * The name a ModelVersion must have (the CRD's create rule): `<model>-<version>`, the version
 * lowercased (names are lowercase) and '+' (build metadata) written as '--'. The name is the natural
 * key, so the apiserver refuses a second ModelVersion of the same model and version as existing.
 */
export function modelVersionName(model: string, version: string): string {
  return `${model}-${version.toLowerCase().replaceAll('+', '--')}`;
}

/**
 * Finds the ModelVersion the spec names. The schema cannot know what exists, so every way this can
 * go wrong becomes a reason and a message for a condition; nothing serving is touched.
 * `versions` need only hold the spec's model's versions (others are skipped); `allVersions`, read
 * only when none matches, gives the hint that the version exists under another model.
 */
export function resolveModelVersion(
  md: ModelDeployment,
  versions: ModelVersion[],
  servingRuntime: string | undefined,
  allVersions: () => ModelVersion[] = () => versions,
): { mv: ModelVersion } | Extract<Resolution, { ok: false }> {
  const { model, version } = md.spec;
  const ns = md.metadata?.namespace;
  const ofModel = versions.filter((v) => v.spec.model === model && v.metadata?.namespace === ns);
  const exact = ofModel.filter((v) => v.spec.version === version);
  if (exact.length === 0) {
    const elsewhere = allVersions().find((v) => v.spec.version === version && v.metadata?.namespace === ns);
    const known = ofModel
      .map((v) => v.spec.version)
      .sort()
      .slice(-5);
    return {
      ok: false,
      reason: 'ModelVersionNotFound',
      message:
        `no ModelVersion of model ${model} with version ${version} in namespace ${ns}` +
        (elsewhere
          ? ` (version ${version} exists for model ${elsewhere.spec.model}: check spec.model)`
          : '') +
        (known.length
          ? `; known versions of ${model}: ${known.join(', ')}`
          : `; create the ModelVersion first`),
    };
  }
  if (exact.length > 1) {
    return {
      ok: false,
      reason: 'AmbiguousModelVersion',
      message: `ModelVersions ${exact.map((v) => v.metadata?.name).join(', ')} all declare model ${model} version ${version}; delete all but one`,
    };
  }
  const mv = exact[0]!;
  if (mv.metadata?.deletionTimestamp && !servingRuntime) {
    return {
      ok: false,
      reason: 'ModelVersionDeleting',
      message: `ModelVersion ${mv.metadata.name} is being deleted`,
    };
  }
  if (servingRuntime && mv.spec.runtime !== servingRuntime) {
    return {
      ok: false,
      reason: 'RuntimeMismatch',
      message: `version ${version} uses runtime ${mv.spec.runtime} but the serving version uses ${servingRuntime}; clients of one runtime's API would break on the other. Deploy it as a new ModelDeployment`,
    };
  }
  return { mv };
}
