import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Stops the cluster (and data plane) this run started; MODELSHIP_KEEP_CLUSTER=1 keeps them for a look afterwards. */
export default async function globalTeardown(): Promise<void> {
  if (process.env.MODELSHIP_KEEP_CLUSTER === '1') return;
  const hack = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'hack');
  // The cluster's down.sh stops its data plane too; a data plane this run started beside a cluster
  // it found running is stopped on its own.
  if (process.env.MODELSHIP_STARTED_CLUSTER === '1') {
    execFileSync('bash', [join(hack, 'cluster', 'down.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  } else if (process.env.MODELSHIP_STARTED_DATAPLANE === '1') {
    execFileSync('bash', [join(hack, 'dataplane', 'down.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}
