// How the data plane's kubelet tells the apiserver about a pod: its status (computed from the
// record by status.ts, written with a strategic merge patch when it changed; several changes in a
// row make one write) and Events (kubelet's reasons), never failing the pod's work.
import type { V1Pod } from '@kubernetes/client-node';
import { ApiError, type KubeHttp } from '../../../src/k8s/kube-http.js';
import { log } from './config.js';
import { computePodStatus, type PodRecord, type PodStatusJson } from './status.js';
import { nowIso } from './time.js';

export class PodReporter {
  private lastWritten: PodStatusJson | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  /** The pod object is gone (or replaced): nothing more to write. */
  private gone = false;

  constructor(
    private readonly http: KubeHttp,
    private readonly nodeName: string,
    private readonly pod: () => V1Pod,
    private readonly rec: PodRecord,
  ) {}

  stop(): void {
    this.gone = true;
  }

  /** Writes the status soon. */
  publish(): void {
    this.dirty = true;
    this.writing ??= this.flush().finally(() => {
      this.writing = undefined;
      if (this.dirty && !this.gone) this.publish();
    });
  }

  private async flush(): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
    while (this.dirty && !this.gone) {
      this.dirty = false;
      const pod = this.pod();
      const previous = [
        ...(this.lastWritten?.conditions ?? []),
        ...(pod.status?.conditions ?? []).filter((x) => x.type === 'PodScheduled'),
      ];
      const status = computePodStatus(this.rec, previous, nowIso());
      if (this.lastWritten && JSON.stringify(status) === JSON.stringify(this.lastWritten)) continue;
      const m = pod.metadata!;
      // Strategic merge: conditions merge by type, so a condition that turns True must drop the
      // reason and message it had (null deletes a field). The uid makes a write to a pod replaced
      // under the same name fail instead of landing on it.
      const patch = {
        metadata: { uid: m.uid },
        status: {
          ...status,
          conditions: status.conditions.map((x) => ({ reason: null, message: null, ...x })),
        },
      };
      try {
        await this.http.request('PATCH', `/api/v1/namespaces/${m.namespace}/pods/${m.name}/status`, {
          body: patch,
          contentType: 'application/strategic-merge-patch+json',
        });
        this.lastWritten = status;
      } catch (e) {
        if (e instanceof ApiError && (e.code === 404 || e.code === 422)) {
          if (e.code === 422)
            log('error', 'status refused', { pod: `${m.namespace}/${m.name}`, error: e.message });
          this.gone = true;
          return;
        }
        log('warn', 'status write failed', { pod: `${m.namespace}/${m.name}`, error: String(e) });
        this.dirty = true;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string, container?: string): void {
    const m = this.pod().metadata!;
    const t = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${m.name}.`, namespace: m.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        ...(container ? { fieldPath: `spec.containers{${container}}` } : {}),
      },
      reason,
      message,
      type,
      source: { component: 'kubelet', host: this.nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: this.nodeName,
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
    };
    this.http.request('POST', `/api/v1/namespaces/${m.namespace}/events`, { body }).catch(() => undefined);
  }
}
