// PyTorch TorchServe. One model per pod, loaded at start from a model store the init containers
// fill in an emptyDir:
//   /mnt/models/<model>.mar      a model archive (format mar)
//   /mnt/models/<model>/         a torch-model-archiver --archive-format no-archive directory (with
//                                MAR-INF/MANIFEST.json), fetched as a directory or a .tar.gz
// The generated config.properties is read straight from the revision ConfigMap at /mnt/config.
import type { V1Probe } from '@kubernetes/client-node';
import type { ModelVersion } from '../../api/index.js';
import { renderFetch } from '../common/fetch.js';
import {
  CONFIG_DIR,
  MODEL_ROOT,
  SERVER_CONTAINER,
  VOLUME_CONFIG,
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
import {
  INFERENCE_PORT,
  MANAGEMENT_PORT,
  METRICS_PORT,
  renderConfigProperties,
} from './config-properties.js';

export const TORCHSERVE_IMAGE = DEFAULT_IMAGES.torchserve;

/** The management port is not listed: it listens on loopback only (see config-properties.ts). */
export const TORCHSERVE_PORTS: readonly RuntimePort[] = [
  { name: 'http', port: INFERENCE_PORT, appProtocol: 'http' },
  { name: 'metrics', port: METRICS_PORT, appProtocol: 'http' },
];

/**
 * Readiness: does the model have a worker that loaded it? TorchServe's `GET /ping` cannot say: it
 * answers Healthy before the model is registered at all (no models, nothing missing), and later
 * compares healthy workers with minWorkers over all models. `GET /models/<model>` on the management
 * API lists this model's workers with status READY once the handler's initialize() has returned.
 * An HTTP probe cannot read a JSON body, so this is an exec probe: a python3 one-liner (the image
 * runs its workers with python3) that exits 0 when at least one worker is READY, non-zero on any
 * error or none.
 */
export function modelReadyCommand(model: string): string[] {
  const url = `http://127.0.0.1:${MANAGEMENT_PORT}/models/${model}`;
  return [
    'python3',
    '-c',
    'import json, sys, urllib.request as r; ' +
      `w = json.load(r.urlopen('${url}', timeout=4))[0]['workers']; ` +
      "sys.exit(0 if any(x.get('status') == 'READY' for x in w) else 1)",
  ];
}

export const torchserve: ModelRuntime = {
  name: 'torchserve',
  defaultImage: TORCHSERVE_IMAGE,
  unmaintained: {
    since: '2025-08-07',
    message:
      'TorchServe (pytorch/serve) was archived upstream on 2025-08-07: no more releases or security ' +
      'fixes. modelship keeps serving it, but plan a move to a maintained server: Triton serves ' +
      'PyTorch models exported to ONNX or TorchScript, or Python models (docs/runtimes.md)',
  },

  renderPod(
    mv: ModelVersion,
    settings: RuntimeSettings,
    configMapName: string,
    content?: ProcessingContent,
  ): RuntimePod {
    const { model, format } = mv.spec;
    const source = parseStorageUri(mv);
    const kind = artifactKind(source, format);
    checkFetchable(mv, source, kind);
    if (kind === 'file' && format !== 'mar') {
      throw new InvalidModelVersionError(
        'FormatNotSupported',
        `ModelVersion ${mvKey(mv)}: TorchServe loads a model archive, but ${source.uri} is a single ` +
          `${format} file; package it with torch-model-archiver and publish the .mar (format mar), or a ` +
          '--archive-format no-archive directory (storageUri ending in /, or a .tar.gz of it)',
      );
    }

    const load = kind === 'file' ? `${model}.mar` : model;
    const fetch = renderFetch(mv, settings, source, kind, {
      file: `${MODEL_ROOT}/${model}.mar`,
      dir: `${MODEL_ROOT}/${model}`,
    });
    // The handler is inside the .mar (versioned with it): spec.processing is only files for it to read.
    const processing = renderProcessing(mv, configMapName, content);
    const files = { 'config.properties': renderConfigProperties(mv, load), ...processing.files };

    const modelReady: V1Probe = { exec: { command: modelReadyCommand(model) } };
    return {
      container: {
        name: SERVER_CONTAINER,
        image: settings.images?.torchserve ?? TORCHSERVE_IMAGE,
        command: [
          'torchserve',
          '--start',
          // Stay attached: without it the CLI starts the JVM in the background and exits, which
          // to the kubelet is a container that stopped.
          '--foreground',
          '--ts-config',
          `${CONFIG_DIR}/config.properties`,
          '--model-store',
          MODEL_ROOT,
          '--models',
          `${model}=${load}`,
          // Token authorization is on by default since 0.11 and writes a key file; also set in
          // config.properties, the flag makes it visible in `kubectl describe`.
          '--disable-token-auth',
          // No config snapshots: they would be written under logs/ and replayed on a restart.
          '--ncs',
        ],
        ports: TORCHSERVE_PORTS.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
        env: [
          // The root filesystem is read-only; the JVM extracts archives to java.io.tmpdir (from
          // TEMP), TorchServe writes logs to LOG_LOCATION, and handlers cache under $HOME
          // (Hugging Face, torch hub): all of it goes to the /tmp emptyDir.
          { name: 'TEMP', value: '/tmp' },
          { name: 'LOG_LOCATION', value: '/tmp/logs' },
          { name: 'METRICS_LOCATION', value: '/tmp/logs' },
          { name: 'HOME', value: '/tmp' },
          ...processing.env,
        ],
        volumeMounts: [
          ...serverBaseMounts(),
          { name: VOLUME_CONFIG, mountPath: CONFIG_DIR, readOnly: true },
          ...processing.mounts,
        ],
        resources: defaultServerResources(),
        securityContext: restrictedContainerSecurityContext(),
        terminationMessagePolicy: TERMINATION_MESSAGE_POLICY,
      },
      initContainers: fetch.initContainers,
      volumes: [
        ...baseVolumes(configMapName, settings.modelStoreSizeLimit),
        ...fetch.volumes,
        ...processing.volumes,
      ],
      files,
      servingPortName: 'http',
      ports: [...TORCHSERVE_PORTS],
      readinessProbe: { ...modelReady, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
      // /ping answers from the frontend (500 once no model has its minimum of healthy workers):
      // liveness restarts a hung JVM or a model whose workers stay dead for a minute.
      livenessProbe: {
        httpGet: { path: '/ping', port: 'http' },
        periodSeconds: 10,
        timeoutSeconds: 5,
        failureThreshold: 6,
      },
      // Until a worker has loaded the model (up to 10 minutes), liveness waits: /ping reports
      // Unhealthy while workers start, and a slow model load must not be restarted.
      // A 2 s period (10 min budget, as before): a loaded model is seen Ready within 2 s, not 10.
      startupProbe: { ...modelReady, periodSeconds: 2, timeoutSeconds: 5, failureThreshold: 300 },
    };
  },
};
