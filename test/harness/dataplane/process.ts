// A container's process: the sandbox script (sandbox.ts) run in the pod's network namespace and a
// private mount and UTS namespace, in a process group of its own so that a stop reaches every
// process it started (Triton's Python backend stubs). Its output goes to the container's log file.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ContainerProcess {
  pid: number;
  /** Resolves once the process has exited and its output is flushed. */
  exited: Promise<Exit>;
  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs: number): Promise<Exit>;
  /** The last bytes of the output (both streams), for the termination message. */
  tail(): string;
}

const TAIL_BYTES = 16 * 1024;

const signalGroup = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(-pid, sig);
  } catch {
    // the group is gone
  }
};

export function startContainerProcess(netns: string, script: string, logFile: string): ContainerProcess {
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netns}`,
      '--',
      'unshare',
      '--mount',
      '--uts',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      script,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let tail = '';
  const keep = (d: Buffer): void => {
    log.write(d);
    tail = (tail + d.toString('utf8')).slice(-TAIL_BYTES);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<Exit>((resolve) => {
    let result: Exit | undefined;
    let done = false;
    const finish = (): void => {
      if (!result || done) return;
      done = true;
      log.end(() => resolve(result!));
    };
    child.on('error', (e) => {
      keep(Buffer.from(`${e.message}\n`));
      result = { code: 128, signal: null };
      finish();
    });
    child.on('exit', (code, signal) => {
      result = { code, signal };
      // What the main process left behind dies with it, as in a container's PID namespace.
      if (child.pid) signalGroup(child.pid, 'SIGKILL');
      // The output is complete once every holder of the pipes is gone; one that left the process
      // group could hold them open, so do not wait for that longer than a moment.
      setTimeout(finish, 2000).unref();
    });
    child.on('close', finish);
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    exited,
    tail: () => tail,
    stop: async (graceMs) => {
      if (pid <= 0) return exited;
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), Math.max(0, graceMs));
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}
