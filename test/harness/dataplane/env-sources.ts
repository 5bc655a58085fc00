// The values a container's environment reads from ConfigMaps and Secrets (envFrom, and env's
// valueFrom configMapKeyRef / secretKeyRef), read from the apiserver before the container starts, as
// a kubelet does. A missing object or key that is not optional keeps the container from being
// created: the kubelet's CreateContainerConfigError, with its wording.
import type { V1Container } from '@kubernetes/client-node';
import { ApiError, type KubeHttp } from '../../../src/k8s/kube-http.js';

export class ConfigError extends Error {}

export interface EnvSources {
  /** envFrom, in order: each source's keys that are valid variable names, with its prefix. */
  from: Array<[string, string]>;
  /** env[].valueFrom configMapKeyRef / secretKeyRef: variable -> value (absent: optional and missing). */
  refs: Map<string, string>;
}

type Kind = 'configmaps' | 'secrets';
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export async function resolveEnvSources(http: KubeHttp, ns: string, c: V1Container): Promise<EnvSources> {
  const cache = new Map<string, Map<string, string> | undefined>();
  const read = async (kind: Kind, name: string): Promise<Map<string, string> | undefined> => {
    const k = `${kind}/${name}`;
    if (!cache.has(k)) cache.set(k, await fetchData(http, kind, ns, name));
    return cache.get(k);
  };
  const what = (kind: Kind): string => (kind === 'secrets' ? 'secret' : 'configmap');

  const from: Array<[string, string]> = [];
  for (const f of c.envFrom ?? []) {
    const [kind, ref] = f.secretRef
      ? (['secrets', f.secretRef] as const)
      : (['configmaps', f.configMapRef] as const);
    if (!ref?.name) continue;
    const data = await read(kind, ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new ConfigError(`${what(kind)} "${ref.name}" not found`);
    }
    for (const [key, value] of [...data.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const name = `${f.prefix ?? ''}${key}`;
      if (ENV_NAME.test(name)) from.push([name, value]);
    }
  }
  const refs = new Map<string, string>();
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
    if (!ref) continue;
    const kind: Kind = e.valueFrom?.secretKeyRef ? 'secrets' : 'configmaps';
    const data = await read(kind, ref.name!);
    const value = data?.get(ref.key);
    if (value === undefined) {
      if (ref.optional) continue;
      throw new ConfigError(
        data
          ? `couldn't find key ${ref.key} in ${what(kind) === 'secret' ? 'Secret' : 'ConfigMap'} ${ns}/${ref.name}`
          : `${what(kind)} "${ref.name}" not found`,
      );
    }
    refs.set(e.name, value);
  }
  return { from, refs };
}

async function fetchData(
  http: KubeHttp,
  kind: Kind,
  ns: string,
  name: string,
): Promise<Map<string, string> | undefined> {
  let obj: { data?: Record<string, string> };
  try {
    obj = await http.request('GET', `/api/v1/namespaces/${ns}/${kind}/${name}`);
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) return undefined;
    throw new ConfigError(`reading ${kind} ${ns}/${name}: ${(e as Error).message}`);
  }
  const decode = (v: string): string => (kind === 'secrets' ? Buffer.from(v, 'base64').toString('utf8') : v);
  return new Map(Object.entries(obj.data ?? {}).map(([k, v]) => [k, decode(v)]));
}
