// The data plane agent: the kubelet of one Node of the local cluster, running the pods bound to it
// as real processes (pod.ts). Started by hack/dataplane/up.sh with the path of its config; stopped
// with SIGTERM (its pods' processes are stopped and their sandboxes removed; the pod objects stay,
// as with a kubelet that stops). Usage: node agent.js <config.json>
import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Informer } from '../../../src/k8s/informer.js';
import { KubeHttp } from '../../../src/k8s/kube-http.js';
import { log, readConfig } from './config.js';
import { PodNetwork } from './network.js';
import { NodeHeartbeat } from './node.js';
import { PodWorker } from './pod.js';
import type { HostRoot } from './sandbox.js';

/** How long the pods' processes get on agent shutdown (cluster:down) before SIGKILL. */
const SHUTDOWN_GRACE_MS = 3000;

function hostRoot(): HostRoot {
  const entries = new Map<string, { type: 'dir' | 'file' | 'symlink'; target?: string }>();
  for (const name of readdirSync('/')) {
    const st = lstatSync(`/${name}`);
    if (st.isSymbolicLink()) entries.set(name, { type: 'symlink', target: readlinkSync(`/${name}`) });
    else if (st.isDirectory()) entries.set(name, { type: 'dir' });
    else if (st.isFile()) entries.set(name, { type: 'file' });
  }
  return {
    entries,
    stat: (p) => {
      try {
        return statSync(p).isDirectory() ? 'dir' : 'file';
      } catch {
        return undefined;
      }
    },
  };
}

const terminal = (p: V1Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: agent.js <config.json>');
  const cfg = readConfig(file);
  const kc = new KubeConfig();
  kc.loadFromFile(cfg.kubeconfig);
  const http = new KubeHttp(kc);
  const net = new PodNetwork(cfg);

  // What a previous agent that did not stop cleanly left behind.
  for (const ns of await net.existing()) {
    const slot = Number(ns.slice(cfg.netnsPrefix.length));
    await net.remove({ netns: ns, ip: '', slot }).catch(() => undefined);
  }

  const heartbeat = new NodeHeartbeat(http, cfg);
  await heartbeat.start();

  const workers = new Map<string, PodWorker>();
  const deps = { cfg, http, net, hostRoot };
  const informer = new Informer<V1Pod>(kc, {
    path: '/api/v1/pods',
    fieldSelector: `spec.nodeName=${cfg.nodeName}`,
  });
  const seen = (p: V1Pod): void => {
    const uid = p.metadata?.uid;
    if (!uid) return;
    const w = workers.get(uid);
    if (w) return w.update(p);
    if (terminal(p)) return;
    const worker = new PodWorker(p, deps);
    workers.set(uid, worker);
    log('info', 'pod added', { pod: `${p.metadata?.namespace}/${p.metadata?.name}`, uid });
    worker.start();
    worker.update(p); // a pod seen first while being deleted stops at once
  };
  informer.on('add', seen);
  informer.on('update', (_old, p) => seen(p));
  informer.on('delete', (p) => {
    const uid = p.metadata?.uid;
    const w = uid ? workers.get(uid) : undefined;
    if (!w || !uid) return;
    void w.removed().finally(() => workers.delete(uid));
  });
  informer.start();
  log('info', 'data plane agent running', { node: cfg.nodeName, cidr: cfg.cidr, bridge: cfg.bridge });

  let stopping = false;
  const stop = async (sig: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal: sig, pods: workers.size });
    heartbeat.stop();
    await informer.stop();
    await Promise.all([...workers.values()].map((w) => w.shutdown(SHUTDOWN_GRACE_MS)));
    log('info', 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e: unknown) => {
  log('error', 'data plane agent failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
});
