import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Stops the cluster this run started; MODELSHIP_KEEP_CLUSTER=1 keeps it for a look afterwards. */
export default async function globalTeardown(): Promise<void> {
  if (process.env.MODELSHIP_STARTED_CLUSTER !== '1' || process.env.MODELSHIP_KEEP_CLUSTER === '1') return;
  const downSh = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'hack', 'cluster', 'down.sh');
  execFileSync('bash', [downSh], { stdio: ['ignore', 'ignore', 'inherit'] });
}
