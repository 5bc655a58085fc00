// NVIDIA Triton Inference Server. One model per pod, loaded explicitly from a model repository the
// init containers build in an emptyDir:
//   /mnt/models/<model>/config.pbtxt          generated (see config-pbtxt.ts), when there is one
//   /mnt/models/<model>/1/model.onnx          a single-file artifact, under Triton's default name
//   /mnt/models/<model>/1/...                 a directory artifact, or an archive's contents
// With a processing handler the model moves to <model>__model/ and <model>/ is a generated ensemble
// (pre-process -> model -> post-process, see ensemble.ts).
// Version directory 1 is the only one: the ModelVersion is the version, and a revision serves one.
import type { V1Probe } from '@kubernetes/client-node';
import type { ModelVersion, ModelVersionSpecFormat } from '../../api/index.js';
import { renderFetch } from '../common/fetch.js';
import {
  MODEL_ROOT,
  SERVER_CONTAINER,
  baseVolumes,
  defaultServerResources,
  serverBaseMounts,
} from '../common/pod.js';
import { renderProcessing, type ProcessingContent } from '../common/processing.js';
import { restrictedContainerSecurityContext, TERMINATION_MESSAGE_POLICY } from '../common/security.js';
import { artifactKind, checkFetchable, parseStorageUri } from '../common/storage.js';
import {
  InvalidModelVersionError,
  mvKey,
  type ModelRuntime,
  type RuntimePod,
  type RuntimePort,
  type RuntimeSettings,
} from '../types.js';
import { DEFAULT_IMAGES } from '../images.js';
import { renderConfigPbtxt } from './config-pbtxt.js';
import { renderEnsemble } from './ensemble.js';

export const TRITON_IMAGE = DEFAULT_IMAGES.triton;

export const TRITON_PORTS: readonly RuntimePort[] = [
  { name: 'http', port: 8000, appProtocol: 'http' },
  { name: 'grpc', port: 8001, appProtocol: 'grpc' },
  { name: 'metrics', port: 8002, appProtocol: 'http' },
];

/**
 * The file name Triton looks for in a version directory when config.pbtxt names none
 * (default_model_filename). SavedModel and OpenVINO models are directories / file pairs.
 */
const DEFAULT_FILENAME: Partial<Record<ModelVersionSpecFormat, string>> = {
  onnx: 'model.onnx',
  tensorrt: 'model.plan',
  torchscript: 'model.pt',
  tensorflow_savedmodel: 'model.savedmodel',
  openvino: 'model.xml',
  python: 'model.py',
};

/** Formats that are a directory even when storageUri has no trailing '/'. */
const DIRECTORY_FORMATS: ReadonlySet<string> = new Set(['tensorflow_savedmodel', 'openvino']);

export const triton: ModelRuntime = {
  name: 'triton',
  defaultImage: TRITON_IMAGE,

  renderPod(
    mv: ModelVersion,
    settings: RuntimeSettings,
    configMapName: string,
    content?: ProcessingContent,
  ): RuntimePod {
    const { model, format } = mv.spec;
    const filename = DEFAULT_FILENAME[format];
    if (filename === undefined) {
      throw new InvalidModelVersionError(
        'FormatNotSupported',
        `ModelVersion ${mvKey(mv)}: Triton cannot serve format ${format}; use runtime torchserve for .mar archives`,
      );
    }
    const source = parseStorageUri(mv);
    const kind = artifactKind(source, format, DIRECTORY_FORMATS);
    checkFetchable(mv, source, kind);

    // With a processing handler, the model is a step of an ensemble that answers under its name.
    const processing = renderProcessing(mv, configMapName, content);
    const ensemble = renderEnsemble(mv, kind, content);
    const modelDir = `${MODEL_ROOT}/${ensemble?.modelName ?? model}`;
    const versionDir = `${modelDir}/1`;
    const files: Record<string, string> = {};
    let copies: Record<string, string> = {};
    if (ensemble) {
      Object.assign(files, ensemble.files);
      copies = ensemble.copies;
    } else {
      const config = renderConfigPbtxt(mv);
      if (config !== undefined) {
        files['config.pbtxt'] = config;
        copies = { 'config.pbtxt': `${modelDir}/config.pbtxt` };
      }
    }
    // config.pbtxt reaches the repository by copy, not by a subPath mount: Triton then reads one
    // plain directory tree, the server mounts the whole store read-only, and nothing depends on
    // subPath mounts (which never see ConfigMap updates and have had their share of CVEs).
    const fetch = renderFetch(mv, settings, source, kind, {
      file: `${versionDir}/${filename}`,
      dir:
        format === 'tensorflow_savedmodel' && kind === 'directory' ? `${versionDir}/${filename}` : versionDir,
      copies,
      ...(ensemble ? { dirs: ensemble.dirs } : {}),
    });
    Object.assign(files, processing.files);

    const port = (name: string) => TRITON_PORTS.find((p) => p.name === name)!.port;
    const modelReady: V1Probe['httpGet'] = { path: `/v2/models/${model}/ready`, port: 'http' };
    return {
      container: {
        name: SERVER_CONTAINER,
        image: settings.images?.triton ?? TRITON_IMAGE,
        // args, not command: the image's entrypoint (nvidia_entrypoint.sh) sets up CUDA forward
        // compatibility before it execs these.
        args: [
          'tritonserver',
          `--model-repository=${MODEL_ROOT}`,
          // Only this model, and no polling of the repository: what the pod serves is fixed at start.
          '--model-control-mode=explicit',
          `--load-model=${model}`,
          '--strict-readiness=true',
          // A model that fails to load ends the process, so the kubelet reports it (restarts) instead
          // of a server that runs forever without the model.
          '--exit-on-error=true',
          `--http-port=${port('http')}`,
          `--grpc-port=${port('grpc')}`,
          `--metrics-port=${port('metrics')}`,
        ],
        ports: TRITON_PORTS.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
        env: [...processing.env],
        volumeMounts: [
          ...serverBaseMounts(),
          // The Python backend exchanges tensors with its stub processes through /dev/shm, which
          // is 64Mi in a pod unless given a memory-backed volume.
          { name: 'dshm', mountPath: '/dev/shm' },
          ...processing.mounts,
        ],
        resources: defaultServerResources(),
        securityContext: restrictedContainerSecurityContext(),
        terminationMessagePolicy: TERMINATION_MESSAGE_POLICY,
      },
      initContainers: fetch.initContainers,
      volumes: [
        ...baseVolumes(configMapName, settings.modelStoreSizeLimit),
        { name: 'dshm', emptyDir: { medium: 'Memory' } },
        ...fetch.volumes,
        ...processing.volumes,
      ],
      files,
      servingPortName: 'http',
      ports: [...TRITON_PORTS],
      // This model loaded and ready, not the server: with one model per pod they coincide, and the
      // model endpoint stays right if a pod ever serves more.
      readinessProbe: { httpGet: modelReady, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
      livenessProbe: {
        httpGet: { path: '/v2/health/live', port: 'http' },
        periodSeconds: 10,
        timeoutSeconds: 3,
        failureThreshold: 6,
      },
      // Triton loads the model before it listens; large models take minutes. Up to 10 minutes here
      // (the rollout's progressDeadlineSeconds decides failure; this only keeps liveness from
      // killing a pod that is still loading).
      // A 2 s period (10 min budget, as before): a loaded model is seen Ready within 2 s, not 10.
      startupProbe: { httpGet: modelReady, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 300 },
    };
  },
};
