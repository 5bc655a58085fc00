// The pure parts of the real data plane's kubelet (test/harness/dataplane/): the image catalogue,
// the sandbox script, and the pod status it reports. Their behaviour against real processes is
// tested in test/integration/dataplane.test.ts and test/e2e/dataplane.test.ts.
import { containerRun, type ContainerContext } from '../harness/dataplane/container.js';
import {
  containerArgv,
  resolveImage,
  type ImageHost,
  type ResolvedImage,
} from '../harness/dataplane/images.js';
import {
  sandboxScript,
  SandboxError,
  type HostRoot,
  type SandboxSpec,
} from '../harness/dataplane/sandbox.js';
import {
  computePodStatus,
  crashBackoffMs,
  podPhase,
  terminationMessage,
  type ContainerRecord,
  type PodRecord,
} from '../harness/dataplane/status.js';

const host: ImageHost = {
  tritonDir: '/cache/triton',
  caBundle: '/dp/ca-bundle.pem',
  awscliDir: '/cache/awscli',
  filesDir: '/repo/files',
};

describe('image catalogue', () => {
  test.each([
    'nvcr.io/nvidia/tritonserver:24.08-py3',
    'nvcr.io/nvidia/tritonserver:24.08-py3@sha256:' + 'a'.repeat(64),
    'curlimages/curl:8.10.1',
    'docker.io/curlimages/curl:8.10.1',
    'busybox:1.36',
    'docker.io/library/busybox:1.36',
    'amazon/aws-cli:2.17.0',
  ])('knows %s', (image) => {
    expect(resolveImage(image, host).ok).toBe(true);
  });

  test('an unknown image fails, naming the image and what the catalogue knows', () => {
    const r = resolveImage('google/cloud-sdk:slim', host);
    expect(r).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /^image "google\/cloud-sdk:slim" is not in the data plane's image catalogue .*curlimages\/curl:<tag>/,
      ),
    });
    // A lookalike of a known repository is not that repository.
    expect(resolveImage('evil.example/nvcr.io/nvidia/tritonserver:24.08-py3', host).ok).toBe(false);
  });

  test('the Triton image needs Triton installed, and says how to install it', () => {
    const r = resolveImage('nvcr.io/nvidia/tritonserver:24.08-py3', { filesDir: '/f' });
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('hack/tools/triton.sh') });
  });

  test('the Triton image binds the installed tree where the image has it, behind its entrypoint', () => {
    const r = resolveImage('nvcr.io/nvidia/tritonserver:24.08-py3', host);
    if (!r.ok) throw new Error(r.reason);
    expect(r.image.paths['/opt/tritonserver']).toBe('/cache/triton');
    expect(containerArgv(r.image, undefined, ['tritonserver', '--model-repository=/mnt/models'])).toEqual([
      '/opt/nvidia/nvidia_entrypoint.sh',
      'tritonserver',
      '--model-repository=/mnt/models',
    ]);
  });

  test('command replaces the entrypoint and the cmd; args replace only the cmd', () => {
    const r = resolveImage('curlimages/curl:8.10.1', host);
    if (!r.ok) throw new Error(r.reason);
    expect(containerArgv(r.image, undefined, undefined)).toEqual(['/entrypoint.sh', 'curl']);
    expect(containerArgv(r.image, undefined, ['-V'])).toEqual(['/entrypoint.sh', '-V']);
    expect(containerArgv(r.image, ['/bin/sh', '-c'], ['echo'])).toEqual(['/bin/sh', '-c', 'echo']);
  });
});

describe('sandbox script', () => {
  const root: HostRoot = {
    entries: new Map([
      ['usr', { type: 'dir' }],
      ['mnt', { type: 'dir' }],
      ['opt', { type: 'dir' }],
      ['tmp', { type: 'dir' }],
      ['etc', { type: 'dir' }],
      ['proc', { type: 'dir' }],
      ['dev', { type: 'dir' }],
      ['bin', { type: 'symlink', target: 'usr/bin' }],
      ['.dockerenv', { type: 'file' }],
    ]),
    stat: (p) => (['/usr', '/mnt', '/opt', '/tmp', '/etc', '/dev/shm'].includes(p) ? 'dir' : undefined),
  };
  const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
    root: '/state/c/root',
    scratch: '/state/c',
    hostname: 'pod-1',
    mounts: [
      { path: '/mnt/models', source: '/state/v/model-store', kind: 'dir', readOnly: true },
      { path: '/tmp', source: '/state/v/tmp', kind: 'dir', readOnly: false },
      { path: '/dev/shm', source: '/state/v/dshm', kind: 'dir', readOnly: false },
      { path: '/cacert.pem', source: '/dp/ca-bundle.pem', kind: 'file', readOnly: true },
    ],
    readOnlyRootFilesystem: true,
    user: { uid: 1000, gid: 1000, groups: [1000] },
    workingDir: '/tmp',
    env: [['PATH', '/usr/bin:/bin']],
    argv: ['curl', '-o', '/mnt/models/x'],
    startErrorFile: '/state/c/start-error',
    ...over,
  });
  const lines = (s: SandboxSpec = spec()): string[] => sandboxScript(s, root).split('\n');

  test('a mount point below a host directory goes to an overlay of it, never into the host directory', () => {
    const l = lines();
    expect(l).toContain(
      "mount -t overlay overlay -o lowerdir='/mnt',upperdir='/state/c/overlay/mnt/upper',workdir='/state/c/overlay/mnt/work' \"$R\"/'mnt'",
    );
    expect(l).toContain("mount --rbind '/usr' \"$R\"/'usr'");
    expect(l.some((x) => x.includes("lowerdir='/usr'"))).toBe(false);
    // A top-level path the host lacks is made in the container's own root; symlinks stay symlinks.
    expect(l).toContain('[ -e "$R"\'/cacert.pem\' ] || { mkdir -p "$R"\'/\' && touch "$R"\'/cacert.pem\'; }');
    expect(l).toContain("ln -s 'usr/bin' \"$R\"/'bin'");
  });

  test('readOnlyRootFilesystem turns the host directories read-only before the volumes are mounted over them', () => {
    const l = lines();
    const bindTmp = l.indexOf("mount --bind '/state/v/tmp' \"$R\"'/tmp'");
    const roTmp = l.indexOf('mount -o remount,bind,ro "$R"/\'tmp\'');
    expect(bindTmp).toBeGreaterThan(0);
    expect(roTmp).toBeGreaterThan(0);
    // Remounting /tmp read-only after the tmp volume is bound there would make the volume read-only.
    expect(roTmp).toBeLessThan(bindTmp);
    // Read-only volumes are read-only; writable ones are never remounted.
    expect(l).toContain('mount -o remount,bind,ro "$R"\'/mnt/models\'');
    expect(l.filter((x) => x.includes('remount') && x.includes("'/tmp'"))).toEqual([]);
    // The container's own root last, once every mount point in it exists.
    const lastBind = l.map((x) => x.startsWith('mount --bind')).lastIndexOf(true);
    expect(l.indexOf('mount -o remount,bind,ro "$R"')).toBeGreaterThan(lastBind);
  });

  test('without readOnlyRootFilesystem nothing but read-only volumes is remounted', () => {
    const remounts = lines(spec({ readOnlyRootFilesystem: false })).filter((x) => x.includes('remount'));
    expect(remounts).toEqual([
      'mount -o remount,bind,ro "$R"\'/cacert.pem\'',
      'mount -o remount,bind,ro "$R"\'/mnt/models\'',
    ]);
  });

  test('the process runs chrooted as the container user, with only its environment', () => {
    const last = lines().at(-2)!;
    expect(last).toBe(
      "exec chroot \"$R\" '/usr/bin/setpriv' '--reuid=1000' '--regid=1000' '--groups=1000' '--no-new-privs' " +
        "'--inh-caps=-all' '--bounding-set=-all' '--' /usr/bin/env -i -C '/tmp' 'PATH=/usr/bin:/bin' 'curl' '-o' '/mnt/models/x'",
    );
  });

  test('the pod memory volume is /dev/shm; without one /dev/shm is a small tmpfs', () => {
    expect(lines().some((x) => x.startsWith('mount -t tmpfs') && x.includes('shm'))).toBe(false);
    expect(
      lines(spec({ mounts: [] })).some((x) => x.startsWith('mount -t tmpfs') && x.includes('size=64m')),
    ).toBe(true);
  });

  test('a path below a host symlink is refused with the reason', () => {
    expect(() =>
      sandboxScript(
        spec({ mounts: [{ path: '/bin/tool', source: '/x', kind: 'file', readOnly: true }] }),
        root,
      ),
    ).toThrow(SandboxError);
  });

  test('values reach the script quoted: a value cannot inject shell', () => {
    const s = sandboxScript(spec({ env: [['X', "'; rm -rf / #"]] }), root);
    expect(s).toContain("'X='\\''; rm -rf / #'");
  });
});

describe('pod status', () => {
  const T0 = '2026-01-01T00:00:00Z';
  const T1 = '2026-01-01T00:00:10Z';
  const c = (name: string, over: Partial<ContainerRecord> = {}): ContainerRecord => ({
    name,
    image: 'busybox:1.36',
    state: { waiting: { reason: 'PodInitializing' } },
    restartCount: 0,
    ready: false,
    started: false,
    ...over,
  });
  const done = { terminated: { exitCode: 0, reason: 'Completed', startedAt: T0, finishedAt: T0 } };
  const rec = (over: Partial<PodRecord> = {}): PodRecord => ({
    startTime: T0,
    hostIP: '10.250.0.1',
    podIP: '10.250.0.2',
    sandboxReady: true,
    init: [c('fetch-model')],
    main: [c('model-server')],
    ...over,
  });

  test("the kubelet's CrashLoopBackOff: at once, then 10 s doubling to 5 min", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map(crashBackoffMs)).toEqual([
      0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000,
    ]);
  });

  test('while an init container runs: Pending, not Initialized, naming it', () => {
    const s = computePodStatus(rec(), [], T0);
    expect(s.phase).toBe('Pending');
    expect(s.conditions.find((x) => x.type === 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [fetch-model]',
    });
    expect(s.conditions.find((x) => x.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [model-server]',
    });
    expect(s.podIPs).toEqual([{ ip: '10.250.0.2' }]);
  });

  test('Ready: every condition True, transition times kept while a condition does not change', () => {
    const r = rec({
      init: [c('fetch-model', { state: done, ready: true })],
      main: [c('model-server', { state: { running: { startedAt: T0 } }, ready: true, started: true })],
    });
    const first = computePodStatus(r, [{ type: 'PodScheduled', status: 'True', lastTransitionTime: T0 }], T0);
    expect(first.phase).toBe('Running');
    expect(first.conditions.map((x) => [x.type, x.status])).toEqual([
      ['PodReadyToStartContainers', 'True'],
      ['Initialized', 'True'],
      ['Ready', 'True'],
      ['ContainersReady', 'True'],
      ['PodScheduled', 'True'],
    ]);
    const again = computePodStatus(r, first.conditions, T1);
    expect(again).toEqual(first);
    r.main[0]!.ready = false;
    const lost = computePodStatus(r, first.conditions, T1);
    expect(lost.conditions.find((x) => x.type === 'Ready')?.lastTransitionTime).toBe(T1);
    expect(lost.conditions.find((x) => x.type === 'Initialized')?.lastTransitionTime).toBe(T0);
  });

  test('a container waiting to be restarted keeps the pod Running', () => {
    const r = rec({
      init: [],
      main: [
        c('model-server', {
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T0, finishedAt: T0 } },
          restartCount: 1,
        }),
      ],
    });
    expect(podPhase(r)).toBe('Running');
    expect(
      podPhase(
        rec({ init: [], main: [c('model-server', { state: { waiting: { reason: 'ContainerCreating' } } })] }),
      ),
    ).toBe('Pending');
  });

  test('the terminated message: the termination-message file, else the log tail only with FallbackToLogsOnError', () => {
    const log = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
    expect(terminationMessage(undefined, 1, '', log)).toBeUndefined();
    expect(terminationMessage('File', 1, 'written by the app\n', log)).toBe('written by the app\n');
    const tail = terminationMessage('FallbackToLogsOnError', 1, '', log)!;
    expect(tail.split('\n')).toHaveLength(80);
    expect(tail.endsWith('line 99')).toBe(true);
    expect(terminationMessage('FallbackToLogsOnError', 0, '', log)).toBeUndefined();
  });
});

describe('a container run from the pod spec', () => {
  const image: ResolvedImage = {
    entry: 'test',
    entrypoint: ['/entry'],
    cmd: [],
    env: { PATH: '/usr/bin', HOME: '/home/image' },
    paths: { '/opt/tool': '/cache/tool' },
  };
  const ctx = (over: { container?: object; pod?: object } = {}): ContainerContext => ({
    pod: {
      metadata: { name: 'p', namespace: 'ns', uid: 'u' },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000 },
        containers: [],
        ...over.pod,
      },
    },
    container: {
      name: 'c',
      args: ['serve'],
      env: [
        { name: 'A', value: 'a' },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ],
      volumeMounts: [{ name: 'models', mountPath: '/mnt/models', readOnly: true }],
      securityContext: { readOnlyRootFilesystem: true },
      ...over.container,
    },
    image,
    volumes: new Map([['models', '/state/v/models']]),
    dir: '/state/c/0',
    termLog: '/state/c/0/termination-log',
    startErrorFile: '/state/c/0/start-error',
    podIP: '10.250.0.7',
    nodeName: 'dataplane-0',
    hostIP: '10.250.0.1',
    isDir: (path) => path === '/cache/tool',
  });

  test('mounts, user, environment and argv as the kubelet and the runtime build them', () => {
    const r = containerRun(ctx());
    expect(r.spec.mounts).toEqual([
      { path: '/mnt/models', source: '/state/v/models', kind: 'dir', readOnly: true },
      { path: '/opt/tool', source: '/cache/tool', kind: 'dir', readOnly: true },
      { path: '/dev/termination-log', source: '/state/c/0/termination-log', kind: 'file', readOnly: false },
    ]);
    expect(r.user).toEqual({ uid: 1000, gid: 1000, groups: [2000] });
    expect(Object.fromEntries(r.env)).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/image',
      HOSTNAME: 'p',
      A: 'a',
      POD_IP: '10.250.0.7',
    });
    expect(r.spec.argv).toEqual(['/entry', 'serve']);
    expect(r.spec.readOnlyRootFilesystem).toBe(true);
  });

  test.each([
    ['runAsNonRoot without a user', { pod: { securityContext: { runAsNonRoot: true } } }, /runAsNonRoot/],
    [
      'a subPath mount',
      { container: { volumeMounts: [{ name: 'models', mountPath: '/m', subPath: 'x' }] } },
      /subPath is not supported/,
    ],
    [
      'an env value from a resource field',
      { container: { env: [{ name: 'K', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }] } },
      /supports value and fieldRef/,
    ],
  ])('refuses %s, naming it', (_what, over, message) => {
    expect(() => containerRun(ctx(over))).toThrow(message);
  });

  test('envFrom and key references as the kubelet applies them: envFrom first, env over it', () => {
    const r = containerRun({
      ...ctx({
        container: {
          env: [
            { name: 'MODEL_URI', value: 's3://models/a' },
            { name: 'K', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
            { name: 'GONE', valueFrom: { secretKeyRef: { name: 's', key: 'gone', optional: true } } },
          ],
        },
      }),
      envSources: {
        from: [
          ['MODEL_URI', 's3://elsewhere/b'],
          ['AWS_ACCESS_KEY_ID', 'id'],
        ],
        refs: new Map([['K', 'from-secret']]),
      },
    });
    const env = Object.fromEntries(r.env);
    expect(env).toMatchObject({ MODEL_URI: 's3://models/a', AWS_ACCESS_KEY_ID: 'id', K: 'from-secret' });
    expect('GONE' in env).toBe(false);
  });
});
