// `npm run demo`: the local control plane (built the first time), the CRDs, the operator, and a
// model shipped three times: 1.0.0 deployed, a canary to 1.1.0 step by step, and 1.2.0 failing and
// reverted automatically. Progress is printed as it happens; --keep leaves the cluster up.
//
// Where this machine can run the real data plane (docs/data-plane.md: root, Linux x86-64), the pods
// are real Triton servers serving a small Python-backend model, behind the local Gateway (Traefik):
// clients send inference requests through the Gateway the whole time, and the demo prints the live
// share of replies per version and, at the end of each step, how many were served and how many
// failed. 1.2.0's model fails to load. Elsewhere (or with --simulated) the pods are kwok's fakes and
// 1.2.0 is made to crash-loop. The demo is not part of the operator's build (tsconfig.demo.json): it
// reuses the test harness's data plane, models and load generator.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
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
import { readConfig, type DataPlaneConfig } from '../../test/harness/dataplane/config.js';
import {
  addModel,
  failingModel,
  onDataPlane,
  publish,
  pythonModelVersion,
} from '../../test/harness/dataplane.js';
import { LoadGenerator, ok, servedOnlyBy, type Reply, type Target } from '../../test/harness/serving.js';

// dist-demo/src/demo/main.js -> the repository.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
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

/** KEY=VALUE lines printed by a hack/ script. */
const keyValues = (out: string): Record<string, string> =>
  Object.fromEntries(
    out
      .trim()
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

/** The process whose pid the file holds is running. */
function alive(pidFile: string): boolean {
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 0);
    return true;
  } catch {
    return false;
  }
}

/** Why the real data plane cannot run here (hack/dataplane/up.sh --check), or undefined. */
function dataPlaneMissing(): string | undefined {
  const r = spawnSync('bash', [join(root, 'hack', 'dataplane', 'up.sh'), '--check'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : r.stdout.trim() || r.stderr.trim() || `exit ${r.status}`;
}

function clusterEnv(): Record<string, string> {
  return keyValues(sh('env.sh'));
}

/** The simulated demo's ModelVersion (kwok pods: nothing is fetched). */
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
    // Nothing is fetched here (kwok pods); a digest is required, so the demo names one.
    digest: `sha256:${createHash('sha256').update(`resnet50 ${version}`).digest('hex')}`,
    interface: {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 224, 224] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1000] }],
    },
    runtimeConfig: { triton: { maxBatchSize: 8, instanceCount: 1 } },
    record: { owner: 'vision-team', metrics: { top1 }, changelog },
  },
});

interface Setting {
  model: string;
  replicas: number;
  /** spec.pod: the data plane's node for real serving; kwok's crash-loop fault for the simulated 1.2.0. */
  pod?: (version: string) => object | undefined;
  parentRef: object;
  hostname: string;
  progressDeadlineSeconds: number;
}

function deployment(version: string, s: Setting): object {
  const pod = s.pod?.(version);
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: s.model },
    spec: {
      model: s.model,
      version,
      replicas: s.replicas,
      ...(pod ? { pod } : {}),
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
        progressDeadlineSeconds: s.progressDeadlineSeconds,
      },
      traffic: {
        router: 'gatewayApi',
        gatewayApi: { parentRefs: [s.parentRef], hostnames: [s.hostname] },
      },
    },
  };
}

/** Real serving: the data plane's config and the Gateway, and the requests sent through it. */
interface Serving {
  cfg: DataPlaneConfig;
  target: Target;
  load: LoadGenerator;
}

/** Replies by who answered, as `1.0.0 74% · 1.1.0 26%`, and the failures. */
function share(replies: readonly Reply[]): {
  text: string;
  served: number;
  failed: number;
  /** Replies served, by version, in the order versions first answered. */
  by: Map<string, number>;
} {
  const by = new Map<string, number>();
  let failed = 0;
  for (const r of replies) {
    if (!ok(r)) failed++;
    else by.set(r.version ?? '?', (by.get(r.version ?? '?') ?? 0) + 1);
  }
  const served = replies.length - failed;
  const text = [...by.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${v} ${Math.round((100 * n) / Math.max(1, served))}%`)
    .join(' · ');
  return { text: text || '-', served, failed, by };
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

  // Real serving where the machine can run it.
  const missing = process.argv.includes('--simulated') ? 'asked for with --simulated' : dataPlaneMissing();
  let serving: Serving | undefined;
  let dataPlaneWasRunning = false;
  let parentRef: object = { name: 'inference-gateway' };
  if (missing) {
    say('Real serving is not available here, so the pods are simulated (kwok)');
    process.stdout.write(
      `  why: ${missing}\n  real serving needs root on Linux x86-64 and the packages in README.md's prerequisites; docs/data-plane.md\n` +
        `  with no server in the pods, the pre-traffic checks of their loaded interface are off (--pre-traffic-checks=false)\n`,
    );
  } else {
    say(
      'Starting the real data plane (Triton from PyPI the first time) and the local Gateway (Traefik, built the first time)',
    );
    dataPlaneWasRunning = alive(join(env.MODELSHIP_RUN_DIR!, 'dataplane', 'pids', 'agent.pid'));
    const config = execFileSync('bash', [join(root, 'hack', 'dataplane', 'up.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop()!;
    const gw = keyValues(sh('gateway.sh'));
    parentRef = {
      name: gw.MODELSHIP_GATEWAY_NAME!,
      namespace: gw.MODELSHIP_GATEWAY_NAMESPACE!,
      sectionName: gw.MODELSHIP_GATEWAY_LISTENER!,
    };
    const target: Target = { url: gw.MODELSHIP_GATEWAY_URL!, host: 'adder.example.com', model: 'adder' };
    serving = { cfg: readConfig(config), target, load: new LoadGenerator(target, { concurrency: 4 }) };
    process.stdout.write(`  the Gateway listens on ${target.url} (Host: ${target.host})\n`);
  }
  const setting: Setting = serving
    ? {
        model: 'adder',
        replicas: 2,
        pod: () => ({
          ...onDataPlane(serving.cfg),
          resources: { requests: { cpu: '100m', memory: '256Mi' } },
        }),
        parentRef,
        hostname: serving.target.host,
        progressDeadlineSeconds: 120,
      }
    : {
        model: 'resnet50',
        replicas: 4,
        // Test-only: the local cluster's fake kubelets (kwok) make pods with this annotation crash.
        pod: (v) =>
          v === '1.2.0' ? { annotations: { 'fault.modelship.test/mode': 'crashloop' } } : undefined,
        parentRef,
        hostname: 'resnet50.example.com',
        progressDeadlineSeconds: 60,
      };
  const MD = setting.model;

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
  // Simulated pods have no server behind their addresses: the checks that talk to a new revision's
  // pods before traffic moves (its loaded interface; docs/rollouts.md) are off, and the demo says so.
  const operator = new Operator({ kc, log, namespaces: [NS], unreadyGraceMs: 3000, podChecks: !!serving });
  say('Starting the modelship operator (its decision log: ' + join(logDir, 'demo-operator.log') + ')');
  await operator.start();

  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    if (serving) await serving.load.stop();
    await operator.stop();
    if (!keep && !wasRunning) sh('down.sh');
    else if (!keep && serving && !dataPlaneWasRunning)
      spawnSync('bash', [join(root, 'hack', 'dataplane', 'down.sh')]);
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
    (await client.get<ModelDeployment>(API_VERSION, MODEL_DEPLOYMENT_KIND, NS, MD))?.status;
  let last = '';
  let lastPrint = 0;
  let loadRunning = false;
  /**
   * Prints the ModelDeployment's state when it changes and, with real serving, once a second the
   * share of the last second's replies per version; returns when `done` holds.
   */
  const watchUntil = async (done: (s: ModelDeploymentStatus) => boolean, limitMs = 180_000) => {
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
        const line = `${(s.phase ?? '').padEnd(11)} stable ${s.stableVersion ?? '-'}${step}   route ${traffic}`;
        const second = Date.now() - lastPrint >= 1000;
        if (line !== last || (loadRunning && second)) {
          let served = '';
          if (serving && loadRunning) {
            const sample = share(serving.load.between(Date.now() - 1000));
            served = `   | last 1 s: ${sample.text} (${sample.served + sample.failed} requests, ${sample.failed} failed)`;
          }
          const colored = s.phase === 'RolledBack' ? red(line) : s.phase === 'Healthy' ? green(line) : line;
          process.stdout.write(`  ${elapsed()}  ${colored}${served}\n`);
          last = line;
          lastPrint = Date.now();
        }
        if (done(s)) return s;
      }
      if (Date.now() > deadline)
        throw new Error('the demo did not reach the expected state in time; see the operator log');
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  /** With real serving: the requests of a step, served per version and failed. */
  const tallyFrom = (from: number, what: string) => {
    if (!serving) return;
    const total = share(serving.load.between(from));
    const by = [...total.by.entries()].map(([v, n]) => `${n} by ${v}`).join(', ');
    const line = `  requests during ${what}: ${total.served + total.failed} sent, ${total.served} served (${by || 'none'}), ${total.failed} failed`;
    process.stdout.write(`${total.failed ? red(line) : green(line)}\n`);
  };

  try {
    say(`Releasing three versions of ${MD} (ModelVersions are immutable records)`);
    if (serving) {
      const release = async (version: string, code: string, changelog: string) => {
        const { url, digest } = publish(serving.cfg, `${NS}/${MD}/${version}/model.py`, code);
        const mv = pythonModelVersion({ model: MD, version, url, digest }) as unknown as {
          spec: Record<string, unknown>;
        };
        mv.spec.record = { owner: 'demo-team', changelog };
        await apply(mv);
      };
      await release('1.0.0', addModel('1.0.0'), 'Baseline.');
      await release('1.1.0', addModel('1.1.0'), 'Fine-tuned on more data.');
      await release('1.2.0', failingModel('1.2.0'), 'New weights (a broken build: the model fails to load).');
      process.stdout.write(
        `  real Triton Python-backend models, published to the local model store with their sha256 digests;\n` +
          `  every reply says which version answered\n`,
      );
    } else {
      await apply(modelVersion('1.0.0', 0.761, 'Baseline.'));
      await apply(modelVersion('1.1.0', 0.771, 'Fine-tuned on more data.'));
      await apply(modelVersion('1.2.0', 0.779, 'New preprocessing (broken build).'));
    }

    say('1. Deploy 1.0.0: the first version goes straight to 100%');
    await apply(deployment('1.0.0', setting));
    await watchUntil((s) => s.phase === 'Healthy' && s.stableVersion === '1.0.0');
    if (serving) {
      // Clients start once 1.0.0 serves (Traefik applies a new route within a second or two).
      await servedOnlyBy(serving.target, '1.0.0', {
        min: 1,
        concurrency: 1,
        burstMs: 300,
        timeoutMs: 30_000,
      });
      serving.load.start();
      loadRunning = true;
      process.stdout.write(`  4 clients now send inference requests through the Gateway without pause\n`);
    }

    say('2. Canary to 1.1.0: 25%, pause, 50%, pause, then all traffic');
    let from = Date.now();
    await apply(deployment('1.1.0', setting));
    await watchUntil((s) => s.phase === 'Healthy' && s.stableVersion === '1.1.0' && !s.canaryRevision);
    tallyFrom(from, 'the canary');

    say(
      serving
        ? '3. Ship 1.2.0, whose model fails to load: it never gets a request, and modelship reverts to 1.1.0 by itself'
        : '3. Ship 1.2.0, whose pods crash: modelship reverts to 1.1.0 by itself',
    );
    from = Date.now();
    await apply(deployment('1.2.0', setting));
    const s = await watchUntil((x) => x.phase === 'RolledBack');
    const rb = s.lastRollback!;
    process.stdout.write(
      `\n  ${red('reverted')} ${rb.from?.version} -> ${rb.to?.version}: ${rb.reason}\n  ${rb.message}\n`,
    );
    tallyFrom(from, '1.2.0 and its revert');
    if (serving) await serving.load.stop();
    loadRunning = false;

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
        MD,
        '-n',
        NS,
        '-o',
        'jsonpath={range .spec.rules[-1:].backendRefs[*]}{.name}{"\\t"}{.weight}{"\\n"}{end}',
      ).stdout,
    );
    if (serving) {
      const all = share(serving.load.replies);
      process.stdout.write(
        `\n  in all: ${serving.load.replies.length} requests through the Gateway, ${all.served} served, ${all.failed} failed\n`,
      );
    }
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
        `  kubectl describe md ${MD} -n ${NS}`,
        ...(serving
          ? [
              `  curl -s -H 'Host: ${serving.target.host}' ${serving.target.url}/v2/models/${MD}/infer \\`,
              `    -d '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[4],"data":[1,2,3,4]}]}'`,
            ]
          : []),
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
