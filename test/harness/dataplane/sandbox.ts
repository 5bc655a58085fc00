// The filesystem a container sees, built without an image or a container engine: a script run as
// root in the pod's network namespace and a private mount (and UTS) namespace, which
//   1. makes an empty tmpfs the container's root and puts every top-level entry of the host's root
//      in it (bind mounts; symlinks as symlinks), except /proc, /sys and /dev;
//   2. where a container path must be created below a host directory (/mnt/models, /opt/tritonserver),
//      mounts an overlay of that host directory instead of binding it, so the new mount points go to
//      a scratch directory of the pod and the host's own directories are never written;
//   3. gives the container its own /dev (a tmpfs with null, zero, full, random, urandom, tty, shm
//      and the termination-log file) as container runtimes do;
//   4. binds the pod's volumes and the image's paths (images.ts) at their container paths
//      (read-only where the spec or the image says so), then, for readOnlyRootFilesystem, remounts
//      everything but the volumes read-only;
//   5. chroots into that root and drops to the container's user (setpriv: uid, gid, supplementary
//      groups, no capabilities, no_new_privs), with exactly the container's environment and
//      working directory, and execs its argv.
// Every mount lives in the private namespace and goes away with the container's last process. Pure:
// the caller says what the host's root holds (`host`).
import { shQuote } from '../../../src/runtimes/common/security.js';

export interface SandboxMount {
  /** Absolute container path. */
  path: string;
  /** Host path: a directory or a file (`kind`). */
  source: string;
  kind: 'dir' | 'file';
  readOnly: boolean;
}

export interface HostRoot {
  /** The entries of the host's `/`: name -> type (a symlink keeps its target). */
  entries: ReadonlyMap<string, { type: 'dir' | 'file' | 'symlink'; target?: string }>;
  /** What is at an absolute host path, if anything. */
  stat: (path: string) => 'dir' | 'file' | undefined;
}

export interface SandboxSpec {
  /** An empty host directory the root tmpfs is mounted on (inside the namespace only). */
  root: string;
  /** A host directory for the overlays' upper and work directories. */
  scratch: string;
  hostname: string;
  mounts: SandboxMount[];
  /** /dev/shm from a volume (a pod's memory emptyDir), else a fresh 64 MiB tmpfs. */
  readOnlyRootFilesystem: boolean;
  /** undefined: run as root with the default privileges. */
  user?: { uid: number; gid: number; groups: number[] };
  workingDir: string;
  env: Array<[string, string]>;
  argv: string[];
  /** Where the script writes why the process could not be started (the runtime's StartError). */
  startErrorFile: string;
}

/** Container paths the sandbox itself provides. */
const SPECIAL_TOP = new Set(['proc', 'sys', 'dev']);
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

export class SandboxError extends Error {
  override readonly name = 'SandboxError';
}

/** The shell script (POSIX sh, run as root) that builds the container's view and execs it. */
export function sandboxScript(spec: SandboxSpec, host: HostRoot): string {
  const R = spec.root;
  const q = shQuote;
  const lines = ['set -eu', `R=${q(R)}`, 'mount -t tmpfs -o mode=755 rootfs "$R"'];

  for (const m of spec.mounts) {
    if (!m.path.startsWith('/') || m.path.split('/').includes('..')) {
      throw new SandboxError(`mount path ${m.path} is not an absolute path without '..'`);
    }
  }
  // Which top-level host directories need an overlay: a container path below them that the host
  // does not have (a mount point to create), or the working directory.
  const overlay = new Set<string>();
  const volumePaths = spec.mounts.map((m) => m.path);
  for (const p of [...volumePaths, spec.workingDir]) {
    const parts = p.split('/').filter(Boolean);
    const top = parts[0];
    if (top === undefined || SPECIAL_TOP.has(top)) continue;
    const entry = host.entries.get(top);
    if (!entry) continue; // created in the container's own root
    if (entry.type === 'symlink' && parts.length > 1) {
      throw new SandboxError(
        `container path ${p} is below /${top}, a symlink on this host (to ${entry.target}); use the real path`,
      );
    }
    if (parts.length > 1 && entry.type === 'dir' && host.stat(p) === undefined) {
      const underVolume = volumePaths.some((v) => v !== p && p.startsWith(v + '/'));
      if (!underVolume) overlay.add(top);
    }
  }

  const tops = [...host.entries.entries()].sort(([a], [b]) => a.localeCompare(b));
  const roTops: string[] = [];
  for (const [name, e] of tops) {
    if (SPECIAL_TOP.has(name)) continue;
    const to = `"$R"/${q(name)}`;
    const from = q(`/${name}`);
    if (e.type === 'symlink') {
      lines.push(`ln -s ${q(e.target ?? '')} ${to}`);
    } else if (e.type === 'file') {
      lines.push(`touch ${to}`, `mount --bind ${from} ${to}`);
      roTops.push(name);
    } else if (overlay.has(name)) {
      const upper = q(`${spec.scratch}/overlay/${name}/upper`);
      const work = q(`${spec.scratch}/overlay/${name}/work`);
      lines.push(
        `mkdir -p ${upper} ${work} ${to}`,
        `mount -t overlay overlay -o lowerdir=${from},upperdir=${upper},workdir=${work} ${to}`,
      );
      roTops.push(name);
    } else {
      lines.push(`mkdir ${to}`, `mount --rbind ${from} ${to}`);
      roTops.push(name);
    }
  }
  lines.push(
    'mkdir "$R/proc" "$R/sys" "$R/dev"',
    'mount --rbind /proc "$R/proc"',
    'mount --rbind /sys "$R/sys"',
    'mount -t tmpfs -o mode=755,nosuid dev "$R/dev"',
    ...DEVICES.map((d) => `touch "$R/dev/${d}" && mount --bind /dev/${d} "$R/dev/${d}"`),
    'ln -s /proc/self/fd "$R/dev/fd"',
    'ln -s /proc/self/fd/0 "$R/dev/stdin"',
    'ln -s /proc/self/fd/1 "$R/dev/stdout"',
    'ln -s /proc/self/fd/2 "$R/dev/stderr"',
    'mkdir "$R/dev/shm"',
  );
  if (!spec.mounts.some((m) => m.path === '/dev/shm')) {
    lines.push('mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m shm "$R/dev/shm"');
  }

  // Parents before children: a volume at /mnt/processing before one at /mnt/processing/pre. Every
  // mount point is made first, then the host's directories turn read-only (so that a remount never
  // reaches a volume mounted over them), then the volumes and image paths are bound.
  const mounts = [...spec.mounts].sort(
    (a, b) => depth(a.path) - depth(b.path) || a.path.localeCompare(b.path),
  );
  for (const m of mounts) {
    const to = `"$R"${q(m.path)}`;
    const parent = `"$R"${q(m.path.slice(0, m.path.lastIndexOf('/')) || '/')}`;
    lines.push(
      m.kind === 'dir'
        ? `[ -d ${to} ] || mkdir -p ${to}`
        : `[ -e ${to} ] || { mkdir -p ${parent} && touch ${to}; }`,
    );
  }
  const wd = `"$R"${q(spec.workingDir)}`;
  lines.push(`[ -d ${wd} ] || mkdir -p ${wd}`);
  if (spec.readOnlyRootFilesystem) {
    lines.push(...roTops.map((name) => `mount -o remount,bind,ro "$R"/${q(name)}`));
  }
  for (const m of mounts) {
    const to = `"$R"${q(m.path)}`;
    // A mount point inside a volume mounted just before is made in that volume, as runtimes do
    // (and fails, as there, when that volume is read-only).
    if (mounts.some((o) => o !== m && m.path.startsWith(o.path + '/'))) {
      lines.push(m.kind === 'dir' ? `[ -d ${to} ] || mkdir -p ${to}` : `[ -e ${to} ] || touch ${to}`);
    }
    lines.push(`mount --bind ${q(m.source)} ${to}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${to}`);
  }
  lines.push(`hostname ${q(spec.hostname)}`);
  if (spec.readOnlyRootFilesystem) lines.push('mount -o remount,bind,ro "$R"');

  const path =
    spec.env.find(([k]) => k === 'PATH')?.[1] ??
    '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const argv0 = spec.argv[0];
  if (argv0 === undefined)
    throw new SandboxError('the container has no command: neither the image nor the spec gives one');
  // The runtime's StartError: the process cannot be started at all (exit 128, reason StartError).
  lines.push(
    `if ! chroot "$R" /usr/bin/env -i PATH=${q(path)} /bin/sh -c 'command -v "$1"' sh ${q(argv0)} >/dev/null 2>&1; then`,
    `  printf '%s\\n' ${q(`exec: "${argv0}": executable file not found in $PATH`)} > ${q(spec.startErrorFile)}`,
    '  exit 128',
    'fi',
  );
  const drop = spec.user
    ? [
        '/usr/bin/setpriv',
        `--reuid=${spec.user.uid}`,
        `--regid=${spec.user.gid}`,
        spec.user.groups.length > 0 ? `--groups=${spec.user.groups.join(',')}` : '--clear-groups',
        '--no-new-privs',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--',
      ]
    : [];
  const exec = [
    'exec',
    'chroot',
    '"$R"',
    ...drop.map(q),
    '/usr/bin/env',
    '-i',
    '-C',
    q(spec.workingDir),
    ...spec.env.map(([k, v]) => q(`${k}=${v}`)),
    ...spec.argv.map(q),
  ];
  lines.push(exec.join(' '));
  return lines.join('\n') + '\n';
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}
