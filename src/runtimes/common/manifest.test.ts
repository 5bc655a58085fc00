// The directory digest scheme, end to end on a real directory: `kubectl modelship digest`'s
// computation (Node) and verify-model's script (run here by /bin/sh with the machine's find, sort
// and sha256sum) agree, and a changed, added or removed file fails the check.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryDigest } from '../../plugin/commands/digest.js';
import { PluginError } from '../../plugin/errors.js';
import { verifyDirScript } from './fetch.js';
import { renderManifest } from './manifest.js';

let dir: string;
let model: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelship-manifest-'));
  model = join(dir, 'model');
  mkdirSync(join(model, 'variables'), { recursive: true });
  mkdirSync(join(model, 'assets', 'empty'), { recursive: true });
  writeFileSync(join(model, 'saved_model.pb'), 'graph');
  writeFileSync(join(model, 'variables', 'variables.index'), 'index');
  writeFileSync(join(model, 'variables', 'variables.data-00000-of-00001'), Buffer.alloc(70_000, 7));
  writeFileSync(join(model, 'a b.txt'), 'spaces');
  writeFileSync(join(model, 'Z-upper'), 'sorted before lowercase in byte order');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs verify-model's script as the container would. */
function verify(digest: string): { code: number; stderr: string; stdout: string } {
  const r = spawnSync('/bin/sh', ['-c', verifyDirScript([])], {
    env: { PATH: process.env.PATH, MODEL_DIR: model, MODEL_DIGEST: digest, MODEL_URI: 's3://m/model/' },
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, stderr: r.stderr, stdout: r.stdout };
}

test('the manifest is sha256sum lines in byte order of the paths', () => {
  expect(
    renderManifest([
      { path: 'b', sha256: '2'.repeat(64) },
      { path: 'a/b', sha256: '1'.repeat(64) },
      { path: 'a-b', sha256: '3'.repeat(64) },
      { path: 'Z', sha256: '4'.repeat(64) },
    ]),
  ).toBe(`${'4'.repeat(64)}  Z\n${'3'.repeat(64)}  a-b\n${'1'.repeat(64)}  a/b\n${'2'.repeat(64)}  b\n`);
});

test('the digest is sha256 over what sha256sum prints for the files in C-locale order', async () => {
  const { digest, manifest, files } = await directoryDigest(model);
  expect(files).toBe(5);
  const shell = execFileSync(
    '/bin/sh',
    [
      '-c',
      'cd "$1" && find . -type f | sed \'s|^\\./||\' | LC_ALL=C sort | while IFS= read -r f; do sha256sum "$f"; done',
      'sh',
      model,
    ],
    { encoding: 'utf8' },
  );
  expect(manifest).toBe(shell);
  expect(verify(digest)).toMatchObject({
    code: 0,
    stdout: expect.stringContaining(`digest ${digest} verified`),
  });
});

test.each([
  ['a changed byte', () => appendFileSync(join(model, 'variables', 'variables.index'), 'x')],
  ['an added file', () => writeFileSync(join(model, 'variables', 'extra'), '')],
  ['a removed file', () => unlinkSync(join(model, 'a b.txt'))],
  [
    'a renamed file',
    () => execFileSync('mv', [join(model, 'saved_model.pb'), join(model, 'saved_model.pbx')]),
  ],
])('%s after the digest was taken fails the fetch, and removes what was fetched', async (_what, tamper) => {
  const { digest } = await directoryDigest(model);
  tamper();
  const r = verify(digest);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(
    `modelship: digest mismatch for s3://m/model/: spec.digest is ${digest} but the directory is sha256:`,
  );
  expect(() => execFileSync('ls', [model])).toThrow();
});

test('a symbolic link makes a directory unverifiable, in both places', async () => {
  const { digest } = await directoryDigest(model);
  symlinkSync('/etc/passwd', join(model, 'variables', 'link'));
  await expect(directoryDigest(model)).rejects.toThrow(PluginError);
  await expect(directoryDigest(model)).rejects.toThrow(/neither a file nor a directory/);
  const r = verify(digest);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('./variables/link is neither a file nor a directory');
});

test('digest of a file, or of nothing, is a clear error', async () => {
  await expect(directoryDigest(join(model, 'saved_model.pb'))).rejects.toThrow(/is not a directory/);
  await expect(directoryDigest(join(dir, 'missing'))).rejects.toThrow(/cannot read/);
});
