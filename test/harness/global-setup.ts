import { execFileSync } from 'node:child_process';
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
  // End-to-end tests run the operator as the image would: the compiled dist/main.js.
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
}
