// What one run of a container needs, from the pod spec: its mounts (the pod's volumes, the image's
// paths, the termination-message file), its user (runAsUser/runAsGroup, fsGroup and
// supplementalGroups as groups), its environment (the image's, HOSTNAME, the container's env with
// fieldRef values) and its argv; the sandbox spec (sandbox.ts) that runs it. What the data plane
// cannot do fails here with a SandboxError naming it (the pod shows CreateContainerError).
import type { EnvSources } from './env-sources.js';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { containerArgv, type ResolvedImage } from './images.js';
import { SandboxError, type SandboxMount, type SandboxSpec } from './sandbox.js';

export interface ContainerContext {
  pod: V1Pod;
  container: V1Container;
  image: ResolvedImage;
  /** Volume name -> host directory. */
  volumes: ReadonlyMap<string, string>;
  /** This run's directory (the root mount point, overlays) and its termination-message file. */
  dir: string;
  termLog: string;
  startErrorFile: string;
  podIP: string;
  nodeName: string;
  hostIP: string;
  /** Is a host path a directory (else a file)? */
  isDir: (path: string) => boolean;
  /** What envFrom and valueFrom key references read (env-sources.ts). */
  envSources?: EnvSources;
}

export interface ContainerRun {
  spec: SandboxSpec;
  env: Array<[string, string]>;
  user?: { uid: number; gid: number; groups: number[] };
}

export function containerRun(x: ContainerContext): ContainerRun {
  const { pod, container: c, image } = x;
  const mounts: SandboxMount[] = [];
  for (const vm of c.volumeMounts ?? []) {
    if (vm.subPath || vm.subPathExpr) {
      throw new SandboxError(`volume mount ${vm.name}: subPath is not supported by the data plane`);
    }
    const source = x.volumes.get(vm.name);
    if (!source) throw new SandboxError(`volume mount ${vm.name}: the pod has no volume of that name`);
    mounts.push({ path: vm.mountPath, source, kind: 'dir', readOnly: !!vm.readOnly });
  }
  for (const [path, source] of Object.entries(image.paths)) {
    mounts.push({ path, source, kind: x.isDir(source) ? 'dir' : 'file', readOnly: true });
  }
  mounts.push({
    path: c.terminationMessagePath || '/dev/termination-log',
    source: x.termLog,
    kind: 'file',
    readOnly: false,
  });

  const psc = pod.spec?.securityContext ?? {};
  const csc = c.securityContext ?? {};
  const uid = csc.runAsUser ?? psc.runAsUser;
  const gid = csc.runAsGroup ?? psc.runAsGroup ?? 0;
  // The kubelet's check; without an image user to look at, an unset runAsUser counts as root.
  if ((csc.runAsNonRoot ?? psc.runAsNonRoot) && (uid === undefined || uid === 0)) {
    throw new SandboxError('container has runAsNonRoot and image will run as root');
  }
  const groups = [...(psc.fsGroup !== undefined ? [psc.fsGroup] : []), ...(psc.supplementalGroups ?? [])];
  const user = uid === undefined || uid === 0 ? undefined : { uid, gid, groups };

  const env = new Map<string, string>(Object.entries(image.env));
  env.set('HOSTNAME', pod.metadata!.name!);
  // As the kubelet: envFrom first, then env, which wins over a key of the same name.
  for (const [k, v] of x.envSources?.from ?? []) env.set(k, v);
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
      const v = x.envSources?.refs.get(e.name);
      if (v !== undefined) env.set(e.name, v);
      continue;
    }
    env.set(e.name, envValue(e, x));
  }
  // What container runtimes set for a user without a home in the image.
  if (!env.has('HOME')) env.set('HOME', '/');
  const envList = [...env.entries()];

  return {
    spec: {
      root: `${x.dir}/root`,
      scratch: x.dir,
      hostname: pod.metadata!.name!,
      mounts,
      readOnlyRootFilesystem: !!csc.readOnlyRootFilesystem,
      ...(user ? { user } : {}),
      workingDir: c.workingDir || '/',
      env: envList,
      argv: containerArgv(image, c.command, c.args),
      startErrorFile: x.startErrorFile,
    },
    env: envList,
    ...(user ? { user } : {}),
  };
}

function envValue(e: NonNullable<V1Container['env']>[number], x: ContainerContext): string {
  if (e.value !== undefined) return e.value;
  if (e.valueFrom === undefined) return '';
  const m = x.pod.metadata!;
  const fields: Record<string, string | undefined> = {
    'metadata.name': m.name,
    'metadata.namespace': m.namespace,
    'metadata.uid': m.uid,
    'spec.nodeName': x.nodeName,
    'spec.serviceAccountName': x.pod.spec?.serviceAccountName,
    'status.podIP': x.podIP,
    'status.hostIP': x.hostIP,
  };
  const f = e.valueFrom.fieldRef?.fieldPath;
  if (f !== undefined && f in fields) return fields[f] ?? '';
  throw new SandboxError(
    `env ${e.name}: the data plane supports value and fieldRef (${Object.keys(fields).join(', ')}) only`,
  );
}
