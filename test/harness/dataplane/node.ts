// The data plane's Node, registered and kept Ready as a kubelet does: the Node object (labels, a
// NoSchedule taint only the data plane's pods tolerate, addresses, capacity), its Ready condition,
// and its Lease in kube-node-lease renewed every 10 s, which the node lifecycle controller reads as
// the heartbeat. kwok does not manage it: kwok takes only nodes annotated kwok.x-k8s.io/node=fake.
import { ApiError, type KubeHttp } from '../../../src/k8s/kube-http.js';
import { log, type DataPlaneConfig } from './config.js';

const LEASE_SECONDS = 40;
const RENEW_MS = 10_000;
/** The kubelet's nodeStatusReportFrequency when nothing changes is 5 min; 1 min here. */
const STATUS_MS = 60_000;

const micro = (d: Date): string => d.toISOString().replace('Z', '000Z');

export function nodeObject(cfg: DataPlaneConfig): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: cfg.nodeName,
      labels: {
        'kubernetes.io/hostname': cfg.nodeName,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'dataplane',
        [cfg.nodeLabel]: 'true',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: {
      podCIDR: cfg.cidr,
      podCIDRs: [cfg.cidr],
      taints: [{ key: cfg.nodeLabel, value: 'true', effect: 'NoSchedule' }],
    },
  };
}

function nodeStatus(cfg: DataPlaneConfig, now: Date): object {
  const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: t,
    lastTransitionTime: t,
  });
  // Nominal capacity: the scheduler only needs room for the tests' pods (their requests are
  // bookkeeping here; nothing enforces them).
  const capacity = { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    capacity,
    allocatable: capacity,
    addresses: [
      { type: 'InternalIP', address: cfg.gateway },
      { type: 'Hostname', address: cfg.nodeName },
    ],
    conditions: [
      cond(
        'MemoryPressure',
        'False',
        'KubeletHasSufficientMemory',
        'kubelet has sufficient memory available',
      ),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      cond('Ready', 'True', 'KubeletReady', 'modelship data plane agent is posting ready status'),
    ],
    nodeInfo: {
      architecture: 'amd64',
      operatingSystem: 'linux',
      kubeletVersion: 'v1.34.4-modelship-dataplane',
      kubeProxyVersion: '',
      containerRuntimeVersion: 'dataplane://0',
      osImage: 'modelship data plane',
      kernelVersion: '',
      bootID: '',
      machineID: '',
      systemUUID: '',
    },
  };
}

export class NodeHeartbeat {
  private timers: Array<ReturnType<typeof setInterval>> = [];

  constructor(
    private readonly http: KubeHttp,
    private readonly cfg: DataPlaneConfig,
  ) {}

  /** Registers the node (or takes over the existing one) and starts the heartbeats. */
  async start(): Promise<void> {
    const name = this.cfg.nodeName;
    try {
      await this.http.request('POST', '/api/v1/nodes', { body: nodeObject(this.cfg) });
      log('info', 'node registered', { node: name });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
      // Ours from an earlier run: the same labels, taint and CIDR again.
      await this.http.request('PATCH', `/api/v1/nodes/${name}`, {
        body: nodeObject(this.cfg),
        contentType: 'application/merge-patch+json',
      });
      log('info', 'node taken over', { node: name });
    }
    await this.writeStatus();
    await this.renewLease();
    this.timers.push(
      setInterval(
        () =>
          void this.renewLease().catch((e: unknown) =>
            log('warn', 'lease renewal failed', { error: String(e) }),
          ),
        RENEW_MS,
      ),
      setInterval(
        () =>
          void this.writeStatus().catch((e: unknown) =>
            log('warn', 'node status failed', { error: String(e) }),
          ),
        STATUS_MS,
      ),
    );
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private async writeStatus(): Promise<void> {
    await this.http.request('PATCH', `/api/v1/nodes/${this.cfg.nodeName}/status`, {
      body: { status: nodeStatus(this.cfg, new Date()) },
      contentType: 'application/strategic-merge-patch+json',
    });
  }

  private async renewLease(): Promise<void> {
    const name = this.cfg.nodeName;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const spec = { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, renewTime: micro(new Date()) };
    try {
      await this.http.request('PATCH', path, { body: { spec }, contentType: 'application/merge-patch+json' });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
      await this.http.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace: 'kube-node-lease' },
          spec,
        },
      });
    }
  }
}
