// The pod layout every runtime shares: where the model, the generated configuration and the
// processing live, and the scratch space a read-only root filesystem needs.
import type { V1ResourceRequirements, V1Volume, V1VolumeMount } from '@kubernetes/client-node';

/** The model repository (Triton) / model store (TorchServe): an emptyDir the fetcher fills. */
export const MODEL_ROOT = '/mnt/models';
/** The revision ConfigMap (generated files), read-only. */
export const CONFIG_DIR = '/mnt/config';
/** The version's pre/post-processing, read-only, one directory per stage. */
export const PROCESSING_ROOT = '/mnt/processing';

/** The model server's container name, the same for every runtime (logs, restart counts, exec). */
export const SERVER_CONTAINER = 'model-server';

export const VOLUME_MODELS = 'model-store';
export const VOLUME_CONFIG = 'revision-config';
export const VOLUME_TMP = 'tmp';

/**
 * The model store's default size limit. Without one, a fetch that writes more than expected (a
 * `gs://bucket/` meant as one model, a wrong archive) fills the node's disk and the kubelet evicts
 * other tenants' pods under disk pressure; with it, the kubelet evicts this pod alone, and the
 * rollout counts the failure against the new revision and reverts. 50 GiB holds the largest
 * Triton and TorchServe models usually served (a .tar.gz needs its own size twice while it is
 * extracted); larger models raise it operator-wide (--model-store-size-limit).
 */
export const DEFAULT_MODEL_STORE_SIZE_LIMIT = '50Gi';

/**
 * The volumes of every model pod: the model store, the revision's generated files, and /tmp.
 * `modelStoreSizeLimit`: a quantity, '' for no limit, undefined for the default.
 */
export function baseVolumes(configMapName: string, modelStoreSizeLimit?: string): V1Volume[] {
  const limit = modelStoreSizeLimit ?? DEFAULT_MODEL_STORE_SIZE_LIMIT;
  return [
    { name: VOLUME_MODELS, emptyDir: limit ? { sizeLimit: limit } : {} },
    { name: VOLUME_CONFIG, configMap: { name: configMapName } },
    { name: VOLUME_TMP, emptyDir: {} },
  ];
}

/**
 * The server sees the model store read-only: what it serves is exactly what the fetcher verified,
 * and a model handler cannot alter it for the next container restart.
 */
export function serverBaseMounts(): V1VolumeMount[] {
  return [
    { name: VOLUME_MODELS, mountPath: MODEL_ROOT, readOnly: true },
    { name: VOLUME_TMP, mountPath: '/tmp' },
  ];
}

/**
 * Requests the scheduler reserves when the ModelDeployment gives no resources. No limits: a model's
 * memory need is unknown here, and a guessed limit would OOM-kill large models.
 */
export function defaultServerResources(): V1ResourceRequirements {
  return { requests: { cpu: '1', memory: '2Gi' } };
}
