// Where a model artifact lives and what shape it has. Pure string work on spec.storageUri; the
// schema has already checked the scheme (s3, gs, pvc, https) and that there is no whitespace.
import type { ModelVersion } from '../../api/index.js';
import { InvalidModelVersionError, mvKey } from '../types.js';

export type StorageScheme = 's3' | 'gs' | 'https' | 'pvc';

export interface StorageSource {
  scheme: StorageScheme;
  uri: string;
  /** pvc:// only: the PersistentVolumeClaim, and the path inside it ('' for the whole volume). */
  claim?: string;
  path: string;
}

/**
 * How the fetcher treats the artifact: one file (verified, stored under the name the runtime
 * expects), a directory tree (copied as is), or a .tar.gz/.tgz archive (verified, then extracted).
 */
export type ArtifactKind = 'file' | 'directory' | 'archive';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function parseStorageUri(mv: ModelVersion): StorageSource {
  const uri = mv.spec.storageUri;
  const m = /^(s3|gs|https|pvc):\/\/(.*)$/.exec(uri);
  if (!m) {
    throw new InvalidModelVersionError(
      'UnsupportedStorageUri',
      `ModelVersion ${mvKey(mv)}: storageUri ${uri} must start with s3://, gs://, https:// or pvc://`,
    );
  }
  const scheme = m[1] as StorageScheme;
  const rest = m[2] ?? '';
  if (scheme !== 'pvc') return { scheme, uri, path: rest };
  const slash = rest.indexOf('/');
  const claim = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  if (
    claim.length === 0 ||
    claim.length > 253 ||
    !DNS_SUBDOMAIN.test(claim) ||
    path.split('/').includes('..')
  ) {
    throw new InvalidModelVersionError(
      'UnsupportedStorageUri',
      `ModelVersion ${mvKey(mv)}: storageUri ${uri} must be pvc://<claim-name>/<path>, with a valid ` +
        `PersistentVolumeClaim name and no '..' in the path`,
    );
  }
  return { scheme, uri, claim, path };
}

/**
 * The artifact's shape from its URI. `directoryFormats` are formats that are always a directory for
 * the runtime (a TensorFlow SavedModel, an OpenVINO model.xml + model.bin), even without a trailing '/'.
 */
export function artifactKind(
  source: StorageSource,
  format: string,
  directoryFormats: ReadonlySet<string> = new Set(),
): ArtifactKind {
  if (/\.(tar\.gz|tgz)$/.test(source.path)) return 'archive';
  if (source.path === '' || source.path.endsWith('/') || directoryFormats.has(format)) return 'directory';
  return 'file';
}

/** Rejects what the fetcher cannot do, with what to change, before any pod is created. */
export function checkFetchable(mv: ModelVersion, source: StorageSource, kind: ArtifactKind): void {
  if (kind === 'directory' && source.scheme === 'https') {
    throw new InvalidModelVersionError(
      'UnsupportedStorageUri',
      `ModelVersion ${mvKey(mv)}: https:// fetches one file, but ${source.uri} is a directory; ` +
        'publish it as a .tar.gz',
    );
  }
}
