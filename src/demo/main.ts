// `npm run demo`: the local control plane (built the first time), the CRDs, the operator, and a
// model shipped three times: 1.0.0 deployed, a canary to 1.1.0 step by step, and 1.2.0 crash-looping
// and reverted automatically. Progress is printed as it happens; --keep leaves the cluster up.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import {
  API_KINDS,
  API_VERSION,
  MODEL_DEPLOYMENT_KIND,
  type ModelDeployment,
  type ModelDeploymentStatus,
} from '../api/index.js';
import { KubeClient } from '../k8s/client.js';
import { createLogger } from '../log.js';
import { Operator } from '../operator.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scripts = join(root, 'hack', 'cluster');
const NS = 'modelship-demo';
const tty = process.stdout.isTTY;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const red = (s: string) => (tty ? `\x1b[31m${s}\x1b[0m` : s);
const green = (s: string) => (tty ? `\x1b[32m${s}\x1b[0m` : s);

function sh(script: string, ...args: string[]): string {
  return execFileSync('bash', [join(scripts, script), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function clusterEnv(): Record<string, string> {
  return Object.fromEntries(
    sh('env.sh')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const modelVersion = (version: string, top1: number, changelog: string) => ({
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelVersion',
  metadata: { name: `resnet50-${version}` },
  spec: {
    model: 'resnet50',
    version,
    runtime: 'triton',
    format: 'onnx',
    storageUri: `s3://models/resnet50/${version}/model.onnx`,
    interface: {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 224, 224] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1000] }],
    },
    runtimeConfig: { triton: { maxBatchSize: 8, instanceCount: 1 } },
    record: { owner: 'vision-team', metrics: { top1 }, changelog },
  },
});

function deployment(version: string, fault?: string): object {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'resnet50' },
    spec: {
      model: 'resnet50',
      version,
      replicas: 4,
      // Test-only: the local cluster's fake kubelets (kwok) make pods with this annotation crash.
      ...(fault ? { pod: { annotations: { 'fault.modelship.test/mode': fault } } } : {}),
      strategy: {
        type: 'Canary',
        canary: {
          steps: [
            { setWeight: 25 },
            { pause: { duration: '4s' } },
            { setWeight: 50 },
            { pause: { duration: '4s' } },
          ],
          scaleDownDelaySeconds: 5,
        },
        progressDeadlineSeconds: 60,
      },
      traffic: {
        router: 'gatewayApi',
        gatewayApi: { parentRefs: [{ name: 'inference-gateway' }], hostnames: ['resnet50.example.com'] },
      },
    },
  };
}

async function main(): Promise<number> {
  const keep = process.argv.includes('--keep');
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  const say = (s: string) => process.stdout.write(`\n${bold(`== ${s}`)}\n`);

  say('Starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)');
  const env = clusterEnv();
  const kubectl = (...args: string[]) =>
    spawnSync(env.MODELSHIP_KUBECTL!, ['--kubeconfig', env.MODELSHIP_KUBECONFIG!, ...args], {
      encoding: 'utf8',
    });
  // A cluster that was already up (tests, a previous --keep) is left up afterwards.
  const wasRunning = kubectl('get', '--raw', '/readyz').status === 0;
  sh('up.sh');
  sh('install-crds.sh', '--routers');

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.MODELSHIP_KUBECONFIG!);
  // The demo is a user: its own field manager, never the operator's.
  const client = new KubeClient(kc, { fieldManager: 'modelship-demo', kinds: API_KINDS });
  kubectl('delete', 'namespace', NS, '--wait=true', '--timeout=60s');
  kubectl('create', 'namespace', NS);

  const logDir = join(env.MODELSHIP_RUN_DIR!, 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = createLogger('info', 'json');
  log.clear();
  const { default: winston } = await import('winston');
  log.add(new winston.transports.File({ filename: join(logDir, 'demo-operator.log') }));
  const operator = new Operator({ kc, log, namespaces: [NS], unreadyGraceMs: 3000 });
  say('Starting the modelship operator (its decision log: ' + join(logDir, 'demo-operator.log') + ')');
  await operator.start();

  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    await operator.stop();
    if (!keep && !wasRunning) sh('down.sh');
  };
  process.on('SIGINT', () => {
    process.stdout.write('\ninterrupted; cleaning up\n');
    void cleanup().then(() => process.exit(130));
  });

  const apply = async (obj: object) => {
    const o = obj as k8s.KubernetesObject;
    o.metadata = { ...o.metadata, namespace: NS };
    await client.apply(o);
  };
  const status = async (): Promise<ModelDeploymentStatus | undefined> =>
    (await client.get<ModelDeployment>(API_VERSION, MODEL_DEPLOYMENT_KIND, NS, 'resnet50'))?.status;
  let last = '';
  const watchUntil = async (done: (s: ModelDeploymentStatus) => boolean, limitMs = 120_000) => {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const s = await status();
      if (s) {
        const traffic = (s.traffic ?? [])
          .filter((t) => t.weight > 0 || s.canaryRevision === t.revision)
          .map((t) => `${t.version}=${t.weight}%`)
          .join('  ');
        const step = s.canaryVersion
          ? `  canary ${s.canaryVersion} step ${(s.currentStepIndex ?? 0) + 1}`
          : '';
        const line = `${(s.phase ?? '').padEnd(11)} stable ${s.stableVersion ?? '-'}${step}   traffic ${traffic}`;
        if (line !== last) {
          const colored = s.phase === 'RolledBack' ? red(line) : s.phase === 'Healthy' ? green(line) : line;
          process.stdout.write(`  ${elapsed()}  ${colored}\n`);
          last = line;
        }
        if (done(s)) return s;
      }
      if (Date.now() > deadline)
        throw new Error('the demo did not reach the expected state in time; see the operator log');
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  try {
    say('Releasing three versions of resnet50 (ModelVersions are immutable records)');
    await apply(modelVersion('1.0.0', 0.761, 'Baseline.'));
    await apply(modelVersion('1.1.0', 0.771, 'Fine-tuned on more data.'));
    await apply(modelVersion('1.2.0', 0.779, 'New preprocessing (broken build).'));

    say('1. Deploy 1.0.0: the first version goes straight to 100%');
    await apply(deployment('1.0.0'));
    await watchUntil((s) => s.phase === 'Healthy' && s.stableVersion === '1.0.0');

    say('2. Canary to 1.1.0: 25%, pause, 50%, pause, then all traffic');
    await apply(deployment('1.1.0'));
    await watchUntil((s) => s.phase === 'Healthy' && s.stableVersion === '1.1.0');

    say('3. Ship 1.2.0, whose pods crash: modelship reverts to 1.1.0 by itself');
    await apply(deployment('1.2.0', 'crashloop'));
    const s = await watchUntil((x) => x.phase === 'RolledBack');
    const rb = s.lastRollback!;
    process.stdout.write(
      `\n  ${red('reverted')} ${rb.from?.version} -> ${rb.to?.version}: ${rb.reason}\n  ${rb.message}\n`,
    );

    say('kubectl get modeldeployments,modelversions -n ' + NS);
    process.stdout.write(kubectl('get', 'md,mv', '-n', NS).stdout);
    say('History (status.history)');
    for (const h of s.history ?? []) {
      process.stdout.write(
        `  ${h.version.padEnd(8)} ${h.result.padEnd(11)} ${(h.reason ?? '').padEnd(24)} ${h.finishedAt ?? ''}\n`,
      );
    }
    say('Events of the ModelDeployment');
    process.stdout.write(
      kubectl(
        'get',
        'events',
        '-n',
        NS,
        '--field-selector',
        'involvedObject.kind=ModelDeployment',
        '--sort-by=.lastTimestamp',
      ).stdout,
    );
    say('The HTTPRoute modelship wrote (weights per revision Service)');
    process.stdout.write(
      kubectl(
        'get',
        'httproute',
        'resnet50',
        '-n',
        NS,
        '-o',
        'jsonpath={range .spec.rules[-1:].backendRefs[*]}{.name}{"\\t"}{.weight}{"\\n"}{end}',
      ).stdout,
    );
  } finally {
    await cleanup();
  }
  if (keep) {
    say('The cluster stays up. Try:');
    process.stdout.write(
      [
        `  export KUBECONFIG=${env.MODELSHIP_KUBECONFIG}`,
        `  alias kubectl=${env.MODELSHIP_KUBECTL}`,
        `  kubectl get md,mv -n ${NS}`,
        `  kubectl describe md resnet50 -n ${NS}`,
        `  node dist/main.js --log-format text --namespaces ${NS}     # run the operator again`,
        '  npm run cluster:down                                          # when done',
        '',
      ].join('\n'),
    );
  }
  process.stdout.write(`\n${green('done')} in ${elapsed().trim()}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
