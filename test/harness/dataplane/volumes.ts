// A pod's volumes as directories on the node, as the kubelet materializes them before it starts
// any container: emptyDir (mode 0777, shared by the pod's containers; medium Memory is a plain
// directory here), configMap, secret and projected (configMap and secret sources) as files with
// their modes. Other volume types are refused with the kubelet's FailedMount wording, and the pod
// waits in ContainerCreating like one whose volume cannot be mounted.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { V1KeyToPath, V1Pod, V1Volume } from '@kubernetes/client-node';
import { ApiError, type KubeHttp } from '../../../src/k8s/kube-http.js';

export class VolumeError extends Error {
  override readonly name = 'VolumeError';
}

interface Source {
  /** key -> bytes */
  data: Map<string, Buffer>;
}

/** Reads the ConfigMaps and Secrets the pod's volumes name; the node may read only those. */
async function readSource(
  http: KubeHttp,
  kind: 'configmaps' | 'secrets',
  ns: string,
  name: string,
  optional: boolean,
  volume: string,
): Promise<Source | undefined> {
  let obj: { data?: Record<string, string>; binaryData?: Record<string, string> };
  try {
    obj = await http.request('GET', `/api/v1/namespaces/${ns}/${kind}/${name}`);
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) {
      if (optional) return undefined;
      throw new VolumeError(
        `MountVolume.SetUp failed for volume "${volume}" : ${kind === 'configmaps' ? 'configmap' : 'secret'} "${name}" not found`,
      );
    }
    throw new VolumeError(`MountVolume.SetUp failed for volume "${volume}" : ${(e as Error).message}`);
  }
  const data = new Map<string, Buffer>();
  if (kind === 'secrets') {
    for (const [k, v] of Object.entries(obj.data ?? {})) data.set(k, Buffer.from(v, 'base64'));
  } else {
    for (const [k, v] of Object.entries(obj.data ?? {})) data.set(k, Buffer.from(v, 'utf8'));
    for (const [k, v] of Object.entries(obj.binaryData ?? {})) data.set(k, Buffer.from(v, 'base64'));
  }
  return { data };
}

function writeItems(
  dir: string,
  src: Source,
  items: V1KeyToPath[] | undefined,
  mode: number,
  volume: string,
  optional: boolean,
): void {
  const entries: Array<[string, string, number]> = items
    ? items.map((i) => [i.key, i.path, i.mode ?? mode])
    : [...src.data.keys()].map((k) => [k, k, mode]);
  for (const [key, path, m] of entries) {
    const bytes = src.data.get(key);
    if (bytes === undefined) {
      if (optional) continue;
      throw new VolumeError(`MountVolume.SetUp failed for volume "${volume}" : key "${key}" not found`);
    }
    const rel = normalize(path);
    if (rel.startsWith('..') || rel.startsWith('/')) {
      throw new VolumeError(`volume "${volume}": item path ${path} leaves the volume`);
    }
    const file = join(dir, rel);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, bytes);
    chmodSync(file, m);
  }
}

/** Materializes every volume of the pod under `root`; returns volume name -> host directory. */
export async function prepareVolumes(pod: V1Pod, root: string, http: KubeHttp): Promise<Map<string, string>> {
  const ns = pod.metadata!.namespace!;
  const out = new Map<string, string>();
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  for (const v of pod.spec?.volumes ?? []) {
    const dir = join(root, v.name);
    mkdirSync(dir, { recursive: true });
    await prepareOne(v, dir, ns, http);
    if (v.emptyDir) chmodSync(dir, 0o777);
    else chmodSync(dir, 0o755);
    // fsGroup: the kubelet gives volumes to the pod's group, so the containers' user can read them.
    if (fsGroup !== undefined && !v.emptyDir) chownSync(dir, 0, fsGroup);
    out.set(v.name, dir);
  }
  return out;
}

async function prepareOne(v: V1Volume, dir: string, ns: string, http: KubeHttp): Promise<void> {
  if (v.emptyDir) return;
  if (v.configMap) {
    const c = v.configMap;
    const src = await readSource(http, 'configmaps', ns, c.name!, !!c.optional, v.name);
    if (src) writeItems(dir, src, c.items, c.defaultMode ?? 0o644, v.name, !!c.optional);
    return;
  }
  if (v.secret) {
    const s = v.secret;
    const src = await readSource(http, 'secrets', ns, s.secretName!, !!s.optional, v.name);
    if (src) writeItems(dir, src, s.items, s.defaultMode ?? 0o644, v.name, !!s.optional);
    return;
  }
  if (v.projected) {
    const mode = v.projected.defaultMode ?? 0o644;
    for (const p of v.projected.sources ?? []) {
      if (p.configMap) {
        const c = p.configMap;
        const src = await readSource(http, 'configmaps', ns, c.name!, !!c.optional, v.name);
        if (src) writeItems(dir, src, c.items, mode, v.name, !!c.optional);
      } else if (p.secret) {
        const s = p.secret;
        const src = await readSource(http, 'secrets', ns, s.name!, !!s.optional, v.name);
        if (src) writeItems(dir, src, s.items, mode, v.name, !!s.optional);
      } else {
        const kind =
          Object.keys(p).find((k) => (p as unknown as Record<string, unknown>)[k] !== undefined) ?? '?';
        throw new VolumeError(
          `MountVolume.SetUp failed for volume "${v.name}" : the data plane does not support projected ${kind} sources`,
        );
      }
    }
    return;
  }
  const kind =
    Object.keys(v).find((k) => k !== 'name' && (v as unknown as Record<string, unknown>)[k] !== undefined) ??
    '?';
  throw new VolumeError(
    `MountVolume.SetUp failed for volume "${v.name}" : the data plane does not support ${kind} volumes`,
  );
}
