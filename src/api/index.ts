// The modelship.io API as TypeScript: the generated resource types, and the names the apiserver
// knows them by. The constants must match crds/ (test/unit/crds.test.ts checks them).
export type * from './types.gen.js';

export const GROUP = 'modelship.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const MODEL_VERSION_KIND = 'ModelVersion';
export const MODEL_VERSION_PLURAL = 'modelversions';
export const MODEL_DEPLOYMENT_KIND = 'ModelDeployment';
export const MODEL_DEPLOYMENT_PLURAL = 'modeldeployments';

/** The API's kinds with the plurals of their REST paths, for the clients and caches that name them. */
export const MODEL_VERSION_RESOURCE = {
  apiVersion: API_VERSION,
  kind: MODEL_VERSION_KIND,
  plural: MODEL_VERSION_PLURAL,
} as const;
export const MODEL_DEPLOYMENT_RESOURCE = {
  apiVersion: API_VERSION,
  kind: MODEL_DEPLOYMENT_KIND,
  plural: MODEL_DEPLOYMENT_PLURAL,
} as const;
export const API_KINDS = [MODEL_DEPLOYMENT_RESOURCE, MODEL_VERSION_RESOURCE] as const;
