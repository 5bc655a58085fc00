// The manifests the benchmarks apply: ModelVersions, ModelDeployments, and the plain-workload
// baseline copied from what the operator rendered for one ModelDeployment.
import { LABEL_MANAGED_BY, MANAGED_BY } from '../src/core/labels.js';
import type { KubeHttp } from '../src/k8s/kube-http.js';
import { sampleModelVersion } from '../test/harness/objects.js';
import type { Obj } from './lib.js';

export const GV = 'modelship.io/v1alpha1';
export const FAULT = 'fault.modelship.test/mode';

export function modelVersion(ns: string, model: string, version: string): Obj {
  // Obj is the benchmarks' untyped manifest; the sample is a typed ModelVersion.
  return sampleModelVersion(model, version, ns) as unknown as Obj;
}

export interface MdOpts {
  replicas: number;
  router: 'service' | 'gatewayApi';
  crash?: boolean;
  /** A kwok fault for the pods (hack/cluster/kwok-stages.yaml); `crash: true` is `crashloop`. */
  fault?: 'crashloop' | 'never-ready';
  /** strategy.progressDeadlineSeconds (the CRD's default when absent). */
  progressDeadlineSeconds?: number;
  /** Canary steps; the default walks 50% for 1 s and promotes. */
  steps?: unknown[];
}

export function modelDeployment(ns: string, name: string, version: string, o: MdOpts): Obj {
  const fault = o.fault ?? (o.crash ? 'crashloop' : undefined);
  return {
    apiVersion: GV,
    kind: 'ModelDeployment',
    metadata: { name, namespace: ns },
    spec: {
      model: name,
      version,
      replicas: o.replicas,
      ...(fault ? { pod: { annotations: { [FAULT]: fault } } } : {}),
      strategy: {
        type: 'Canary',
        ...(o.progressDeadlineSeconds ? { progressDeadlineSeconds: o.progressDeadlineSeconds } : {}),
        canary: {
          steps: o.steps ?? [{ setWeight: 50 }, { pause: { duration: '1s' } }],
          scaleDownDelaySeconds: 0,
        },
      },
      traffic:
        o.router === 'gatewayApi'
          ? { router: 'gatewayApi', gatewayApi: { parentRefs: [{ name: 'gw' }] } }
          : { router: 'service' },
    },
  };
}

export const mdName = (i: number): string => `m${String(i).padStart(5, '0')}`;

/** The ModelDeployment is Ready for its current generation, serving `version` as stable. */
export function mdReady(o: Obj, version?: string): boolean {
  const s = o.status as
    | {
        observedGeneration?: number;
        stableVersion?: string;
        canaryRevision?: string;
        conditions?: Array<{ type: string; status: string }>;
      }
    | undefined;
  return (
    s?.observedGeneration === o.metadata.generation &&
    (version === undefined || s?.stableVersion === version) &&
    !s?.canaryRevision &&
    (s?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** A Deployment whose current generation has every replica updated and available. */
export function deploymentReady(o: Obj): boolean {
  const want = (o.spec?.replicas as number | undefined) ?? 1;
  const s = o.status as
    { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number } | undefined;
  return (
    s?.observedGeneration === o.metadata.generation &&
    s?.updatedReplicas === want &&
    s?.availableReplicas === want
  );
}

/**
 * The children the operator rendered for one settled ModelDeployment (its revision Deployment,
 * ConfigMap and Services), stripped of owner references and server fields: a template for the
 * baseline, so the plain workloads have exactly the operator's pod spec.
 */
export async function captureChildren(http: KubeHttp, ns: string, md: string): Promise<Obj[]> {
  const sel = { labelSelector: `modelship.io/deployment=${md}` };
  const out: Obj[] = [];
  const abort = new AbortController();
  for (const [path, apiVersion, kind] of [
    [`/apis/apps/v1/namespaces/${ns}/deployments`, 'apps/v1', 'Deployment'],
    [`/api/v1/namespaces/${ns}/configmaps`, 'v1', 'ConfigMap'],
    [`/api/v1/namespaces/${ns}/services`, 'v1', 'Service'],
  ] as const) {
    const l = await http.getJson<{ items: Obj[] }>(path, sel, abort.signal);
    for (const o of l.items) {
      const spec = { ...(o.spec ?? {}) } as Record<string, unknown>;
      // The apiserver allocates these; a copy that carried them would clash.
      delete spec.clusterIP;
      delete spec.clusterIPs;
      out.push({
        apiVersion,
        kind,
        metadata: {
          name: o.metadata.name,
          ...(o.metadata.labels ? { labels: o.metadata.labels } : {}),
          ...(o.metadata.annotations ? { annotations: o.metadata.annotations } : {}),
        },
        ...(o.spec ? { spec } : {}),
        ...((o as unknown as { data?: unknown }).data
          ? { data: (o as unknown as { data: unknown }).data }
          : {}),
      } as Obj);
    }
  }
  return out;
}

/** The operator's managed-by label as JSON, and what the plain copies carry in its place. */
const label = (value: string): string => JSON.stringify({ [LABEL_MANAGED_BY]: value }).slice(1, -1);
const OURS = label(MANAGED_BY);
const PLAIN = label('modelship-bench-plain');

/**
 * Copy `i` of the captured children in `ns`: every occurrence of the template's name renamed, and
 * `app.kubernetes.io/managed-by` (on the objects and the pod template) no longer `modelship`. The
 * operator selects what it caches by that label: with it, the running operator cached and watched
 * every plain copy and its pods and reconciled a key per copy, work on the baseline's side (run 10
 * found it: 74.6 core-seconds of the operator's during a baseline of 9,900).
 */
export function plainCopy(template: Obj[], from: string, to: string, ns: string): Obj[] {
  return template.map((o) => {
    const json = JSON.stringify(o).split(from).join(to).split(OURS).join(PLAIN);
    const c = JSON.parse(json) as Obj;
    c.metadata.namespace = ns;
    return c;
  });
}
