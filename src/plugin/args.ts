// The plugin's command line: `kubectl modelship <command> <args> [flags]`, flags anywhere, in the
// forms kubectl accepts (-n ns, -n=ns, --namespace ns, --namespace=ns; scanned by cli/argv.ts, as the
// operator's flags are). Pure: argv in, an invocation or a UsageError out.
import { scanArgs, UsageError, type FlagSyntax } from '../cli/argv.js';
import { parseDuration } from '../core/duration.js';

export { UsageError };

interface CommandSpec {
  args: string[];
  flags: string[];
  summary: string;
}

const REQUEST = (summary: string): CommandSpec => ({
  args: ['MODELDEPLOYMENT'],
  flags: ['wait', 'timeout'],
  summary,
});

export const COMMANDS: Record<string, CommandSpec> = {
  status: {
    args: ['MODELDEPLOYMENT'],
    flags: ['watch'],
    summary: 'phase, versions, step progress, traffic and readiness per revision, conditions',
  },
  history: { args: ['MODELDEPLOYMENT'], flags: [], summary: 'past rollouts and how they ended' },
  versions: {
    args: ['MODEL'],
    flags: ['unused-for'],
    summary:
      'ModelVersions of a model in version order, with metrics and users; --unused-for: the ones to retire',
  },
  diff: {
    args: ['MODELVERSION', 'MODELVERSION'],
    flags: [],
    summary: 'record, metrics, I/O signature and changelog of two ModelVersions',
  },
  promote: REQUEST('end the current (or next) pause step; switch a blue-green preview'),
  abort: REQUEST('stop the rollout, send all traffic back to the stable version'),
  retry: REQUEST('roll out again a version that failed or was aborted'),
  pause: { args: ['MODELDEPLOYMENT'], flags: [], summary: 'freeze the rollout (sets spec.paused)' },
  resume: { args: ['MODELDEPLOYMENT'], flags: [], summary: 'unfreeze the rollout (clears spec.paused)' },
  rollback: {
    args: ['MODELDEPLOYMENT'],
    flags: ['to'],
    summary: 'serve an earlier version (sets spec.version; needs --to VERSION)',
  },
  experiment: {
    args: ['stop|promote', 'MODELDEPLOYMENT'],
    flags: ['to'],
    summary:
      'stop: end the experiment now (sets its duration); promote: roll out its winner, or --to VERSION (sets spec.version)',
  },
  'release-finalizers': {
    args: [],
    flags: ['all-namespaces'],
    summary: "uninstall: remove the operator's finalizer from ModelVersions (after it is stopped)",
  },
  import: {
    args: ['MLFLOW_MODEL', 'MLFLOW_VERSION'],
    flags: [
      'tracking-uri',
      'version',
      'model',
      'runtime',
      'format',
      'artifact-path',
      'artifacts-destination',
      'storage-uri',
      'digest',
      'unverified',
      'apply',
    ],
    summary: 'an MLflow model version as a ModelVersion: print its YAML, or --apply it (needs --version)',
  },
  digest: {
    args: ['DIR'],
    flags: [],
    summary: "a directory artifact's digest (sha256 over its file manifest) for spec.digest",
  },
  help: { args: [], flags: [], summary: 'show this help' },
};

interface FlagSpec {
  short?: string;
  value?: string;
  help: string;
}

const FLAGS: Record<string, FlagSpec> = {
  namespace: { short: 'n', value: 'NAMESPACE', help: 'namespace; default: the kubeconfig context namespace' },
  kubeconfig: { value: 'FILE', help: 'kubeconfig file; default: $KUBECONFIG or ~/.kube/config' },
  context: { value: 'NAME', help: 'kubeconfig context to use; default: the current context' },
  watch: { short: 'w', help: 'status: keep redrawing as the rollout moves (Ctrl-C to stop)' },
  wait: { help: 'promote/abort/retry: wait until the operator has acted on the request' },
  timeout: { value: 'DURATION', help: 'with --wait: how long to wait (default 2m)' },
  to: { value: 'VERSION', help: 'rollback, experiment promote: the version to serve' },
  'unused-for': {
    value: 'DURATION',
    help: 'versions: only those no revision keeps that have not served for DURATION (720h, 30d), oldest first',
  },
  'all-namespaces': { short: 'A', help: 'release-finalizers: in every namespace' },
  'tracking-uri': {
    value: 'URL',
    help: 'import: the MLflow tracking server; default: $MLFLOW_TRACKING_URI',
  },
  version: {
    value: 'SEMVER',
    help: "import: the ModelVersion's semantic version; default: the MLflow tag modelship.version",
  },
  model: { value: 'NAME', help: "import: spec.model; default: the MLflow model's name" },
  runtime: { value: 'RUNTIME', help: 'import: triton (default) or torchserve' },
  format: { value: 'FORMAT', help: "import: spec.format; default: from the model's flavor (onnx)" },
  'artifact-path': {
    value: 'PATH',
    help: "import: the file to serve inside the model's artifact (. for all of it); default: the flavor's",
  },
  'artifacts-destination': {
    value: 'URI',
    help: "import: the tracking server's --artifacts-destination, to map mlflow-artifacts:/ URIs",
  },
  'storage-uri': { value: 'URI', help: "import: spec.storageUri as given instead of MLflow's download URI" },
  digest: { value: 'SHA256', help: 'import: spec.digest as given (sha256:…) instead of computing it' },
  unverified: { help: 'import: no digest, spec.digestPolicy: Unverified (the explicit opt-out)' },
  apply: { help: 'import: create the ModelVersion (never overwrites one) instead of printing it' },
  help: { short: 'h', help: 'show this help' },
};

const SYNTAX: Record<string, FlagSyntax> = Object.fromEntries(
  Object.entries(FLAGS).map(([name, f]) => [
    name,
    { takesValue: !!f.value, ...(f.short ? { short: f.short } : {}) },
  ]),
);

const GLOBAL = ['namespace', 'kubeconfig', 'context', 'help'];

export interface Invocation {
  command: string;
  args: string[];
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  watch: boolean;
  wait: boolean;
  timeoutMs: number;
  to?: string;
  /** release-finalizers -A. */
  allNamespaces: boolean;
  /** versions --unused-for, in milliseconds, and as given (for messages). */
  unusedFor?: { ms: number; text: string };
  help: boolean;
  /** import's flags. */
  import: ImportFlags;
}

export interface ImportFlags {
  trackingUri?: string;
  version?: string;
  model?: string;
  runtime: 'triton' | 'torchserve';
  format?: string;
  artifactPath?: string;
  artifactsDestination?: string;
  storageUri?: string;
  digest?: string;
  unverified: boolean;
  apply: boolean;
}

const HINT = 'see kubectl modelship --help';

export function parseArgs(argv: readonly string[]): Invocation {
  const values: Record<string, string> = {};
  const positionals: string[] = [];
  for (const t of scanArgs(argv, SYNTAX)) {
    if (t.kind === 'terminator') continue;
    if (t.kind === 'positional') {
      positionals.push(t.arg);
      continue;
    }
    if (t.kind === 'unknown') throw new UsageError(`unknown flag ${JSON.stringify(t.arg)}; ${HINT}`);
    const { name, value } = t;
    const needs = FLAGS[name]!.value;
    if (needs) {
      if (value === undefined || value === '') throw new UsageError(`flag ${t.arg} needs a ${needs}`);
      values[name] = value;
    } else {
      if (value !== undefined && value !== 'true' && value !== 'false')
        throw new UsageError(`flag --${name} takes no value (or =true/=false)`);
      values[name] = value ?? 'true';
    }
  }

  const help = values.help === 'true';
  const command = positionals[0] ?? (help ? 'help' : undefined);
  if (command === undefined) throw new UsageError(`no command given; ${HINT}`);
  const spec = COMMANDS[command];
  if (!spec) {
    throw new UsageError(
      `unknown command ${JSON.stringify(command)}; commands: ${Object.keys(COMMANDS).join(', ')}; ${HINT}`,
    );
  }
  const args = positionals.slice(1);
  if (!help && command !== 'help') {
    if (args.length !== spec.args.length) {
      const expected = spec.args.join(' ');
      throw new UsageError(
        args.length < spec.args.length
          ? `${command} needs ${expected}: kubectl modelship ${command} ${expected}`
          : `${command} takes ${spec.args.length === 1 ? 'one argument' : `${spec.args.length} arguments`} (${expected}), got ${args.length}: ${args.join(' ')}`,
      );
    }
    for (const name of Object.keys(values)) {
      if (!GLOBAL.includes(name) && !spec.flags.includes(name))
        throw new UsageError(`${command} does not take --${name}; ${HINT}`);
    }
    if (command === 'rollback' && !values.to)
      throw new UsageError(
        'rollback needs --to VERSION: kubectl modelship rollback MODELDEPLOYMENT --to 1.2.0',
      );
    if (command === 'experiment' && args[0] !== 'stop' && args[0] !== 'promote')
      throw new UsageError(
        `experiment ${JSON.stringify(args[0])}: stop or promote, e.g. kubectl modelship experiment stop MODELDEPLOYMENT`,
      );
    if (command === 'experiment' && args[0] === 'stop' && values.to)
      throw new UsageError('experiment stop does not take --to');
    if (values.timeout !== undefined && values.wait !== 'true')
      throw new UsageError('--timeout goes with --wait');
    if (values.runtime !== undefined && values.runtime !== 'triton' && values.runtime !== 'torchserve')
      throw new UsageError(`--runtime ${JSON.stringify(values.runtime)}: triton or torchserve`);
    if (values.unverified === 'true' && values.digest !== undefined)
      throw new UsageError('--unverified contradicts --digest; give one or the other');
  }
  let timeoutMs = 120_000;
  if (values.timeout !== undefined) {
    const ms = parseDuration(values.timeout);
    if (ms === undefined || ms <= 0)
      throw new UsageError(`--timeout ${JSON.stringify(values.timeout)} is not a duration such as 30s or 5m`);
    timeoutMs = ms;
  }
  let unusedFor: Invocation['unusedFor'];
  if (values['unused-for'] !== undefined) {
    const text = values['unused-for'];
    const days = /^(\d+)d$/.exec(text);
    const ms = days ? Number(days[1]) * 86_400_000 : parseDuration(text);
    if (ms === undefined)
      throw new UsageError(`--unused-for ${JSON.stringify(text)} is not a duration such as 720h or 30d`);
    unusedFor = { ms, text };
  }
  const inv: Invocation = {
    command: help ? 'help' : command,
    args,
    watch: values.watch === 'true',
    wait: values.wait === 'true',
    allNamespaces: values['all-namespaces'] === 'true',
    timeoutMs,
    help,
    import: {
      runtime: values.runtime === 'torchserve' ? 'torchserve' : 'triton',
      unverified: values.unverified === 'true',
      apply: values.apply === 'true',
    },
  };
  const optional = {
    trackingUri: 'tracking-uri',
    version: 'version',
    model: 'model',
    format: 'format',
    artifactPath: 'artifact-path',
    artifactsDestination: 'artifacts-destination',
    storageUri: 'storage-uri',
    digest: 'digest',
  } as const;
  for (const [key, flag] of Object.entries(optional)) {
    if (values[flag] !== undefined) inv.import[key as keyof typeof optional] = values[flag];
  }
  if (values.namespace) inv.namespace = values.namespace;
  if (values.kubeconfig) inv.kubeconfig = values.kubeconfig;
  if (values.context) inv.context = values.context;
  if (values.to) inv.to = values.to;
  if (unusedFor) inv.unusedFor = unusedFor;
  return inv;
}

export function usage(): string {
  const cmds = Object.entries(COMMANDS).map(
    ([name, s]) => `  ${`${name} ${s.args.join(' ')}`.padEnd(34)} ${s.summary}`,
  );
  const flags = Object.entries(FLAGS).map(([name, f]) => {
    const form = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.value ? ` ${f.value}` : ''}`;
    return `  ${form.padEnd(34)} ${f.help}`;
  });
  return [
    'kubectl modelship: see and steer modelship rollouts',
    '',
    'Usage: kubectl modelship COMMAND ARGS [flags]',
    '',
    'Commands:',
    ...cmds,
    '',
    'Flags:',
    ...flags,
    '',
    'promote, abort and retry set an annotation (modelship.io/promote|abort|retry) to a new token and',
    'leave the spec alone, so they are safe under GitOps; pause, resume, rollback and experiment edit the spec.',
    '',
  ].join('\n');
}
