import type { V1Container, V1Probe, V1Volume } from '@kubernetes/client-node';
import type { ModelVersion } from '../api/index.js';
import type { ProcessingContent } from './common/processing.js';

/** Operator-wide settings a runtime renders with (from flags/env of the operator). */
export interface RuntimeSettings {
  /** Model-server image per runtime, overriding the runtime's default. */
  images?: Partial<Record<string, string>>;
  /** Images of the init container that fetches the model, per storage scheme (s3, gs, https, pvc). */
  fetchImages?: Partial<Record<'s3' | 'gs' | 'https' | 'pvc', string>>;
  /** Image of the init container that extracts .tar.gz/.tgz artifacts (needs sh and tar). */
  unpackImage?: string;
  /**
   * sizeLimit of the model store (emptyDir), a Kubernetes quantity such as 50Gi; '' for none;
   * undefined for DEFAULT_MODEL_STORE_SIZE_LIMIT (src/runtimes/common/pod.ts).
   */
  modelStoreSizeLimit?: string;
}

/** One named port of the model server. */
export interface RuntimePort {
  name: string;
  port: number;
  /** Service appProtocol (http, grpc): lets meshes and gateways pick the right protocol. */
  appProtocol?: string;
}

/** What a runtime contributes to the pod of one revision. Pure data; no client, no clock. */
export interface RuntimePod {
  /**
   * The model-server container: image (already resolved; the pod override image is applied by the
   * caller), command, ports, env, mounts, security context. Its `resources` are the runtime's
   * defaults, which the ModelDeployment's spec.pod.resources replace. The probes are given apart
   * (below) and set on the container by the caller.
   */
  container: V1Container;
  /** Containers that run before the server (the model fetcher). */
  initContainers: V1Container[];
  volumes: V1Volume[];
  /** Generated files (e.g. config.pbtxt, config.properties) that go into the revision's ConfigMap. */
  files: Record<string, string>;
  /** Name of the container port that serves inference requests (the Services target it). */
  servingPortName: string;
  /** All named ports, for the revision Service. */
  ports: RuntimePort[];
  /** Ready means this model is loaded and can answer, not merely that the server process is up. */
  readinessProbe: V1Probe;
  livenessProbe: V1Probe;
  /** Holds off liveness while a large model loads. */
  startupProbe?: V1Probe;
}

/** One model server (Triton, TorchServe). Adding a runtime is adding a folder under src/runtimes/. */
export interface ModelRuntime {
  readonly name: string;
  readonly defaultImage: string;
  /**
   * Set when the server is no longer maintained upstream: every ModelVersion of the runtime gets the
   * condition RuntimeMaintained=False (reason UpstreamArchived) with this message.
   */
  readonly unmaintained?: { since: string; message: string };
  /**
   * Renders the runtime's part of the pod for one ModelVersion. Pure. `configMapName` is the
   * revision ConfigMap that will hold `files`. Throws InvalidModelVersionError for a version this
   * runtime cannot serve. `processing` is the content pinned to the version for each stage with a
   * configMapRef (src/processing/): required for those stages, copied into `files`.
   */
  renderPod(
    mv: ModelVersion,
    settings: RuntimeSettings,
    configMapName: string,
    processing?: ProcessingContent,
  ): RuntimePod;
}

/**
 * A ModelVersion the schema accepts but a runtime cannot serve as given (for example a directory
 * artifact with a digest). `reason` is CamelCase, for a condition; the message says what to change.
 */
export class InvalidModelVersionError extends Error {
  override readonly name = 'InvalidModelVersionError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** `namespace/name` of a ModelVersion, for messages. */
export function mvKey(mv: ModelVersion): string {
  const ns = mv.metadata?.namespace;
  const name = mv.metadata?.name ?? `${mv.spec.model}@${mv.spec.version}`;
  return ns ? `${ns}/${name}` : name;
}
