// The init containers that prepare the model store: `fetch-model` copies spec.storageUri into it
// and verifies spec.digest; for a .tar.gz artifact `unpack-model` then extracts it. The last of them
// puts the generated files (config.pbtxt) in place. The server starts only once they succeeded; a
// failure (missing object, digest mismatch) restarts them with back-off, which the rollout counts
// against the new revision.
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ModelVersion } from '../../api/index.js';
import { DEFAULT_IMAGES } from '../images.js';
import type { RuntimeSettings } from '../types.js';
import { CONFIG_DIR, MODEL_ROOT, VOLUME_CONFIG, VOLUME_MODELS, VOLUME_TMP } from './pod.js';
import { restrictedContainerSecurityContext, shQuote, TERMINATION_MESSAGE_POLICY } from './security.js';
import type { ArtifactKind, StorageScheme, StorageSource } from './storage.js';

export const FETCH_CONTAINER = 'fetch-model';
export const UNPACK_CONTAINER = 'unpack-model';

/** One image per scheme, each with the one client it needs, and sh, sha256sum and cp. */
export const DEFAULT_FETCH_IMAGES: Readonly<Record<StorageScheme, string>> = {
  s3: DEFAULT_IMAGES.fetchS3,
  gs: DEFAULT_IMAGES.fetchGs,
  https: DEFAULT_IMAGES.fetchHttps,
  pvc: DEFAULT_IMAGES.fetchPvc,
};

/**
 * Extracts archives. A separate step so that no fetch image needs tar and gzip: amazon/aws-cli
 * (Amazon Linux 2, a minimal install) does not promise them; BusyBox has both.
 */
export const DEFAULT_UNPACK_IMAGE = DEFAULT_IMAGES.unpack;

const SOURCE_VOLUME = 'model-source';
const SOURCE_DIR = '/mnt/source';

/** Where the runtime wants the artifact. */
export interface FetchLayout {
  /** Path of a single-file artifact, under the name the server expects (e.g. .../1/model.onnx). */
  file: string;
  /** Directory a directory artifact is copied into, and an archive extracted into. */
  dir: string;
  /** Generated files to copy from the revision ConfigMap into the model tree: key -> absolute path. */
  copies?: Record<string, string>;
  /** Directories to create in the model tree (a Triton ensemble's empty version directory). */
  dirs?: string[];
}

export interface FetchPart {
  /** fetch-model, then unpack-model for an archive. */
  initContainers: V1Container[];
  /** Volumes the fetcher needs beyond the base volumes (the PVC of a pvc:// source). */
  volumes: V1Volume[];
}

// Commands per scheme. Every value from the ModelVersion reaches the scripts through the
// environment, never through the script text, so a URI cannot inject shell.
const FETCH_FILE: Record<StorageScheme, (to: string) => string> = {
  s3: (to) => `aws s3 cp --only-show-errors "$MODEL_URI" "${to}"`,
  gs: (to) => `gcloud storage cp "$MODEL_URI" "${to}"`,
  // --proto-redir: a redirect may not downgrade the download to plain http.
  https: (to) => `curl -fsSL --retry 5 --retry-connrefused --proto-redir =https -o "${to}" "$MODEL_URI"`,
  pvc: (to) => `cp "$MODEL_SOURCE" "${to}"`,
};

const FETCH_DIR: Record<StorageScheme, string> = {
  s3: 'aws s3 cp --only-show-errors --recursive "$MODEL_URI" "$MODEL_DIR"',
  gs: 'gcloud storage rsync --recursive "$MODEL_URI" "$MODEL_DIR"',
  https: 'echo "modelship: https:// cannot fetch a directory" >&2; exit 1', // rejected before render
  pvc: 'cp -R "$MODEL_SOURCE/." "$MODEL_DIR/"',
};

const ARCHIVE = `${MODEL_ROOT}/.download/artifact.tar.gz`;

export function renderFetch(
  mv: ModelVersion,
  settings: RuntimeSettings,
  source: StorageSource,
  kind: ArtifactKind,
  layout: FetchLayout,
): FetchPart {
  const copies = Object.entries(layout.copies ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const dirs = [...(layout.dirs ?? [])].sort();
  const dir = layout.dir.replace(/\/$/, '');
  const env: V1EnvVar[] = [
    { name: 'MODEL_URI', value: source.uri },
    // aws and gcloud keep credential caches and config under $HOME; the root filesystem is read-only.
    { name: 'HOME', value: '/tmp' },
  ];
  if (source.scheme === 'gs') {
    env.push(
      { name: 'CLOUDSDK_CONFIG', value: '/tmp/gcloud' },
      { name: 'CLOUDSDK_CORE_DISABLE_PROMPTS', value: '1' },
    );
  }
  if (source.scheme === 'pvc') {
    env.push({
      name: 'MODEL_SOURCE',
      value: source.path === '' ? SOURCE_DIR : `${SOURCE_DIR}/${source.path}`,
    });
  }
  if (kind === 'file') env.push({ name: 'MODEL_FILE', value: layout.file });
  if (kind === 'directory') env.push({ name: 'MODEL_DIR', value: dir });
  if (kind === 'archive') env.push({ name: 'MODEL_ARCHIVE', value: ARCHIVE });
  if (mv.spec.digest !== undefined) env.push({ name: 'MODEL_DIGEST', value: mv.spec.digest });

  const mounts: V1VolumeMount[] = [
    { name: VOLUME_MODELS, mountPath: MODEL_ROOT },
    { name: VOLUME_TMP, mountPath: '/tmp' },
  ];
  const configMount: V1VolumeMount = { name: VOLUME_CONFIG, mountPath: CONFIG_DIR, readOnly: true };
  const volumes: V1Volume[] = [];
  if (source.scheme === 'pvc') {
    mounts.push({ name: SOURCE_VOLUME, mountPath: SOURCE_DIR, readOnly: true });
    volumes.push({
      name: SOURCE_VOLUME,
      persistentVolumeClaim: { claimName: source.claim!, readOnly: true },
    });
  }
  const unpack = kind === 'archive';
  const fetch: V1Container = {
    name: FETCH_CONTAINER,
    image: settings.fetchImages?.[source.scheme] ?? DEFAULT_FETCH_IMAGES[source.scheme],
    command: [
      '/bin/sh',
      '-c',
      fetchScript(
        source.scheme,
        kind,
        mv.spec.digest !== undefined,
        unpack ? [] : copies,
        unpack ? [] : dirs,
      ),
    ],
    env,
    workingDir: '/tmp',
    volumeMounts: !unpack && copies.length > 0 ? [...mounts, configMount] : mounts,
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    securityContext: restrictedContainerSecurityContext(),
    terminationMessagePolicy: TERMINATION_MESSAGE_POLICY,
  };
  if (!unpack) return { initContainers: [fetch], volumes };

  const unpackContainer: V1Container = {
    name: UNPACK_CONTAINER,
    image: settings.unpackImage ?? DEFAULT_UNPACK_IMAGE,
    command: ['/bin/sh', '-c', unpackScript(copies, dirs)],
    env: [
      { name: 'MODEL_ARCHIVE', value: ARCHIVE },
      { name: 'MODEL_DIR', value: dir },
    ],
    workingDir: '/tmp',
    volumeMounts: [
      { name: VOLUME_MODELS, mountPath: MODEL_ROOT },
      { name: VOLUME_TMP, mountPath: '/tmp' },
      ...(copies.length > 0 ? [configMount] : []),
    ],
    resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    securityContext: restrictedContainerSecurityContext(),
    terminationMessagePolicy: TERMINATION_MESSAGE_POLICY,
  };
  return { initContainers: [fetch, unpackContainer], volumes };
}

/** The POSIX sh script of fetch-model. Exported for the tests. */
export function fetchScript(
  scheme: StorageScheme,
  kind: ArtifactKind,
  verify: boolean,
  copies: Array<[key: string, to: string]>,
  dirs: string[] = [],
): string {
  const lines = ['set -eu'];
  if (scheme === 'pvc') {
    lines.push(
      '[ -e "$MODEL_SOURCE" ] || { echo "modelship: $MODEL_URI: $MODEL_SOURCE does not exist on the claim" >&2; exit 1; }',
    );
  }
  // Each branch starts clean: after a failed attempt the emptyDir still holds what it left.
  if (kind === 'directory') {
    lines.push(
      'echo "modelship: fetching $MODEL_URI to $MODEL_DIR"',
      'rm -rf "$MODEL_DIR"',
      'mkdir -p "$MODEL_DIR"',
      FETCH_DIR[scheme],
    );
  } else {
    const to = kind === 'file' ? '$MODEL_FILE' : '$MODEL_ARCHIVE';
    lines.push(
      `echo "modelship: fetching $MODEL_URI to ${to}"`,
      `rm -f "${to}"`,
      `mkdir -p "$(dirname "${to}")"`,
      FETCH_FILE[scheme](to),
    );
    if (verify) lines.push(...verifyLines(to));
  }
  lines.push(...copyLines(copies, dirs));
  lines.push(kind === 'archive' ? 'echo "modelship: archive fetched"' : 'echo "modelship: model ready"');
  return lines.join('\n') + '\n';
}

/** The POSIX sh script of unpack-model. Exported for the tests. */
export function unpackScript(copies: Array<[key: string, to: string]>, dirs: string[] = []): string {
  return (
    [
      'set -eu',
      'echo "modelship: extracting $MODEL_ARCHIVE into $MODEL_DIR"',
      'rm -rf "$MODEL_DIR"',
      'mkdir -p "$MODEL_DIR"',
      'tar -xzf "$MODEL_ARCHIVE" -C "$MODEL_DIR"',
      // The archive would double the disk the model takes for the life of the pod.
      'rm -rf "$(dirname "$MODEL_ARCHIVE")"',
      ...copyLines(copies, dirs),
      'echo "modelship: model ready"',
    ].join('\n') + '\n'
  );
}

function copyLines(copies: Array<[key: string, to: string]>, dirs: string[]): string[] {
  return [
    ...dirs.map((d) => `mkdir -p ${shQuote(d)}`),
    ...copies.flatMap(([key, to]) => [
      `mkdir -p ${shQuote(to.slice(0, to.lastIndexOf('/')))}`,
      `cp ${shQuote(`${CONFIG_DIR}/${key}`)} ${shQuote(to)}`,
    ]),
  ];
}

function verifyLines(path: string): string[] {
  return [
    `got="sha256:$(sha256sum "${path}" | cut -d ' ' -f 1)"`,
    'if [ "$got" != "$MODEL_DIGEST" ]; then',
    `  rm -f "${path}"`,
    '  echo "modelship: digest mismatch for $MODEL_URI: spec.digest is $MODEL_DIGEST but the artifact is $got;' +
      ' the artifact changed after the ModelVersion was published (publish it as a new ModelVersion)' +
      ' or spec.digest is wrong" >&2',
    '  exit 1',
    'fi',
    'echo "modelship: digest $got verified"',
  ];
}
