/**
 * hack/node.sh picks the Node the project's scripts run on (docs/decisions/0004-node-24-and-client-node-2.md):
 * the machine's node when it meets package.json's engines, else the pinned Node LTS from the npm
 * registry's node-<os>-<arch> package, fetched once into the cache after an integrity check.
 * These tests run the script with stand-in `node` and `npm` commands on PATH and a temporary cache,
 * so they need no registry; the real fetch runs whenever a machine's node is too old (CI's is 20).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/env.js';

const NODE_SH = join(repoRoot, 'hack', 'node.sh');
const script = readFileSync(NODE_SH, 'utf8');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

const NODE_MIN = /^NODE_MIN="([\d.]+)"$/m.exec(script)?.[1];
const NODE_VERSION = /^NODE_VERSION="\$\{MODELSHIP_NODE_VERSION:-([\d.]+)\}"$/m.exec(script)?.[1];
const ge = (a: string, b: string): boolean => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if ((x![i] ?? 0) !== (y![i] ?? 0)) return (x![i] ?? 0) > (y![i] ?? 0);
  return true;
};

test("hack/node.sh's floor is package.json's engines.node, and its pinned Node meets it", () => {
  expect(pkg.engines.node).toBe(`>=${NODE_MIN!.replace(/\.0$/, '')}`);
  expect(NODE_VERSION).toBeDefined();
  expect(ge(NODE_VERSION!, NODE_MIN!)).toBe(true);
  // The types describe the Node the project runs on.
  expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${NODE_VERSION!.split('.')[0]}\\.`));
});

test('the tests run on a Node that meets the floor', () => {
  expect(ge(process.versions.node, NODE_MIN!)).toBe(true);
});

test("hack/node.sh's cache is hack/cluster/versions.sh's", () => {
  const line = (text: string): string | undefined => /^MODELSHIP_CACHE=.*$/m.exec(text)?.[0];
  expect(line(script)).toBeDefined();
  expect(line(script)).toBe(line(readFileSync(join(repoRoot, 'hack', 'cluster', 'versions.sh'), 'utf8')));
});

describe('which node hack/node.sh picks', () => {
  const os = ({ linux: 'linux', darwin: 'darwin' } as Record<string, string>)[process.platform];
  const arch = ({ x64: 'x64', arm64: 'arm64' } as Record<string, string>)[process.arch];
  let tmp: string;
  let fake: string;
  let cache: string;
  const cachedDir = (): string => join(cache, 'bin', `node-v${NODE_VERSION}-${os}-${arch}`);

  /** A stand-in command: a shell script. */
  const stub = (name: string, body: string): string => {
    const p = join(fake, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const run = (args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    const base = { ...process.env };
    delete base.MODELSHIP_NODE; // set by hack/node.sh for the jest run itself
    const r = spawnSync('bash', [NODE_SH, ...args], {
      encoding: 'utf8',
      env: { ...base, PATH: `${fake}:/usr/bin:/bin`, MODELSHIP_CACHE: cache, ...env },
    });
    return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
  };

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'modelship-node-'));
    fake = join(tmp, 'fakebin');
    cache = join(tmp, 'cache');
    mkdirSync(fake);
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  test("the machine's node when it meets the floor", () => {
    const own = stub('node', `echo ${NODE_MIN}`);
    expect(run()).toEqual({ status: 0, stdout: own, stderr: '' });
  });

  test('the cached pinned node when the machine has an older one, first on PATH for the command it runs', () => {
    if (!os || !arch) return; // no pinned build for this platform: nothing to pick
    stub('node', 'echo 20.20.2');
    mkdirSync(join(cachedDir(), 'bin'), { recursive: true });
    symlinkSync(process.execPath, join(cachedDir(), 'bin', 'node'));
    const cached = join(cachedDir(), 'bin', 'node');
    expect(run()).toEqual({ status: 0, stdout: cached, stderr: '' });
    // Commands run with it first on PATH (so `#!/usr/bin/env node` and process.execPath are it),
    // and nested calls are told which one through MODELSHIP_NODE.
    const probe = run([
      'bash',
      '-c',
      'command -v node; echo "$MODELSHIP_NODE"; node -p process.versions.node',
    ]);
    expect(probe).toEqual({
      status: 0,
      stdout: `${cached}\n${cached}\n${process.versions.node}`,
      stderr: '',
    });
  });

  test('MODELSHIP_NODE wins', () => {
    stub('node', 'echo 20.20.2');
    expect(run([], { MODELSHIP_NODE: process.execPath })).toEqual({
      status: 0,
      stdout: process.execPath,
      stderr: '',
    });
  });

  test('a fetched tarball whose integrity is not the pinned one is refused, and nothing is cached', () => {
    if (!os || !arch) return;
    stub('node', 'echo 20.20.2');
    // A registry that serves another "node": npm pack writes a tarball holding a script.
    mkdirSync(join(tmp, 'pkg', 'package', 'bin'), { recursive: true });
    writeFileSync(join(tmp, 'pkg', 'package', 'bin', 'node'), '#!/bin/sh\necho v' + NODE_VERSION + '\n');
    writeFileSync(join(tmp, 'pkg', 'package', 'LICENSE'), 'none\n');
    const tgz = join(tmp, 'evil.tgz');
    expect(spawnSync('tar', ['-czf', tgz, '-C', join(tmp, 'pkg'), 'package']).status).toBe(0);
    stub('npm', `cp ${tgz} "node-${os}-${arch}-${NODE_VERSION}.tgz"\necho '[{"integrity": "sha512-AAAA"}]'`);
    const r = run();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`node-${os}-${arch}@${NODE_VERSION}: integrity sha512-\\S+, expected the pinned sha512-`),
    );
    expect(existsSync(cachedDir())).toBe(false);
  });

  test('no pinned build for the asked version: a clear error, no fetch', () => {
    stub('node', 'echo 20.20.2');
    stub('npm', 'echo "npm must not be called" >&2; exit 3');
    const r = run([], { MODELSHIP_NODE_VERSION: '24.0.0' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`older than ${NODE_MIN} and no pinned Node 24.0.0 exists .*install Node >= ${NODE_MIN}`),
    );
  });
});
