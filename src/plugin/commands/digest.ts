// `kubectl modelship digest DIR`: the digest of a directory artifact, for spec.digest. The scheme
// (a sha256 over the sorted manifest of its files) is in src/runtimes/common/manifest.ts; the fetch
// step's verify-model computes the same over what it downloaded.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { renderManifest, unfitManifestPath, type ManifestEntry } from '../../runtimes/common/manifest.js';
import type { Invocation } from '../args.js';
import { PluginError } from '../errors.js';
import type { Io } from './context.js';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The manifest of `dir` and its digest; a PluginError for what cannot be verified. */
export async function directoryDigest(
  dir: string,
): Promise<{ digest: string; manifest: string; files: number }> {
  const top = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new PluginError(`cannot read ${dir}: ${err.code ?? err.message}`);
  });
  if (!top.isDirectory())
    throw new PluginError(
      `${dir} is not a directory; the digest of one file is sha256sum's: sha256:$(sha256sum FILE)`,
    );
  const entries: ManifestEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const d of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) await walk(path);
      else if (d.isFile()) {
        const unfit = unfitManifestPath(path);
        if (unfit) throw new PluginError(`${join(dir, path)} cannot be verified: ${unfit}; rename it`);
        entries.push({ path, sha256: await sha256File(join(dir, path)) });
      } else {
        throw new PluginError(
          `${join(dir, path)} is neither a file nor a directory (a symbolic link?); a directory with a digest may hold only files`,
        );
      }
    }
  };
  await walk('');
  const manifest = renderManifest(entries);
  return {
    digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}`,
    manifest,
    files: entries.length,
  };
}

export async function runDigest(inv: Invocation, io: Io): Promise<number> {
  const dir = inv.args[0]!;
  const { digest, files } = await directoryDigest(dir);
  io.out(`${digest}\n`);
  io.err(`${files} file(s) under ${dir}; upload the directory as it is, and give this as spec.digest\n`);
  return 0;
}
