// What the informer caches keep of each object. The caches are most of the operator's memory (a
// thousand ModelDeployments mean some thousands of pods, Deployments and Services), and most of an
// object as the apiserver sends it is never read by a controller: managedFields (often the largest
// part of metadata), a pod's spec (the controllers read a pod's labels and status only), a
// Deployment's pod template (a revision's template is rendered from its ModelVersion, never read
// back; its hash is in a label). Each function returns a new object; the argument is not changed.
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';

export function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** A pod as the controllers read it: metadata (labels, deletion) and status. */
export function slimPod(pod: V1Pod): V1Pod {
  const { spec: _spec, ...rest } = withoutManagedFields(pod);
  return rest;
}

/** A Deployment without its pod template's spec: replicas, selector, labels, annotations and status stay. */
export function slimDeployment(d: V1Deployment): V1Deployment {
  const lean = withoutManagedFields(d);
  if (!lean.spec?.template?.spec) return lean;
  const { spec: _podSpec, ...template } = lean.spec.template;
  return { ...lean, spec: { ...lean.spec, template } };
}
