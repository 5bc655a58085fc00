#!/usr/bin/env node
// The operator process: flags, kubeconfig, /healthz /readyz /metrics, leader election, the
// operator, and a graceful stop on SIGTERM/SIGINT: stop taking keys, finish the ones in flight,
// release the Lease, stop the watches, exit.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { prometheusClient } from './analysis/prometheus.js';
import { parseFlags, usage, UsageError, type OperatorFlags } from './cli/options.js';
import { KubeHttp, requestDefaults } from './k8s/kube-http.js';
import { realClock } from './k8s/clock.js';
import { computeHealth } from './k8s/health.js';
import { LeaderElector } from './k8s/leader.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { MetricsAuth } from './metrics-auth.js';
import { planNotifications } from './notify/cloudevents.js';
import { loadSinks } from './notify/load.js';
import { Notifier } from './notify/sender.js';
import { Operator } from './operator.js';
import { startServer, type ServerOptions } from './server.js';
import { selfSignedCertificate } from './tls.js';

async function main(): Promise<number> {
  let flags: OperatorFlags;
  try {
    flags = parseFlags(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`modelship: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  const log = createLogger(flags.logLevel, flags.logFormat);
  // One name for this process: its leader-election identity and, in its User-Agent, the name the
  // apiserver's audit log gives each of its requests, so the writes of two replicas tell apart.
  const identity = `${hostname()}_${randomBytes(4).toString('hex')}`;
  requestDefaults.userAgent = `modelship (${process.platform}/${process.arch}) ${identity}`;
  requestDefaults.timeoutMs = flags.requestTimeoutMs;
  const kc = new k8s.KubeConfig();
  try {
    if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    log.error('cannot load a kubeconfig', {
      error: (err as Error).message,
      hint: 'pass --kubeconfig or run in a cluster',
    });
    return 1;
  }
  const metrics = new Metrics();
  const notifier = flags.notifyConfig ? startNotifier(flags.notifyConfig, metrics, log) : undefined;
  if (notifier === null) return 1;
  // With leader election, every write of the reconcilers goes through the elector's fence: it is
  // open only while this replica leads and has renewed within the renew deadline.
  const elector = flags.leaderElect
    ? new LeaderElector(new KubeHttp(kc), {
        namespace: flags.leaderElectionNamespace,
        name: flags.leaderElectionName,
        identity,
        onError: (err) => log.warn('leader election', { identity, error: err.message }),
      })
    : undefined;
  const operator = new Operator({
    ...(elector ? { fence: elector.fence } : {}),
    kc,
    log,
    ...(flags.namespaces ? { namespaces: flags.namespaces } : {}),
    concurrency: flags.concurrency,
    resyncMs: flags.resyncMs,
    discoveryIntervalMs: flags.routerDiscoveryMs,
    unreadyGraceMs: flags.unreadyGraceMs,
    settings: flags.settings,
    ...(flags.prometheusUrl
      ? { prometheus: prometheusClient({ url: flags.prometheusUrl, timeoutMs: flags.prometheusTimeoutMs }) }
      : {}),
    metricLabels: { namespace: flags.prometheusNamespaceLabel, revision: flags.prometheusRevisionLabel },
    queueObserver: (q) => metrics.queueObserver(q),
    onPlan: (md, plan, previous, startedAt) => {
      metrics.recordPlan(md, plan, previous, startedAt, Date.now());
      // The same plan.events the reconcile has just recorded as Kubernetes Events, after the status
      // that explains them was written; notify() only queues, the sinks' workers send.
      notifier?.notify(
        planNotifications({
          md,
          previous,
          status: plan.status,
          events: plan.events,
          now: Date.now(),
          newId: randomUUID,
        }),
      );
    },
    onGone: (namespace, name) => metrics.forget(namespace, name),
    podChecks: flags.preTrafficChecks,
    onEventLost: (why) => metrics.eventLost(why),
  });
  const server = flags.listen
    ? await startServer({
        listen: flags.listen,
        metrics,
        ready: () => operator.hasSynced(),
        ...metricsAccess(flags, kc, log),
        health: () =>
          computeHealth({
            now: realClock.now(),
            stallAfterMs: flags.stallTimeoutMs,
            queues: [
              { name: 'modeldeployment', ...operator.mdQueue.progress() },
              { name: 'modelversion', ...operator.mvQueue.progress() },
            ],
            ...(elector
              ? { leader: { state: elector.fence.state(), deadline: elector.renewDeadline() } }
              : {}),
          }),
      })
    : undefined;
  const bound = server?.address();
  if (bound && typeof bound === 'object')
    log.info('serving /healthz /readyz /metrics', {
      address: `${bound.address}:${bound.port}`,
      scheme: flags.tlsCertFile || flags.metricsAuth === 'kubernetes' ? 'https' : 'http',
      metricsAuth: flags.metricsAuth,
    });

  // `stopping` ends the campaign and the cache sync; the Lease is released only after the
  // workers have drained, so the next leader never overlaps with our last writes.
  const stopping = new AbortController();
  const leaseRelease = new AbortController();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const onSignal = (sig: string) => {
    if (stopping.signal.aborted) return;
    log.info('stopping: no new keys, finishing the ones in flight', { signal: sig });
    stopping.abort();
    void operator
      .stop()
      .then(() => notifier?.stop(NOTIFY_STOP_GRACE_MS))
      .then(() => leaseRelease.abort())
      .then(() => done());
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  log.info('starting', {
    identity,
    server: kc.getCurrentCluster()?.server,
    namespaces: flags.namespaces?.join(',') || 'all',
    concurrency: flags.concurrency,
    leaderElect: flags.leaderElect,
    listen: flags.listen || 'off',
  });
  try {
    await operator.startCaches(stopping.signal);
    if (elector) {
      const lost = await lead(
        flags,
        elector,
        identity,
        log,
        metrics,
        operator,
        stopping.signal,
        leaseRelease.signal,
      );
      if (lost) return 1;
    } else {
      metrics.setLeader(true);
      operator.startWorkers();
    }
  } catch (err) {
    if (!stopping.signal.aborted) throw err;
  }
  await finished;
  server?.close();
  log.info('stopped');
  return 0;
}

/** How long a stopping operator lets queued notifications go out before it drops them. */
const NOTIFY_STOP_GRACE_MS = 3_000;

/** The webhook sinks of --notify-config, or null (logged) when the file or a key cannot be used. */
function startNotifier(file: string, metrics: Metrics, log: Logger): Notifier | null {
  let sinks;
  try {
    sinks = loadSinks(file);
  } catch (err) {
    log.error('cannot use the notification config', { error: (err as Error).message });
    return null;
  }
  const counted = metrics.notifyObserver();
  log.info('notification sinks', {
    sinks: sinks.map((s) => `${s.name}=${new URL(s.url).origin}${s.key ? ' (signed)' : ''}`).join(', '),
  });
  return new Notifier(sinks, {
    ...counted,
    failed: (sink, type, attempt, attempts) => {
      counted.failed?.(sink, type, attempt, attempts);
      const answer = 'status' in attempt ? `HTTP ${attempt.status}` : attempt.error;
      log.warn('notification not delivered', { sink, type, attempts, answer });
    },
    dropped: (sink, type, why) => {
      counted.dropped?.(sink, type, why);
      log.warn('notification dropped', { sink, type, why });
    },
  });
}

/**
 * HTTPS and who may read /metrics. With --metrics-auth=kubernetes the scrapers' tokens must not
 * cross the network in clear: the given certificate, else a self-signed one made now.
 */
function metricsAccess(
  flags: OperatorFlags,
  kc: k8s.KubeConfig,
  log: Logger,
): Pick<ServerOptions, 'tls' | 'authorize' | 'onRefused'> {
  const tls =
    flags.tlsCertFile && flags.tlsKeyFile
      ? { cert: readFileSync(flags.tlsCertFile, 'utf8'), key: readFileSync(flags.tlsKeyFile, 'utf8') }
      : flags.metricsAuth === 'kubernetes'
        ? selfSignedCertificate([hostname(), 'localhost', '127.0.0.1', '::1'], new Date())
        : undefined;
  if (flags.metricsAuth === 'none') return tls ? { tls } : {};
  const auth = new MetricsAuth({ http: new KubeHttp(kc) });
  return {
    ...(tls ? { tls } : {}),
    authorize: (header, path) => auth.authorize(header, path),
    onRefused: (d) => log.debug('metrics request refused', { code: d.code, reason: d.reason }),
  };
}

/** Campaigns for the Lease, reconciles while holding it. Returns true when the lease was lost. */
async function lead(
  flags: OperatorFlags,
  elector: LeaderElector,
  identity: string,
  log: Logger,
  metrics: Metrics,
  operator: Operator,
  stopping: AbortSignal,
  release: AbortSignal,
): Promise<boolean> {
  // The instant the fence closes (renew deadline passed, or another holder in the record), not when
  // the renew loop next looks: stop taking keys and exit. The reconciles in flight cannot write any
  // more (their requests are refused or aborted by the fence), so nothing is left to wait for; as
  // controller-runtime does on a lost election, exit without a graceful drain.
  elector.onLost((reason) => {
    metrics.setLeader(false);
    void operator.mdQueue.shutdown();
    void operator.mvQueue.shutdown();
    log.error('leader election lost; exiting so that only one replica writes', { identity, reason });
    process.exit(1);
  });
  metrics.setLeader(false);
  log.info('campaigning for the lease', {
    lease: `${flags.leaderElectionNamespace}/${flags.leaderElectionName}`,
    identity,
  });
  await elector.acquire(stopping);
  metrics.setLeader(true);
  log.info('became the leader', { identity });
  operator.startWorkers();
  const outcome = await elector.holdUntilLost(release);
  metrics.setLeader(false);
  if (outcome === 'lost') return true; // onLost above has already exited
  log.info('lease released', { identity });
  return false;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`modelship: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
