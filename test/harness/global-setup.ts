import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// jest loads global setup outside its module registry, so this file imports nothing relative:
// it asks the cluster scripts (the one source of versions and paths) for everything it needs.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scripts = join(root, 'hack', 'cluster');
const sh = (script: string, ...args: string[]): string =>
  execFileSync('bash', [join(scripts, script), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });

/**
 * Starts the local control plane once for the integration run (building it on first use) and
 * installs the modelship CRDs and the router CRDs. A cluster that was already running is reused
 * and left running; one this run started is stopped by global-teardown.
 */
export default async function globalSetup(): Promise<void> {
  for (const line of sh('env.sh').trim().split('\n')) {
    const i = line.indexOf('=');
    process.env[line.slice(0, i)] = line.slice(i + 1);
  }
  process.stderr.write('\n');
  let wasRunning = true;
  try {
    execFileSync(
      process.env.MODELSHIP_KUBECTL!,
      ['--kubeconfig', process.env.MODELSHIP_KUBECONFIG!, 'get', '--raw', '/readyz'],
      {
        stdio: 'ignore',
      },
    );
  } catch {
    wasRunning = false;
  }
  sh('up.sh');
  process.env.MODELSHIP_STARTED_CLUSTER = wasRunning ? '' : '1';
  process.env.KUBECONFIG = process.env.MODELSHIP_KUBECONFIG;
  sh('install-crds.sh', '--routers');
  startDataPlane();
  if (process.env.MODELSHIP_DATAPLANE_STATE === 'running') startPrometheus();
  // End-to-end tests run the operator as the image would: the compiled dist/main.js.
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
}

/**
 * The real data plane (hack/dataplane/, docs/data-plane.md): a node whose pods run as real
 * processes. Started once per run where the machine can run it; MODELSHIP_DATAPLANE_STATE tells the
 * tests `running`, why the machine cannot (they skip, naming it; in CI they fail), or `failed: ...`.
 */
function startDataPlane(): void {
  // MODELSHIP_DATAPLANE=0: a run that needs no real pods (kwok's are enough) leaves it off.
  if (process.env.MODELSHIP_DATAPLANE === '0') {
    process.env.MODELSHIP_DATAPLANE_STATE = 'turned off for this run (MODELSHIP_DATAPLANE=0)';
    process.stderr.write(`[dataplane] ${process.env.MODELSHIP_DATAPLANE_STATE}\n`);
    return;
  }
  const up = join(root, 'hack', 'dataplane', 'up.sh');
  try {
    execFileSync('bash', [up, '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (e) {
    const why = String((e as { stdout?: string }).stdout ?? '').trim() || String(e);
    process.env.MODELSHIP_DATAPLANE_STATE = `this machine cannot run the real data plane: ${why}`;
    process.stderr.write(`[dataplane] ${process.env.MODELSHIP_DATAPLANE_STATE}\n`);
    return;
  }
  let wasRunning: boolean;
  try {
    const pid = Number(
      readFileSync(join(process.env.MODELSHIP_RUN_DIR!, 'dataplane', 'pids', 'agent.pid'), 'utf8'),
    );
    process.kill(pid, 0);
    wasRunning = true;
  } catch {
    wasRunning = false;
  }
  try {
    execFileSync('bash', [up], { stdio: ['ignore', 'ignore', 'inherit'] });
    process.env.MODELSHIP_DATAPLANE_STATE = 'running';
    process.env.MODELSHIP_STARTED_DATAPLANE = wasRunning ? '' : '1';
  } catch {
    process.env.MODELSHIP_DATAPLANE_STATE = 'failed: hack/dataplane/up.sh failed (its output is above)';
  }
}

/**
 * A real Prometheus scraping the data plane's model servers (hack/cluster/prometheus.sh), for the
 * metric analysis tests; stopped with the cluster. MODELSHIP_PROMETHEUS_URL tells the tests where it
 * is, or MODELSHIP_PROMETHEUS_STATE why there is none.
 */
function startPrometheus(): void {
  try {
    for (const line of sh('prometheus.sh').trim().split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) process.env[line.slice(0, i)] = line.slice(i + 1);
    }
  } catch {
    process.env.MODELSHIP_PROMETHEUS_STATE =
      'failed: hack/cluster/prometheus.sh failed (its output is above)';
  }
}
