// The digest of a directory artifact: sha256 over its manifest, one line per regular file,
// `<sha256 hex>  <path relative to the directory>`, sorted by path in byte order (C locale), each
// line ending in a newline. That is what `sha256sum` prints for the files in that order, so the
// fetch step (verify-model, BusyBox's find, sort and sha256sum) and `kubectl modelship digest DIR`
// (Node) compute the same value. Empty directories are not in it; anything but a regular file or a
// directory (a symbolic link, a device) makes a directory unverifiable, and so does a path with a
// newline or a backslash (sha256sum would escape it). Pure.

export interface ManifestEntry {
  /** Relative path, '/'-separated, without a leading './'. */
  path: string;
  /** sha256 of the file's bytes, 64 lowercase hex. */
  sha256: string;
}

/** Why a path cannot be in a manifest, or undefined when it can. */
export function unfitManifestPath(path: string): string | undefined {
  if (/[\n\\]/.test(path)) return 'a newline or a backslash in its name';
  return undefined;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The manifest text for these files, in the order `LC_ALL=C sort` gives their paths. */
export function renderManifest(entries: readonly ManifestEntry[]): string {
  return [...entries]
    .sort((a, b) => Buffer.compare(bytes(a.path), bytes(b.path)))
    .map((e) => `${e.sha256}  ${e.path}\n`)
    .join('');
}
