/**
 * The real data plane's kubelet (hack/dataplane/, test/harness/dataplane/), with plain pods: what a
 * reader of Pod status sees must be what a kubelet shows for the same process — an image it cannot
 * run, a container that exits, a liveness probe that fails, readiness lost and regained, a
 * deletion with its grace period — and stopping the data plane leaves nothing behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { onDataPlane, withDataPlane, type DataPlaneConfig } from '../harness/dataplane.js';
import { Recorder, TEST_TIMEOUT_MS, podReady } from '../harness/e2e.js';
import { repoRoot } from '../harness/env.js';
import { kubectl, kubectlOk, tempNamespace, waitFor } from '../harness/kube.js';

withDataPlane(suite);

function suite(cfg: DataPlaneConfig): void {
  let ns: Awaited<ReturnType<typeof tempNamespace>>;
  beforeAll(async () => {
    ns = await tempNamespace('dpnode');
  });
  afterAll(async () => ns.remove());

  /** A pod on the data plane's node running `script` in the busybox image (the host's sh). */
  const pod = (name: string, container: object, spec: object = {}): string =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
        ...onDataPlane(cfg),
        containers: [{ name: 'main', image: 'busybox:1.36', ...container }],
        ...spec,
      },
    });

  const get = async (name: string): Promise<V1Pod | undefined> => {
    const r = await kubectl(['get', 'pod', name, '-n', ns.name, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as V1Pod) : undefined;
  };
  const main = (p: V1Pod | undefined) => p?.status?.containerStatuses?.find((c) => c.name === 'main');
  const netnsList = (): string[] =>
    execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(cfg.netnsPrefix));

  test(
    'an image the catalogue does not know: ErrImagePull, then ImagePullBackOff naming it',
    async () => {
      await kubectlOk(
        ['apply', '-n', ns.name, '-f', '-'],
        pod('unknown', { image: 'example.invalid/server:1' }),
      );
      const seen = await waitFor('ImagePullBackOff', async () => {
        const c = main(await get('unknown'));
        return c?.state?.waiting?.reason === 'ImagePullBackOff' && c;
      });
      expect(seen.state!.waiting!.message).toContain(
        '"example.invalid/server:1" is not in the data plane\'s image catalogue',
      );
      expect((await get('unknown'))?.status?.phase).toBe('Pending');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a container that exits: terminated with its exit code and (FallbackToLogsOnError) its last lines, then CrashLoopBackOff',
    async () => {
      const rec = await Recorder.start<V1Pod>(`/api/v1/namespaces/${ns.name}/pods`);
      try {
        await kubectlOk(
          ['apply', '-n', ns.name, '-f', '-'],
          pod('crash', {
            command: [
              '/bin/sh',
              '-c',
              'echo starting; echo "cannot open /models/x: no such file" >&2; exit 3',
            ],
            terminationMessagePolicy: 'FallbackToLogsOnError',
          }),
        );
        // The first state in CrashLoopBackOff, as the watch saw it (a poll could see a later one).
        const first = () =>
          rec
            .of('crash')
            .map((e) => main(e.object))
            .find((c) => c?.state?.waiting?.reason === 'CrashLoopBackOff');
        const c = await waitFor('CrashLoopBackOff', async () => first(), { timeoutMs: 30_000 });
        // The first exit restarts at once; the second waits 10 s, as a kubelet's back-off does.
        expect(c.restartCount).toBe(1);
        expect(c.state!.waiting!.message).toMatch(
          /^back-off 10s restarting failed container=main pod=crash_/,
        );
        expect(c.lastState?.terminated).toMatchObject({
          exitCode: 3,
          reason: 'Error',
          message: 'starting\ncannot open /models/x: no such file',
        });
        expect(c.ready).toBe(false);
        const p = await get('crash');
        expect(p?.status?.phase).toBe('Running');
        const subnet = cfg.cidr.replace(/\.0\/24$/, '.');
        expect(p?.status?.podIP?.startsWith(subnet)).toBe(true);
      } finally {
        await rec.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a command that does not exist: StartError, exit code 128, and the reason in the message',
    async () => {
      await kubectlOk(
        ['apply', '-n', ns.name, '-f', '-'],
        pod('nostart', { command: ['no-such-server', '--port=8000'] }),
      );
      const c = await waitFor(
        'a StartError',
        async () => {
          const s = main(await get('nostart'));
          const t = s?.lastState?.terminated ?? s?.state?.terminated;
          return t?.reason === 'StartError' && t;
        },
        { timeoutMs: 30_000 },
      );
      expect(c).toMatchObject({
        exitCode: 128,
        message: 'exec: "no-such-server": executable file not found in $PATH',
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a failing liveness probe kills and restarts the container',
    async () => {
      await kubectlOk(
        ['apply', '-n', ns.name, '-f', '-'],
        pod('liveness', {
          command: ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'],
          livenessProbe: {
            exec: { command: ['test', '-f', '/tmp/alive'] },
            periodSeconds: 1,
            failureThreshold: 2,
          },
        }),
      );
      const c = await waitFor(
        'a restart after the liveness probe failed',
        async () => {
          const s = main(await get('liveness'));
          return (s?.restartCount ?? 0) >= 1 && s;
        },
        { timeoutMs: 30_000 },
      );
      // SIGTERM from the kubelet, which the process traps: it exits 0.
      expect(c.lastState?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
      const events = await kubectlOk([
        'get',
        'events',
        '-n',
        ns.name,
        '--field-selector',
        'involvedObject.name=liveness',
        '-o',
        'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}',
      ]);
      expect(events).toContain('Unhealthy: Liveness probe failed');
      expect(events).toContain('Killing: Container main failed liveness probe, will be restarted');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'readiness follows the probe: Ready, unready when it fails, Ready again',
    async () => {
      const rec = await Recorder.start<V1Pod>(`/api/v1/namespaces/${ns.name}/pods`);
      try {
        await kubectlOk(
          ['apply', '-n', ns.name, '-f', '-'],
          pod(
            'ready',
            {
              // Serves /ready for 5 s, then not for 5 s, then again (probes every second).
              command: [
                '/bin/sh',
                '-c',
                'mkdir -p /tmp/w; cd /tmp/w; touch ready; python3 -m http.server 8080 & sleep 5; rm ready; sleep 5; touch ready; wait',
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: {
                httpGet: { path: '/ready', port: 'http' },
                periodSeconds: 1,
                failureThreshold: 1,
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
            { volumes: [{ name: 'tmp', emptyDir: {} }] },
          ),
        );
        await waitFor(
          'Ready, unready, Ready',
          async () => {
            const states = rec.of('ready').map((e) => podReady(e.object));
            const changes = states.filter((s, i) => i === 0 || s !== states[i - 1]);
            return changes.join(',').includes('true,false,true');
          },
          { timeoutMs: 45_000 },
        );
      } finally {
        await rec.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'deletion: SIGTERM, the grace period, SIGKILL; the pod network goes with the pod',
    async () => {
      // Ready only once the shell ignores SIGTERM: a container is `running` from its start, and a
      // SIGTERM that came before the trap ended the pod at once (227 ms in one CI run).
      await kubectlOk(
        ['apply', '-n', ns.name, '-f', '-'],
        pod(
          'stubborn',
          {
            command: ['/bin/sh', '-c', 'trap "" TERM; touch /tmp/trapped; while :; do sleep 0.2; done'],
            readinessProbe: { exec: { command: ['test', '-f', '/tmp/trapped'] }, periodSeconds: 1 },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          },
          { terminationGracePeriodSeconds: 2, volumes: [{ name: 'tmp', emptyDir: {} }] },
        ),
      );
      const running = await waitFor('Ready (SIGTERM trapped)', async () => {
        const p = await get('stubborn');
        return p && podReady(p) && main(p)?.state?.running !== undefined && p;
      });
      // The pod's namespace is named after the last byte of its address (network.ts).
      const netns = `${cfg.netnsPrefix}${running.status!.podIP!.split('.')[3]}`;
      expect(netnsList()).toContain(netns);
      const t0 = Date.now();
      await kubectlOk(['delete', 'pod', 'stubborn', '-n', ns.name, '--wait=true', '--timeout=30s']);
      const took = Date.now() - t0;
      // It ignored SIGTERM, so it went only at SIGKILL, after the 2 s grace period.
      expect(took).toBeGreaterThanOrEqual(2000);
      expect(netnsList()).not.toContain(netns);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'hack/dataplane/down.sh stops every process, removes every namespace and the bridge; up.sh brings it back',
    async () => {
      const script = (s: string) =>
        spawnSync('bash', [`${repoRoot}/hack/dataplane/${s}`], { encoding: 'utf8' });
      // One more pod, being deleted with a grace period of a minute that it sits out (it ignores
      // SIGTERM): the agent, stopping, gives it its own shorter grace instead of waiting.
      await kubectlOk(
        ['apply', '-n', ns.name, '-f', '-'],
        pod(
          'slow',
          { command: ['/bin/sh', '-c', 'trap "" TERM; while :; do sleep 0.2; done'] },
          { terminationGracePeriodSeconds: 60 },
        ),
      );
      await waitFor('slow running', async () => main(await get('slow'))?.state?.running !== undefined);
      await kubectlOk(['delete', 'pod', 'slow', '-n', ns.name, '--wait=false']);
      await waitFor(
        'slow terminating',
        async () => (await get('slow'))?.metadata?.deletionTimestamp !== undefined,
      );
      // The processes of the pods above that still run (each in its pod's network namespace).
      const inPods = netnsList().flatMap((n) =>
        execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).split('\n').filter(Boolean),
      );
      expect(inPods.length).toBeGreaterThan(0);
      const down = script('down.sh');
      expect(down.status).toBe(0);
      // The agent stopped every pod's processes itself: down.sh stopped the agent and the two
      // stores, and found nothing left to kill in the namespaces.
      expect(down.stderr).toContain('[dataplane] stopped (3 processes)');
      const alive = (pid: string): boolean => {
        try {
          process.kill(Number(pid), 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(inPods.filter(alive)).toEqual([]);
      // The agent and the model store (their command lines name the state directory).
      expect(spawnSync('pgrep', ['-f', '--', cfg.stateDir], { encoding: 'utf8' }).stdout.trim()).toBe('');
      expect(netnsList()).toEqual([]);
      expect(spawnSync('ip', ['link', 'show', cfg.bridge]).status).not.toBe(0);
      expect(existsSync(`${cfg.stateDir}/pods`)).toBe(false);
      expect(script('up.sh').stdout.trim()).toBe(`${cfg.stateDir}/config.json`);
    },
    TEST_TIMEOUT_MS,
  );
}
