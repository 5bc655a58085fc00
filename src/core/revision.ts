// The pure render of one revision: the Deployment, ConfigMap and Service that serve one
// ModelVersion for one ModelDeployment, named `<md>-<hash>`. The hash covers exactly what shapes
// the pods (the rendered pod template and the generated files), so the same version with the same
// pod overrides is always the same revision, and a rollback finds the revision it left behind.
// node:crypto's createHash is the one node:* import of the core: a digest is a pure function.
import { createHash } from 'node:crypto';
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1OwnerReference,
  V1PodTemplateSpec,
  V1ResourceRequirements,
  V1Service,
  V1ServicePort,
  V1Toleration,
} from '@kubernetes/client-node';
import {
  API_VERSION,
  MODEL_DEPLOYMENT_KIND,
  type ModelDeployment,
  type ModelDeploymentSpecPod,
  type ModelDeploymentSpecPodResources,
  type ModelVersion,
} from '../api/index.js';
import { FETCH_CONTAINER } from '../runtimes/common/fetch.js';
import { canonicalJson } from '../runtimes/common/json.js';
import type { ProcessingContent } from '../runtimes/common/processing.js';
import { restrictedPodSecurityContext } from '../runtimes/common/security.js';
import { getRuntime, type ModelRuntime, type RuntimePod, type RuntimeSettings } from '../runtimes/index.js';
import {
  ANNOTATION_MODEL_VERSION_NAME,
  ANNOTATION_RUNTIME,
  ANNOTATION_VERSION,
  LABEL_COMPONENT,
  LABEL_DEPLOYMENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_MODEL,
  LABEL_MODEL_VERSION,
  LABEL_NAME,
  LABEL_PART_OF,
  LABEL_REVISION,
  LABEL_VERSION,
  MANAGED_BY,
  labelSafeVersion,
  mdKey,
  mdName,
  revisionObjectName,
  revisionSelector,
} from './labels.js';
import { resolveSpec } from './spec.js';

export const GPU_RESOURCE = 'nvidia.com/gpu';

export interface RevisionInput {
  md: ModelDeployment;
  /** The ModelVersion this revision serves (not necessarily md.spec.version: rollbacks render old ones). */
  mv: ModelVersion;
  settings?: RuntimeSettings;
  /** Defaults to the registered runtime named by mv.spec.runtime. */
  runtime?: ModelRuntime;
  /** The content pinned to the version behind spec.processing's configMapRefs (src/processing/). */
  processing?: ProcessingContent;
}

export interface RenderRevisionInput extends RevisionInput {
  /**
   * Pods of the revision, decided by the rollout plan. Always rendered: with server-side apply,
   * leaving spec.replicas out would give up the field and let the apiserver default it to 1.
   */
  replicas: number;
}

export interface RenderedRevision {
  hash: string;
  /** `<md>-<hash>`, the name of all three objects. */
  name: string;
  /** Labels of every object and of the pods. */
  labels: Record<string, string>;
  /** Selects this revision's pods: {modelship.io/deployment, modelship.io/revision}. */
  selector: Record<string, string>;
  deployment: V1Deployment;
  configMap: V1ConfigMap;
  service: V1Service;
  podTemplate: V1PodTemplateSpec;
}

/** What the revision hash covers. */
export interface RevisionHashInput {
  /** The pod template, rendered without the revision label and with HASH_PLACEHOLDER for the hash. */
  podTemplate: V1PodTemplateSpec;
  /** The generated files of the revision ConfigMap. */
  files: Record<string, string>;
}

/** Stands for the hash inside what is hashed (the ConfigMap name the pod template refers to). */
export const HASH_PLACEHOLDER = '0000000000';

/**
 * Kubernetes' pod-template-hash alphabet (rand.SafeEncodeString): no vowels, so no words, and no
 * 0, 1 or 3, which read as letters. Ten characters give 27^10 ≈ 2·10^14 values.
 */
const HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const HASH_LENGTH = 10;

/** 10 lowercase alphanumeric characters from the sha256 of the canonical JSON of the input. */
export function computeRevisionHash(input: RevisionHashInput): string {
  const digest = createHash('sha256').update(canonicalJson(input)).digest();
  let hash = '';
  for (let i = 0; i < HASH_LENGTH; i++) hash += HASH_ALPHABET[digest[i]! % HASH_ALPHABET.length];
  return hash;
}

/** The hash of the revision that serves `mv` for `md`, without rendering the objects. */
export function revisionHash(input: RevisionInput): string {
  return hashOf(input, mdName(input.md));
}

export function renderRevision(input: RenderRevisionInput): RenderedRevision {
  const { md, mv, replicas } = input;
  const name = mdName(md);
  const hash = hashOf(input, name);
  const objectName = revisionObjectName(name, hash);
  const { pod, podTemplate } = renderPodTemplate(input, objectName, hash);
  const labels = revisionLabels(md, mv, hash);
  const selector = revisionSelector(name, hash);
  const namespace = md.metadata?.namespace;
  const metadata = () => ({
    name: objectName,
    ...(namespace ? { namespace } : {}),
    labels: { ...labels },
    ownerReferences: [ownerReference(md)],
  });
  const spec = resolveSpec(md);

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      ...metadata(),
      annotations: {
        [ANNOTATION_VERSION]: mv.spec.version,
        [ANNOTATION_RUNTIME]: mv.spec.runtime,
        ...(mv.metadata?.name ? { [ANNOTATION_MODEL_VERSION_NAME]: mv.metadata.name } : {}),
      },
    },
    spec: {
      replicas,
      selector: { matchLabels: { ...selector } },
      template: podTemplate,
      // A revision's own Deployment never changes its pod template (a change is a new revision), so
      // a rolling update only replaces pods that died; never take one away before its replacement.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      // modelship keeps revisions as Deployments of their own; ReplicaSet history adds nothing.
      revisionHistoryLimit: 0,
      progressDeadlineSeconds: Math.round(spec.progressDeadlineMs / 1000),
    },
  };

  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(),
    // Its content is part of its name (the hash), so it never changes: immutable spares the
    // kubelets a watch per pod, and turns a would-be change into a loud error.
    immutable: true,
    data: sortedRecord(pod.files),
  };

  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(),
    spec: { type: 'ClusterIP', selector: { ...selector }, ports: servicePorts(pod, spec.port) },
  };

  return { hash, name: objectName, labels, selector, deployment, configMap, service, podTemplate };
}

/** Labels of every object of a revision and of its pods (the hash is left out when undefined). */
export function revisionLabels(md: ModelDeployment, mv: ModelVersion, hash?: string): Record<string, string> {
  const name = mdName(md);
  const version = labelSafeVersion(mv.spec.version);
  return {
    [LABEL_NAME]: mv.spec.model,
    [LABEL_INSTANCE]: name,
    [LABEL_VERSION]: version,
    [LABEL_COMPONENT]: 'model-server',
    [LABEL_PART_OF]: 'modelship',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_DEPLOYMENT]: name,
    [LABEL_MODEL]: mv.spec.model,
    [LABEL_MODEL_VERSION]: version,
    ...(hash !== undefined ? { [LABEL_REVISION]: hash } : {}),
  };
}

/** The controller owner reference every child of the ModelDeployment carries. */
export function ownerReference(md: ModelDeployment): V1OwnerReference {
  const uid = md.metadata?.uid;
  if (!uid) {
    throw new Error(
      `ModelDeployment ${mdKey(md)} has no metadata.uid: render its children from the object as read ` +
        'from the apiserver, not from a manifest',
    );
  }
  return {
    apiVersion: API_VERSION,
    kind: MODEL_DEPLOYMENT_KIND,
    name: mdName(md),
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

// ---------------------------------------------------------------------------------------------

function hashOf(input: RevisionInput, name: string): string {
  const { pod, podTemplate } = renderPodTemplate(
    input,
    revisionObjectName(name, HASH_PLACEHOLDER),
    undefined,
  );
  return computeRevisionHash({ podTemplate, files: pod.files });
}

/** The pod template; without the revision label when `hash` is undefined (for hashing). */
function renderPodTemplate(
  input: RevisionInput,
  configMapName: string,
  hash: string | undefined,
): { pod: RuntimePod; podTemplate: V1PodTemplateSpec } {
  const { md, mv } = input;
  const runtime = input.runtime ?? getRuntime(mv.spec.runtime);
  const pod = runtime.renderPod(mv, input.settings ?? {}, configMapName, input.processing);
  const overrides: ModelDeploymentSpecPod = md.spec.pod ?? {};

  const user = overrides.resources ? userResources(overrides.resources) : {};
  const resources = user.requests || user.limits ? user : pod.container.resources;
  const gpus = requestsGpus(resources);
  const server: V1Container = {
    ...pod.container,
    image: overrides.image ?? pod.container.image,
    env: mergeEnv(pod.container.env, overrides.env),
    ...(resources ? { resources } : {}),
    readinessProbe: pod.readinessProbe,
    livenessProbe: pod.livenessProbe,
    ...(pod.startupProbe ? { startupProbe: pod.startupProbe } : {}),
  };
  const tolerations: V1Toleration[] = structuredClone(overrides.tolerations ?? []);
  // Device-plugin GPU nodes are commonly tainted nvidia.com/gpu:NoSchedule so that only pods asking
  // for GPUs land there; a pod that asks must tolerate it.
  if (gpus && !toleratesGpuTaint(tolerations)) {
    tolerations.push({ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' });
  }

  const podTemplate: V1PodTemplateSpec = {
    metadata: {
      // The user's first, ours over them: a user label can never change what selects the pods.
      labels: { ...(overrides.labels ?? {}), ...revisionLabels(md, mv, hash) },
      annotations: { ...(overrides.annotations ?? {}), [ANNOTATION_VERSION]: mv.spec.version },
    },
    spec: {
      ...(overrides.serviceAccountName ? { serviceAccountName: overrides.serviceAccountName } : {}),
      // The model server needs no Kubernetes API access; a token in the pod would only be a risk.
      // (Workload-identity webhooks inject a projected token of their own, not this one.)
      automountServiceAccountToken: false,
      // No <SERVICE>_PORT variables: TorchServe reads TS_* variables as configuration.
      enableServiceLinks: false,
      securityContext: restrictedPodSecurityContext(),
      initContainers: withStorageCredentials(pod.initContainers, overrides.storageCredentials?.secretName),
      containers: [server],
      volumes: overrides.storageCredentials
        ? [
            ...(pod.volumes ?? []),
            {
              name: STORAGE_CREDENTIALS_VOLUME,
              secret: { secretName: overrides.storageCredentials.secretName, defaultMode: 0o440 },
            },
          ]
        : pod.volumes,
      ...(overrides.nodeSelector ? { nodeSelector: { ...overrides.nodeSelector } } : {}),
      ...(tolerations.length > 0 ? { tolerations } : {}),
    },
  };
  return { pod, podTemplate };
}

const STORAGE_CREDENTIALS_VOLUME = 'storage-credentials';
/** Where the fetch step finds the files of spec.pod.storageCredentials' Secret. */
export const STORAGE_CREDENTIALS_DIR = '/var/run/secrets/modelship.io/storage';

/**
 * spec.pod.storageCredentials reaches the fetch-model container only: the Secret's keys as its
 * environment (envFrom: the rendered variables, set by `env`, win over a key of the same name, so a
 * Secret cannot change the URI or the digest), its files read-only at STORAGE_CREDENTIALS_DIR, curl's
 * configuration read from there (CURL_HOME: a `.curlrc` key), gcloud's credential file there
 * (key.json, for gs:// only).
 */
function withStorageCredentials(
  inits: V1Container[] | undefined,
  secretName: string | undefined,
): V1Container[] | undefined {
  if (!secretName || !inits) return inits;
  return inits.map((c) => {
    if (c.name !== FETCH_CONTAINER) return c;
    const gs = (c.env ?? []).some((e) => e.name === 'MODEL_URI' && e.value?.startsWith('gs://'));
    return {
      ...c,
      envFrom: [{ secretRef: { name: secretName } }],
      env: [
        ...(c.env ?? []),
        { name: 'CURL_HOME', value: STORAGE_CREDENTIALS_DIR },
        ...(gs
          ? [{ name: 'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE', value: `${STORAGE_CREDENTIALS_DIR}/key.json` }]
          : []),
      ],
      volumeMounts: [
        ...(c.volumeMounts ?? []),
        { name: STORAGE_CREDENTIALS_VOLUME, mountPath: STORAGE_CREDENTIALS_DIR, readOnly: true },
      ],
    };
  });
}

/**
 * The ModelDeployment's resources, replacing the runtime's defaults as a whole (a merge could pair
 * a user's request with a default limit below it). An extended resource such as nvidia.com/gpu
 * cannot be overcommitted: its request must equal its limit, so whichever is given is set on both.
 */
function userResources(r: ModelDeploymentSpecPodResources): V1ResourceRequirements {
  const requests = quantities(r.requests);
  const limits = quantities(r.limits);
  const gpu = limits[GPU_RESOURCE] ?? requests[GPU_RESOURCE];
  if (gpu !== undefined) {
    limits[GPU_RESOURCE] = gpu;
    requests[GPU_RESOURCE] = gpu;
  }
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

function quantities(q: Record<string, number | string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(q ?? {}).map(([k, v]) => [k, String(v)]));
}

function requestsGpus(r: V1ResourceRequirements | undefined): boolean {
  const gpu = r?.limits?.[GPU_RESOURCE] ?? r?.requests?.[GPU_RESOURCE];
  return gpu !== undefined && Number(gpu) !== 0;
}

function toleratesGpuTaint(tolerations: V1Toleration[]): boolean {
  return tolerations.some(
    (t) =>
      (t.effect === undefined || t.effect === 'NoSchedule') &&
      ((t.key === undefined && t.operator === 'Exists') ||
        (t.key === GPU_RESOURCE && t.operator === 'Exists')),
  );
}

/**
 * The runtime's variables with the user's on top: a user variable of the same name replaces the
 * runtime's in place (env is a list keyed by name; server-side apply rejects duplicates).
 */
function mergeEnv(base: V1EnvVar[] | undefined, user: ModelDeploymentSpecPod['env']): V1EnvVar[] {
  const overrides = new Map((user ?? []).map((e) => [e.name, structuredClone(e) as V1EnvVar]));
  const merged = (base ?? []).map((e) => overrides.get(e.name) ?? e);
  const seen = new Set(merged.map((e) => e.name));
  for (const [name, e] of overrides) if (!seen.has(name)) merged.push(e);
  return merged;
}

/**
 * The serving port as `http` on the ModelDeployment's traffic port, then the runtime's other
 * ports (gRPC, metrics) on their own numbers; one that would clash with the traffic port is left
 * out rather than make the Service invalid.
 */
function servicePorts(pod: RuntimePod, trafficPort: number): V1ServicePort[] {
  const serving = pod.ports.find((p) => p.name === pod.servingPortName);
  const ports: V1ServicePort[] = [
    {
      name: 'http',
      protocol: 'TCP',
      port: trafficPort,
      targetPort: pod.servingPortName,
      ...(serving?.appProtocol ? { appProtocol: serving.appProtocol } : {}),
    },
  ];
  for (const p of pod.ports) {
    if (p.name === pod.servingPortName || p.name === 'http' || p.port === trafficPort) continue;
    ports.push({
      name: p.name,
      protocol: 'TCP',
      port: p.port,
      targetPort: p.name,
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    });
  }
  return ports;
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}
