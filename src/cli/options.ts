// The operator's command line: flags, each with an environment variable (for the Deployment), and
// a clear error for anything it does not understand. Pure: argv and env in, options or an error out.
import { parseDuration } from '../core/duration.js';
import { DEFAULT_MODEL_STORE_SIZE_LIMIT } from '../runtimes/common/pod.js';
import { DEFAULT_IMAGES, type ImageName } from '../runtimes/images.js';
import type { RuntimeSettings } from '../runtimes/types.js';
import { scanArgs, UsageError } from './argv.js';

export interface OperatorFlags {
  kubeconfig: string | undefined;
  namespaces: string[] | undefined;
  concurrency: number;
  unreadyGraceMs: number;
  resyncMs: number;
  routerDiscoveryMs: number;
  requestTimeoutMs: number;
  stallTimeoutMs: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFormat: 'json' | 'text';
  listen: string;
  /** kubernetes: /metrics needs a token the apiserver authorizes for get /metrics; none: open. */
  metricsAuth: 'kubernetes' | 'none';
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionName: string;
  /** What the runtimes render with: the images and the model store's size limit. */
  settings: RuntimeSettings;
  /** Metric analysis: the Prometheus HTTP API (undefined: none), its timeout, the label names. */
  prometheusUrl: string | undefined;
  prometheusTimeoutMs: number;
  prometheusNamespaceLabel: string;
  prometheusRevisionLabel: string;
  /** Notifications: the file that lists the webhook sinks (undefined: none). */
  notifyConfig: string | undefined;
  /** The pre-traffic checks that call a new revision's pods (loaded interface, smoke test). */
  preTrafficChecks: boolean;
  help: boolean;
}

interface FlagSpec {
  env: string;
  help: string;
  default?: string;
  boolean?: boolean;
}

export const FLAGS: Record<string, FlagSpec> = {
  kubeconfig: {
    env: 'KUBECONFIG',
    help: 'kubeconfig file; default: $KUBECONFIG, ~/.kube/config, or in-cluster',
  },
  namespaces: { env: 'MODELSHIP_NAMESPACES', help: 'comma-separated namespaces to watch; default: all' },
  concurrency: {
    env: 'MODELSHIP_CONCURRENCY',
    default: '4',
    help: 'ModelDeployments reconciled in parallel',
  },
  'unready-grace': {
    env: 'MODELSHIP_UNREADY_GRACE',
    default: '10s',
    help: 'how long a revision that had been Ready may stay unready before it counts as failed',
  },
  resync: {
    env: 'MODELSHIP_RESYNC',
    default: '5m',
    help: 'period of the full resync of every cached object',
  },
  'router-discovery-interval': {
    env: 'MODELSHIP_ROUTER_DISCOVERY_INTERVAL',
    default: '30s',
    help: 'how often to look for Gateway API and Istio CRDs installed or removed since the start; 0s: only at start',
  },
  'request-timeout': {
    env: 'MODELSHIP_REQUEST_TIMEOUT',
    default: '30s',
    help: 'limit of one API request (a watch: until it is answered); a request past it fails and is retried',
  },
  'stall-timeout': {
    env: 'MODELSHIP_STALL_TIMEOUT',
    default: '3m',
    help: '/healthz fails when work is pending and no reconcile started or finished for this long',
  },
  'log-level': { env: 'MODELSHIP_LOG_LEVEL', default: 'info', help: 'error | warn | info | debug' },
  'log-format': { env: 'MODELSHIP_LOG_FORMAT', default: 'json', help: 'json (one line per decision) | text' },
  listen: {
    env: 'MODELSHIP_LISTEN',
    default: ':8080',
    help: 'address of /healthz, /readyz and /metrics; --listen= turns it off',
  },
  'metrics-auth': {
    env: 'MODELSHIP_METRICS_AUTH',
    default: 'kubernetes',
    help: 'who may read /metrics: kubernetes (a bearer token the apiserver authorizes for get /metrics; served over https) | none (anyone who reaches --listen)',
  },
  'tls-cert-file': {
    env: 'MODELSHIP_TLS_CERT_FILE',
    help: 'PEM certificate of the https server; default with --metrics-auth=kubernetes: a self-signed one made at start',
  },
  'tls-key-file': { env: 'MODELSHIP_TLS_KEY_FILE', help: 'PEM private key of --tls-cert-file' },
  'leader-elect': {
    env: 'MODELSHIP_LEADER_ELECT',
    boolean: true,
    default: 'false',
    help: 'run several replicas; only the Lease holder reconciles',
  },
  'leader-election-namespace': {
    env: 'MODELSHIP_LEADER_ELECTION_NAMESPACE',
    help: 'namespace of the Lease; default: $POD_NAMESPACE, else modelship-system',
  },
  'leader-election-name': {
    env: 'MODELSHIP_LEADER_ELECTION_NAME',
    default: 'modelship',
    help: 'name of the Lease',
  },
  ...imageFlags(),
  'model-store-size-limit': {
    env: 'MODELSHIP_MODEL_STORE_SIZE_LIMIT',
    default: DEFAULT_MODEL_STORE_SIZE_LIMIT,
    help: "sizeLimit of the model pods' model store (emptyDir), e.g. 200Gi; --model-store-size-limit= sets none",
  },
  'prometheus-url': {
    env: 'MODELSHIP_PROMETHEUS_URL',
    help: 'Prometheus HTTP API that metric analysis queries, e.g. http://prometheus.monitoring:9090; default: none (analysis checks hold with PrometheusNotConfigured)',
  },
  'prometheus-timeout': {
    env: 'MODELSHIP_PROMETHEUS_TIMEOUT',
    default: '5s',
    help: 'limit of one Prometheus query; a query past it counts as Prometheus unavailable (the rollout holds)',
  },
  'prometheus-namespace-label': {
    env: 'MODELSHIP_PROMETHEUS_NAMESPACE_LABEL',
    default: 'namespace',
    help: "target label that holds a model-server pod's namespace in Prometheus",
  },
  'prometheus-revision-label': {
    env: 'MODELSHIP_PROMETHEUS_REVISION_LABEL',
    default: 'modelship_io_revision',
    help: "target label that holds a pod's modelship.io/revision label in Prometheus (labelmap of __meta_kubernetes_pod_label_(.+) makes it modelship_io_revision)",
  },
  'notify-config': {
    env: 'MODELSHIP_NOTIFY_CONFIG',
    help: 'YAML file listing the webhook sinks that receive rollout notifications as signed CloudEvents (docs/operations.md); default: none',
  },
  'pre-traffic-checks': {
    env: 'MODELSHIP_PRE_TRAFFIC_CHECKS',
    boolean: true,
    default: 'true',
    help: "before traffic moves to a new Triton revision, compare the interface its pods loaded with the declared one and send the ModelVersion's smokeTest samples (docs/rollouts.md); false skips both (webhook gates still apply)",
  },
  help: { env: '', boolean: true, help: 'show this help' },
};

/** One flag per image modelship renders (src/runtimes/images.ts), e.g. --image-fetch-s3. */
function imageFlags(): Record<string, FlagSpec> {
  const what: Record<ImageName, string> = {
    triton: 'Triton model server',
    torchserve: 'TorchServe model server',
    fetchS3: 'fetch-model init container for s3:// (needs sh, sha256sum, aws)',
    fetchGs: 'fetch-model init container for gs:// (needs sh, sha256sum, gcloud)',
    fetchHttps: 'fetch-model init container for https:// (needs sh, sha256sum, curl)',
    fetchPvc: 'fetch-model init container for pvc:// (needs sh, sha256sum, cp)',
    unpack:
      'unpack-model init container for .tar.gz artifacts, verify-model for directories with a digest (needs sh, tar, find, sort, sed, sha256sum)',
  };
  return Object.fromEntries(
    (Object.keys(DEFAULT_IMAGES) as ImageName[]).map((name) => [
      imageFlag(name),
      {
        env: `MODELSHIP_IMAGE_${kebab(name).toUpperCase().replace(/-/g, '_')}`,
        default: DEFAULT_IMAGES[name],
        help: `image of the ${what[name]}`,
      },
    ]),
  );
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function imageFlag(name: ImageName): string {
  return `image-${kebab(name)}`;
}

// An image reference without whitespace, optionally pinned by a sha256 digest; the registry
// decides the rest.
const IMAGE_REF = /^[a-zA-Z0-9][^\s@]*(@sha256:[0-9a-f]{64})?$/;
// The usual forms of a Kubernetes quantity for a size: a number and a binary or decimal suffix.
const SIZE = /^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export { UsageError };

export function parseFlags(argv: string[], env: Record<string, string | undefined>): OperatorFlags {
  const raw: Record<string, string> = {};
  for (const [name, spec] of Object.entries(FLAGS)) {
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') raw[name] = fromEnv;
    else if (spec.default !== undefined) raw[name] = spec.default;
  }
  const syntax = Object.fromEntries(
    Object.entries(FLAGS).map(([name, s]) => [name, { takesValue: !s.boolean }]),
  );
  for (const t of scanArgs(argv, syntax)) {
    if (t.kind !== 'flag') throw new UsageError(`unknown argument ${JSON.stringify(t.arg)}; see --help`);
    if (FLAGS[t.name]!.boolean) {
      raw[t.name] = t.value ?? 'true';
      continue;
    }
    if (t.value === undefined) throw new UsageError(`--${t.name} needs a value`);
    raw[t.name] = t.value;
  }
  const bool = (name: string): boolean => {
    const v = raw[name] ?? 'false';
    if (v !== 'true' && v !== 'false')
      throw new UsageError(`--${name}: ${JSON.stringify(v)}; use true or false`);
    return v === 'true';
  };
  const duration = (name: string): number => {
    const ms = parseDuration(raw[name]!);
    if (ms === undefined)
      throw new UsageError(`--${name}: ${JSON.stringify(raw[name])} is not a duration (e.g. 10s, 5m, 1h30m)`);
    return ms;
  };
  const positive = (name: string): number => {
    const ms = duration(name);
    if (!(ms > 0)) throw new UsageError(`--${name}: ${JSON.stringify(raw[name])} must be longer than 0`);
    return ms;
  };
  const concurrency = Number(raw.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new UsageError(
      `--concurrency: ${JSON.stringify(raw.concurrency)} is not a whole number from 1 to 256`,
    );
  }
  const level = raw['log-level'];
  if (!['error', 'warn', 'info', 'debug'].includes(level!))
    throw new UsageError(`--log-level: ${JSON.stringify(level)}; use error, warn, info or debug`);
  const format = raw['log-format'];
  if (format !== 'json' && format !== 'text')
    throw new UsageError(`--log-format: ${JSON.stringify(format)}; use json or text`);
  const image = (name: ImageName): string => {
    const v = raw[imageFlag(name)]!;
    if (!IMAGE_REF.test(v))
      throw new UsageError(
        `--${imageFlag(name)}: ${JSON.stringify(v)} is not an image reference (e.g. registry.example/busybox:1.37.0@sha256:<64 hex>)`,
      );
    return v;
  };
  const sizeLimit = raw['model-store-size-limit'] ?? '';
  if (sizeLimit !== '' && (!SIZE.test(sizeLimit) || Number(SIZE.exec(sizeLimit)![1]) === 0))
    throw new UsageError(
      `--model-store-size-limit: ${JSON.stringify(sizeLimit)} is not a size (e.g. 50Gi, 200G); --model-store-size-limit= sets none`,
    );
  const metricsAuth = raw['metrics-auth'];
  if (metricsAuth !== 'kubernetes' && metricsAuth !== 'none')
    throw new UsageError(`--metrics-auth: ${JSON.stringify(metricsAuth)}; use kubernetes or none`);
  if (!raw['tls-cert-file'] !== !raw['tls-key-file'])
    throw new UsageError('--tls-cert-file and --tls-key-file go together: give both or neither');
  const namespaces = raw.namespaces
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    kubeconfig: raw.kubeconfig,
    namespaces: namespaces?.length ? namespaces : undefined,
    concurrency,
    unreadyGraceMs: duration('unready-grace'),
    resyncMs: duration('resync'),
    routerDiscoveryMs: duration('router-discovery-interval'),
    requestTimeoutMs: positive('request-timeout'),
    stallTimeoutMs: positive('stall-timeout'),
    logLevel: level as OperatorFlags['logLevel'],
    logFormat: format,
    listen: raw.listen ?? '',
    metricsAuth,
    tlsCertFile: raw['tls-cert-file'] || undefined,
    tlsKeyFile: raw['tls-key-file'] || undefined,
    leaderElect: bool('leader-elect'),
    leaderElectionNamespace: raw['leader-election-namespace'] ?? env.POD_NAMESPACE ?? 'modelship-system',
    leaderElectionName: raw['leader-election-name']!,
    settings: {
      images: { triton: image('triton'), torchserve: image('torchserve') },
      fetchImages: {
        s3: image('fetchS3'),
        gs: image('fetchGs'),
        https: image('fetchHttps'),
        pvc: image('fetchPvc'),
      },
      unpackImage: image('unpack'),
      modelStoreSizeLimit: sizeLimit,
    },
    prometheusUrl: prometheusUrl(raw['prometheus-url']),
    prometheusTimeoutMs: positive('prometheus-timeout'),
    prometheusNamespaceLabel: labelName('prometheus-namespace-label', raw['prometheus-namespace-label']!),
    prometheusRevisionLabel: labelName('prometheus-revision-label', raw['prometheus-revision-label']!),
    notifyConfig: raw['notify-config'] || undefined,
    preTrafficChecks: bool('pre-traffic-checks'),
    help: bool('help'),
  };
}

function prometheusUrl(v: string | undefined): string | undefined {
  if (!v) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(
      `--prometheus-url: ${JSON.stringify(v)} is not a URL (e.g. http://prometheus.monitoring:9090)`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`--prometheus-url: ${JSON.stringify(v)}: use http:// or https://`);
  return v;
}

function labelName(flag: string, v: string): string {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v))
    throw new UsageError(`--${flag}: ${JSON.stringify(v)} is not a Prometheus label name`);
  return v;
}

export function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, s]) => {
    const def = s.default ? ` (default ${s.default})` : '';
    const env = s.env ? ` [$${s.env}]` : '';
    return `  --${name.padEnd(26)} ${s.help}${def}${env}`;
  });
  return `modelship: a Kubernetes operator that ships ML models safely\n\nUsage: modelship [flags]\n\n${lines.join('\n')}\n`;
}
