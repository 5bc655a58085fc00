/**
 * kubectl-modelship against the real apiserver, as a user runs it: the built plugin
 * (dist/plugin/main.js) as a process, with the test cluster's kubeconfig. No operator runs here:
 * the rollout states are staged by writing status through the status subresource, as the operator
 * would, and the commands' output and their writes are asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelDeployment } from '../../src/api/index.js';
import { modelVersionName } from '../../src/core/model-version.js';
import { clusterEnv, repoRoot } from '../harness/env.js';
import { kubectlOk, run, tempNamespace, waitFor, type RunResult } from '../harness/kube.js';
import { fakeDigest } from '../harness/objects.js';

const MAIN = join(repoRoot, 'dist', 'plugin', 'main.js');
const GV = 'modelship.io/v1alpha1';

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let scratch: string;

/** Runs the plugin with the cluster's kubeconfig in the test namespace; never throws on exit codes. */
function plugin(args: string[], opts: { kubeconfig?: string; namespace?: boolean } = {}): Promise<RunResult> {
  const base = ['--kubeconfig', opts.kubeconfig ?? clusterEnv().kubeconfig];
  if (opts.namespace !== false) base.push('-n', ns.name);
  return run(process.execPath, [MAIN, ...base, ...args]);
}

/** A plugin process left running (status --watch, promote --wait), with what it printed so far. */
function start(args: string[]): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    [MAIN, '--kubeconfig', clusterEnv().kubeconfig, '-n', ns.name, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

const apply = (obj: object): Promise<string> =>
  kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(obj));

async function setStatus(resource: 'md' | 'mv', name: string, status: object): Promise<void> {
  await kubectlOk([
    'patch',
    resource,
    name,
    '-n',
    ns.name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
}

async function getMd(name: string): Promise<ModelDeployment> {
  return JSON.parse(await kubectlOk(['get', 'md', name, '-n', ns.name, '-o', 'json'])) as ModelDeployment;
}

const iso = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString().replace(/\.\d+Z$/, 'Z');
const cond = (type: string, status: string, reason: string, message: string) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: iso(60_000),
});

function modelVersion(version: string, spec: object = {}): object {
  return {
    apiVersion: GV,
    kind: 'ModelVersion',
    metadata: { name: modelVersionName('clf', version) },
    spec: {
      model: 'clf',
      version,
      runtime: 'triton',
      format: 'onnx',
      storageUri: `s3://models/clf/${version}/model.onnx`,
      digest: fakeDigest(`s3://models/clf/${version}/model.onnx`),
      interface: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 224, 224] }],
        outputs: [{ name: 'logits', datatype: 'FP32', shape: [1000] }],
      },
      ...spec,
    },
  };
}

function modelDeployment(name: string, version: string): object {
  return {
    apiVersion: GV,
    kind: 'ModelDeployment',
    metadata: { name },
    spec: {
      model: 'clf',
      version,
      replicas: 2,
      strategy: {
        type: 'Canary',
        canary: {
          steps: [{ setWeight: 25 }, { pause: { duration: '10m' } }, { setWeight: 50 }, { pause: {} }],
        },
      },
    },
  };
}

/** A revision Deployment as the operator labels them; kwok makes its pods Ready. */
function revisionDeployment(md: string, rev: string, version: string, replicas: number): object {
  const labels = { 'modelship.io/deployment': md, 'modelship.io/revision': rev };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${md}-${rev}`, labels, annotations: { 'modelship.io/version': version } },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'server', image: 'triton:test' }] } },
    },
  };
}

const STABLE = 'aaaaaaaaaa';
const CANARY = 'bbbbbbbbbb';

/** A canary of 1.1.0 over 1.0.0 at step 2/4 (a 10m pause), 25% of traffic, as the operator writes it. */
function canaryStatus(stepStartedMsAgo: number): object {
  return {
    observedGeneration: 1,
    phase: 'Progressing',
    stableRevision: STABLE,
    stableVersion: '1.0.0',
    canaryRevision: CANARY,
    canaryVersion: '1.1.0',
    canaryWeight: 25,
    currentStepIndex: 1,
    currentStepStartedAt: iso(stepStartedMsAgo),
    rolloutStartedAt: iso(stepStartedMsAgo + 30_000),
    traffic: [
      { revision: STABLE, version: '1.0.0', weight: 75 },
      { revision: CANARY, version: '1.1.0', weight: 25 },
    ],
    conditions: [
      cond('Ready', 'False', 'CanaryStep', 'step 2/4: paused for 10m more at weight 25%'),
      cond('Available', 'True', 'MinimumReplicasAvailable', '2/2 replicas of the stable version 1.0.0 ready'),
      cond('Progressing', 'True', 'CanaryStep', 'step 2/4: paused for 10m more at weight 25%'),
      cond('Degraded', 'False', 'Healthy', 'no failure under the current spec'),
    ],
    history: [
      {
        revision: STABLE,
        version: '1.0.0',
        result: 'Promoted',
        reason: 'Ready',
        message: 'version 1.0.0 is Ready',
        startedAt: '2025-01-01T10:00:00Z',
        finishedAt: '2025-01-01T10:01:30Z',
        generation: 1,
      },
      {
        revision: 'cccccccccc',
        version: '0.9.0',
        result: 'RolledBack',
        reason: 'TooManyRestarts',
        message: 'revision cccccccccc restarted 4 times',
        startedAt: '2025-01-01T11:00:00Z',
        finishedAt: '2025-01-01T11:00:45Z',
        generation: 1,
      },
    ],
    lastRollback: {
      from: { revision: 'cccccccccc', version: '0.9.0' },
      to: { revision: STABLE, version: '1.0.0' },
      reason: 'TooManyRestarts',
      message: 'revision cccccccccc restarted 4 times',
      time: '2025-01-01T11:00:45Z',
    },
  };
}

beforeAll(async () => {
  ns = await tempNamespace('plugin');
  scratch = mkdtempSync(join(tmpdir(), 'modelship-plugin-'));
  for (const v of ['0.9.0', '1.9.0', '1.10.0', '2.0.0-rc.1', '2.0.0-rc.1+build.7', '2.0.0'])
    await apply(modelVersion(v));
  await apply(
    modelVersion('1.0.0', {
      record: {
        owner: 'ml-vision@example.com',
        dataset: { uri: 's3://datasets/imagenet/2012', hash: 'sha256:aaaa' },
        trainingParams: { epochs: '90', lr: '0.1' },
        metrics: { top1: 0.761, latencyP99Ms: 14.2 },
        changelog: 'First release.',
        createdAt: '2025-01-15T09:30:00Z',
      },
    }),
  );
  await apply(
    modelVersion('1.1.0', {
      interface: {
        inputs: [{ name: 'input', datatype: 'FP16', shape: [3, 224, 224] }],
        outputs: [
          { name: 'logits', datatype: 'FP16', shape: [1000] },
          { name: 'embedding', datatype: 'FP32', shape: [512] },
        ],
      },
      record: {
        owner: 'ml-vision@example.com',
        dataset: { uri: 's3://datasets/imagenet/2012', hash: 'sha256:aaaa' },
        trainingParams: { epochs: '120', lr: '0.1', precision: 'fp16' },
        metrics: { top1: 0.772, latencyP99Ms: 8.1 },
        changelog: 'FP16 export; 40% lower p99 latency.',
        createdAt: '2025-03-02T14:00:00Z',
      },
    }),
  );
  await setStatus('mv', 'clf-1.0.0', { phase: 'InUse', usedBy: [{ name: 'clf' }] });
  await setStatus('mv', 'clf-1.1.0', { phase: 'InUse', usedBy: [{ name: 'clf' }] });
  await apply(modelDeployment('clf', '1.1.0'));
  await setStatus('md', 'clf', canaryStatus(3_000));
  await apply(revisionDeployment('clf', STABLE, '1.0.0', 2));
  await apply(revisionDeployment('clf', CANARY, '1.1.0', 1));
  await kubectlOk([
    'wait',
    '-n',
    ns.name,
    `deployment/clf-${STABLE}`,
    '--for=jsonpath={.status.readyReplicas}=2',
  ]);
  await kubectlOk([
    'wait',
    '-n',
    ns.name,
    `deployment/clf-${CANARY}`,
    '--for=jsonpath={.status.readyReplicas}=1',
  ]);
});

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await ns.remove();
});

describe('reading', () => {
  test('status shows phase, versions, step progress, weights and readiness per revision, conditions and the last rollback', async () => {
    // The pause began 3 s ago (staged again here: the setup may have taken a while).
    await setStatus('md', 'clf', { currentStepStartedAt: iso(3_000) });
    const r = await plugin(['status', 'clf']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^Phase: +Progressing$/m);
    expect(out).toMatch(/^Desired: +1\.1\.0$/m);
    expect(out).toMatch(/^Stable: +1\.0\.0 \(revision aaaaaaaaaa\)$/m);
    expect(out).toMatch(/^Canary: +1\.1\.0 \(revision bbbbbbbbbb\), 25% of traffic$/m);
    // A 10m pause that began a few seconds ago: the countdown is computed from the status.
    expect(out).toMatch(/^Progress: +step 2\/4: paused 9m[45]\ds more at 25%$/m);
    expect(out).toMatch(/^REVISION +VERSION +ROLE +WEIGHT +PODS READY$/m);
    expect(out).toMatch(/^aaaaaaaaaa +1\.0\.0 +stable +75% +2\/2$/m);
    expect(out).toMatch(/^bbbbbbbbbb +1\.1\.0 +canary +25% +1\/1$/m);
    expect(out).toMatch(/^Ready +False +CanaryStep +\S+ +step 2\/4: paused for 10m more at weight 25%$/m);
    expect(out).toMatch(/^Degraded +False +Healthy /m);
    expect(out).toMatch(
      /^Last rollback: 0\.9\.0 → 1\.0\.0, \S+ ago: TooManyRestarts: revision cccccccccc restarted 4 times$/m,
    );
  });

  test('kubectl finds the plugin on PATH as kubectl modelship', async () => {
    // What npm i -g does with package.json's bin: a kubectl-modelship on PATH linking to the
    // script, made executable.
    const bin = join(scratch, 'bin');
    mkdirSync(bin);
    chmodSync(MAIN, 0o755);
    symlinkSync(MAIN, join(bin, 'kubectl-modelship'));
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, KUBECONFIG: clusterEnv().kubeconfig };
    const list = await run(clusterEnv().kubectl, ['plugin', 'list'], { env });
    expect(list.stdout).toContain(join(bin, 'kubectl-modelship'));
    const r = await run(clusterEnv().kubectl, ['modelship', 'history', 'clf', '-n', ns.name], { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^aaaaaaaaaa +1\.0\.0 +Promoted +Ready /m);
  });

  test('history is a table of past rollouts with their durations', async () => {
    const r = await plugin(['history', 'clf']);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^REVISION +VERSION +RESULT +REASON +STARTED +FINISHED +DURATION +MESSAGE$/),
      expect.stringMatching(
        /^aaaaaaaaaa +1\.0\.0 +Promoted +Ready +2025-01-01T10:00:00Z +2025-01-01T10:01:30Z +1m30s +version 1\.0\.0 is Ready$/,
      ),
      expect.stringMatching(
        /^cccccccccc +0\.9\.0 +RolledBack +TooManyRestarts +2025-01-01T11:00:00Z +2025-01-01T11:00:45Z +45s +revision cccccccccc restarted 4 times$/,
      ),
    ]);
  });

  test('versions lists the model in SemVer order, with runtime, owner, metrics and users', async () => {
    const r = await plugin(['versions', 'clf']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^VERSION +NAME +RUNTIME +FORMAT +OWNER +CREATED +PHASE +USED BY +METRICS$/);
    expect(rows.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([
      '0.9.0',
      '1.0.0',
      '1.1.0',
      '1.9.0',
      '1.10.0',
      '2.0.0-rc.1',
      '2.0.0-rc.1+build.7',
      '2.0.0',
    ]);
    expect(r.stdout).toMatch(
      /^1\.0\.0 +clf-1\.0\.0 +triton +onnx +ml-vision@example\.com +2025-01-15 +InUse +clf +latencyP99Ms=14\.2 top1=0\.761$/m,
    );
  });

  test('diff shows the record, metrics with deltas, the I/O signature change and the changelogs', async () => {
    const r = await plugin(['diff', 'clf-1.0.0', 'clf-1.1.0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^ {4}owner +ml-vision@example\.com +ml-vision@example\.com$/m);
    expect(out).toMatch(
      /^ {4}dataset\.uri +s3:\/\/datasets\/imagenet\/2012 +s3:\/\/datasets\/imagenet\/2012$/m,
    );
    expect(out).toMatch(/^~ {3}epochs +90 +120$/m);
    expect(out).toMatch(/^\+ {3}precision +- +fp16$/m);
    expect(out).toMatch(/^~ {3}latencyP99Ms +14\.2 +8\.1 +-6\.1 \(-42\.96%\)$/m);
    expect(out).toMatch(/^~ {3}top1 +0\.761 +0\.772 +\+0\.011 \(\+1\.45%\)$/m);
    expect(out).toContain(
      [
        'I/O SIGNATURE: changed; clients of the first version may break',
        '  inputs:',
        '    ~ input: datatype FP32 → FP16',
        '  outputs:',
        '    ~ logits: datatype FP32 → FP16',
        '    + embedding: FP32 [512]',
      ].join('\n'),
    );
    expect(out).toContain('  clf-1.0.0: First release.\n  clf-1.1.0: FP16 export; 40% lower p99 latency.');
  });
});

describe('requests by annotation', () => {
  test('promote sets a fresh token on the annotation only, and --wait returns once the operator acknowledges it', async () => {
    const before = await getMd('clf');
    const p = start(['promote', 'clf', '--wait', '--timeout', '60s']);
    const token = await waitFor('the promote annotation', async () => {
      const md = await getMd('clf');
      return md.metadata?.annotations?.['modelship.io/promote'];
    });
    expect(token).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z-[0-9a-f]{6}$/);
    const after = await getMd('clf');
    // Not a spec edit: the generation (bumped by any spec change) stays.
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.spec).toEqual(before.spec);
    // Still waiting: nothing acknowledged yet.
    await new Promise((r) => setTimeout(r, 500));
    expect(p.child.exitCode).toBeNull();
    await setStatus('md', 'clf', { acknowledged: { promote: token } });
    expect(await p.exit).toBe(0);
    expect(p.out()).toContain(
      'the rollout of 1.1.0 leaves step 2/4 (pause of 10m at 25%) and goes on with the next step',
    );
    expect(p.out()).toContain(`Set modelship.io/promote=${token}`);
    expect(p.out()).toMatch(/^Acknowledged: Progressing +desired 1\.1\.0 /m);
  });

  test('every request gets a new token', async () => {
    const first = (await getMd('clf')).metadata?.annotations?.['modelship.io/promote'];
    const r = await plugin(['promote', 'clf']);
    expect(r.code).toBe(0);
    const second = (await getMd('clf')).metadata?.annotations?.['modelship.io/promote'];
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(r.stdout).toContain(`Set modelship.io/promote=${second}`);
  });

  test.each(['abort', 'retry'])(
    '%s sets its annotation; --wait without an operator times out with exit 1',
    async (verb) => {
      const r = await plugin([verb, 'clf', '--wait', '--timeout', '2s']);
      expect(r.code).toBe(1);
      const token = (await getMd('clf')).metadata?.annotations?.[`modelship.io/${verb}`];
      expect(token).toBeDefined();
      expect(r.stdout).toContain(`Set modelship.io/${verb}=${token}`);
      expect(r.stderr.trim()).toBe(
        `modelship: the operator did not acknowledge modelship.io/${verb}=${token} within 2s; is it running and watching namespace "${ns.name}"? The request stays set and is acted on when it runs`,
      );
    },
  );

  test('promote with no rollout in progress is refused and sets nothing', async () => {
    await apply(modelDeployment('steady', '1.0.0'));
    await setStatus('md', 'steady', {
      observedGeneration: 1,
      phase: 'Healthy',
      stableRevision: STABLE,
      stableVersion: '1.0.0',
      conditions: [cond('Ready', 'True', 'RolloutComplete', 'version 1.0.0 serves all traffic')],
    });
    const r = await plugin(['promote', 'steady']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'modelship: ModelDeployment "steady" has no rollout in progress (phase Healthy, serving 1.0.0): nothing to promote\n',
    );
    expect((await getMd('steady')).metadata?.annotations?.['modelship.io/promote']).toBeUndefined();
  });
});

describe('spec edits', () => {
  test('pause and resume set spec.paused and say that under GitOps the change belongs in Git', async () => {
    let r = await plugin(['pause', 'clf']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('the rollout of 1.1.0 freezes at step 2/4, 25% of traffic');
    expect(r.stderr).toMatch(/^note: this edits the spec\. If a GitOps tool .* make the same change in Git/);
    expect((await getMd('clf')).spec.paused).toBe(true);
    r = await plugin(['pause', 'clf']);
    expect(r.stdout).toContain('spec.paused is already true: nothing to change');
    r = await plugin(['resume', 'clf']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^note: this edits the spec/);
    expect((await getMd('clf')).spec.paused).toBe(false);
  });

  test('rollback --to checks the ModelVersion exists, then sets spec.version', async () => {
    await apply(modelDeployment('rb', '1.1.0'));
    let r = await plugin(['rollback', 'rb', '--to', '7.7.7']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `modelship: no ModelVersion of model "clf" has version "7.7.7" in namespace "${ns.name}"; kubectl modelship versions clf lists them\n`,
    );
    expect((await getMd('rb')).spec.version).toBe('1.1.0');
    r = await plugin(['rollback', 'rb', '--to', '1.0.0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('spec.version 1.1.0 → 1.0.0 (ModelVersion clf-1.0.0)');
    expect(r.stderr).toMatch(/^note: this edits the spec/);
    expect((await getMd('rb')).spec.version).toBe('1.0.0');
  });
});

describe('errors: exit code 1 and one line that says what to do', () => {
  test.each([
    [
      'a missing ModelDeployment',
      () => ['status', 'nope'],
      () =>
        `modelship: ModelDeployment "nope" not found in namespace "${ns.name}"; kubectl get md -n ${ns.name} lists them\n`,
    ],
    [
      'diff given a ModelDeployment',
      () => ['diff', 'clf', 'clf-1.0.0'],
      () =>
        `modelship: "clf" is a ModelDeployment, not a ModelVersion; diff compares two ModelVersions (kubectl get mv -n ${ns.name} lists them)\n`,
    ],
    [
      'status given a ModelVersion',
      () => ['status', 'clf-1.0.0'],
      () =>
        `modelship: "clf-1.0.0" is a ModelVersion, not a ModelDeployment; status takes a ModelDeployment (kubectl get md -n ${ns.name} lists them)\n`,
    ],
    [
      'versions of an unknown model',
      () => ['versions', 'nomodel'],
      () =>
        `modelship: no ModelVersion of model "nomodel" in namespace "${ns.name}"; models in this namespace: clf\n`,
    ],
    [
      'an unknown command',
      () => ['frobnicate', 'clf'],
      () =>
        'modelship: unknown command "frobnicate"; commands: status, history, versions, diff, promote, abort, retry, pause, resume, rollback, experiment, release-finalizers, import, digest, help; see kubectl modelship --help\n',
    ],
    [
      'an unknown flag',
      () => ['status', 'clf', '--colour'],
      () => 'modelship: unknown flag "--colour"; see kubectl modelship --help\n',
    ],
  ])('%s', async (_name, args, message) => {
    const r = await plugin(args());
    expect(r.stderr).toBe(message());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
  });

  test('an apiserver that cannot be reached', async () => {
    const kubeconfig = join(scratch, 'unreachable.kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'nowhere', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'nobody', user: { token: 'none' } }],
        contexts: [{ name: 'nowhere', context: { cluster: 'nowhere', user: 'nobody', namespace: 'ml' } }],
        'current-context': 'nowhere',
      }),
    );
    for (const args of [
      ['status', 'clf'],
      ['status', 'clf', '--watch'],
      ['promote', 'clf'],
    ]) {
      const r = await plugin(args, { kubeconfig, namespace: false });
      expect(r.stderr).toBe(
        'modelship: cannot reach the Kubernetes API at https://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1; check your kubeconfig\n',
      );
      expect(r.code).toBe(1);
    }
  });
});

test('status --watch into a pipe appends one line per status change and exits 0 on Ctrl-C', async () => {
  await apply(modelDeployment('watched', '1.1.0'));
  await setStatus('md', 'watched', canaryStatus(0));
  const w = start(['status', 'watched', '--watch']);
  const lines = (): string[] => w.out().split('\n').filter(Boolean);
  try {
    await waitFor('the first line', async () => lines().length === 1, { timeoutMs: 20_000 });
    expect(lines()[0]).toMatch(
      /^\S+Z {2}Progressing {2}desired 1\.1\.0 {2}stable 1\.0\.0 {2}canary 1\.1\.0 at 25% {2}step 2\/4 {2}Ready=False CanaryStep: step 2\/4: paused for 10m more at weight 25%$/,
    );
    await setStatus('md', 'watched', { canaryWeight: 50, currentStepIndex: 3, phase: 'Paused' });
    await waitFor('a second line', async () => lines().length === 2);
    expect(lines()[1]).toMatch(
      / {2}Paused {2}desired 1\.1\.0 {2}stable 1\.0\.0 {2}canary 1\.1\.0 at 50% {2}step 4\/4 /,
    );
    await setStatus('md', 'watched', {
      phase: 'Healthy',
      stableRevision: CANARY,
      stableVersion: '1.1.0',
      canaryRevision: null,
      canaryVersion: null,
      canaryWeight: null,
      conditions: [cond('Ready', 'True', 'RolloutComplete', 'version 1.1.0 serves all traffic')],
    });
    await waitFor('a third line', async () => lines().length === 3);
    expect(lines()[2]).toMatch(
      / {2}Healthy {2}desired 1\.1\.0 {2}stable 1\.1\.0 {2}Ready=True RolloutComplete: version 1\.1\.0 serves all traffic$/,
    );
    // A write that changes nothing the line shows (an annotation) adds no line.
    await kubectlOk(['annotate', '-n', ns.name, 'md', 'watched', 'note=unrelated']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(lines()).toHaveLength(3);
  } finally {
    w.child.kill('SIGINT');
  }
  expect(await w.exit).toBe(0);
  expect(w.err()).toBe('');
});
