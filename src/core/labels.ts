// Names every modelship child carries. Labels select; annotations explain.
import type { ModelDeployment } from '../api/index.js';

export const FIELD_MANAGER = 'modelship';

export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_VERSION = 'app.kubernetes.io/version';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';

/** The owning ModelDeployment's name: every child and every model-server pod has it. */
export const LABEL_DEPLOYMENT = 'modelship.io/deployment';
export const LABEL_MODEL = 'modelship.io/model';
/** The model version, made label-safe (see labelSafeVersion). */
export const LABEL_MODEL_VERSION = 'modelship.io/version';
export const LABEL_REVISION = 'modelship.io/revision';
/** Set by Kubernetes' EndpointSlice controller on each slice: the Service it lists endpoints of. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

/** The exact semantic version (labels cannot hold '+'). */
export const ANNOTATION_VERSION = 'modelship.io/version';
/** Runtime (triton, torchserve) of a revision: a new version must keep the serving runtime. */
export const ANNOTATION_RUNTIME = 'modelship.io/runtime';
/** Hash of the body modelship last applied: an unchanged object is not written again. */
export const ANNOTATION_APPLIED = 'modelship.io/applied';
/** Name of the ModelVersion a revision was built from. */
export const ANNOTATION_MODEL_VERSION_NAME = 'modelship.io/model-version';

export const MANAGED_BY = 'modelship';

/**
 * A label value holds at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric.
 * Semantic versions may carry '+' (build metadata) and be longer, so '+' becomes '_' and long
 * values are cut; the exact version is always in the ANNOTATION_VERSION annotation.
 */
export function labelSafeVersion(version: string): string {
  const v = version.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 63);
  return v.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
}

/** Name of the child objects of one revision: `<deployment>-<hash>`. */
export function revisionObjectName(deploymentName: string, hash: string): string {
  return `${deploymentName}-${hash}`;
}

/** `namespace/name` of the ModelDeployment, the key every error and log line names. */
export function mdKey(md: ModelDeployment): string {
  return `${md.metadata?.namespace ?? ''}/${md.metadata?.name ?? ''}`;
}

/** The ModelDeployment's name, which every child and routed object is named after. */
export function mdName(md: ModelDeployment): string {
  const name = md.metadata?.name;
  if (!name)
    throw new Error(`ModelDeployment ${mdKey(md)} has no metadata.name; its children are named after it`);
  return name;
}

/** Selects the pods of one revision of a ModelDeployment. */
export function revisionSelector(mdName: string, hash: string): Record<string, string> {
  return { [LABEL_DEPLOYMENT]: mdName, [LABEL_REVISION]: hash };
}
