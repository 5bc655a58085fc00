// The data plane's configuration, written by hack/dataplane/up.sh as JSON into its state directory
// ($MODELSHIP_RUN_DIR/dataplane/config.json) and read by the agent and the tests.
import { readFileSync } from 'node:fs';

export interface DataPlaneConfig {
  /** The Node the agent is the kubelet of. */
  nodeName: string;
  /** Label and taint key that keep every other pod off the node (value "true", NoSchedule). */
  nodeLabel: string;
  /** The node's credentials: user system:node:<nodeName>, group system:nodes. */
  kubeconfig: string;
  /** Pods' volumes, sandboxes and logs live under it. */
  stateDir: string;
  /** The harness's bridge, its address (the node's InternalIP) and the pods' subnet. */
  bridge: string;
  gateway: string;
  cidr: string;
  prefixLength: number;
  /** Network namespaces are <netnsPrefix><n>; host ends of veth pairs <vethPrefix><n>. */
  netnsPrefix: string;
  vethPrefix: string;
  images: {
    tritonDir?: string;
    caBundle?: string;
    awscliDir?: string;
    filesDir: string;
  };
  /** The model store: an HTTPS server on the bridge, serving `dir`. */
  store: { url: string; dir: string; caFile: string };
  /** The S3 store (versitygw) on the bridge: buckets are the folders of `dir`. */
  s3: { endpoint: string; dir: string; accessKey: string; secretKey: string };
}

export function readConfig(file: string): DataPlaneConfig {
  return JSON.parse(readFileSync(file, 'utf8')) as DataPlaneConfig;
}

/** One structured log line on stdout. */
export function log(
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields: Record<string, unknown> = {},
): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
}
