// A real MLflow tracking server and model registry for a test file: PyPI's mlflow from the venv of
// hack/tools/mlflow.sh (installed on first use), `mlflow server` on a free loopback port with a
// sqlite backend and a local artifacts destination, stopped (its process group) by stop().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './env.js';
import { run } from './process.js';

export interface MlflowServer {
  url: string;
  /** Where the server stores artifacts (its --artifacts-destination, file://). */
  artifactsDir: string;
  /** The venv's python, to run registration scripts. */
  python: string;
  /** Registers model versions (test/fixtures/mlflow/register.py NAME:KIND[:SEMVER] ...). */
  register(...models: string[]): Promise<Array<{ name: string; version: string; run_id: string }>>;
  stop(): Promise<void>;
  /** The server's log, for a failure message. */
  log(): string;
}

// No calls home from the server or the client (there is no internet here, and a test must not
// wait on one).
const QUIET = { MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startMlflow(): Promise<MlflowServer> {
  const venv = execFileSync('bash', [join(repoRoot, 'hack', 'tools', 'mlflow.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'modelship-mlflow-'));
  const artifactsDir = join(dir, 'artifacts');
  const logFile = join(dir, 'server.log');
  const log = openSync(logFile, 'a');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Its own process group: mlflow server runs uvicorn as a child, and stop() ends both.
  const child: ChildProcess = spawn(
    join(venv, 'bin', 'mlflow'),
    [
      'server',
      '--backend-store-uri',
      `sqlite:///${join(dir, 'mlflow.db')}`,
      '--artifacts-destination',
      `file://${artifactsDir}`,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
    ],
    { detached: true, stdio: ['ignore', log, log], env: { ...process.env, ...QUIET } },
  );
  let exited: number | null | undefined;
  const gone = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      resolve();
    }),
  );
  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const signal = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // Already gone.
    }
  };
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      signal('SIGTERM');
      // Bounded: a server that ignores SIGTERM is killed.
      const timer = setTimeout(() => signal('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Bounded wait for the server to answer: a slow, loaded machine takes minutes to import mlflow.
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (exited !== undefined) {
      const text = readLog();
      await stop();
      throw new Error(`mlflow server exited (${exited}):\n${text.slice(-3000)}`);
    }
    try {
      if ((await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      const text = readLog();
      await stop();
      throw new Error(`mlflow server did not answer /health within 10 minutes:\n${text.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const python = join(venv, 'bin', 'python');
  return {
    url,
    artifactsDir,
    python,
    stop,
    log: readLog,
    async register(...models) {
      const script = join(repoRoot, 'test', 'fixtures', 'mlflow', 'register.py');
      const r = await run(python, [script, url, ...models], { env: { ...process.env, ...QUIET } });
      if (r.code !== 0) throw new Error(`register.py ${models.join(' ')} failed (${r.code}):\n${r.stderr}`);
      return r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { name: string; version: string; run_id: string });
    },
  };
}
