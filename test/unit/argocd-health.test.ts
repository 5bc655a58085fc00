/**
 * The Argo CD health checks (argocd/health/*.lua) run by a real Lua interpreter over status objects
 * the operator wrote (test/fixtures/argocd/*.json, captured by capture.ts there). Argo CD runs such
 * a script with the live object as the global `obj` in gopher-lua (Lua 5.1) without io/os; the
 * harness below does the same: the fixture becomes a Lua table literal, the script runs as a
 * function body with io, os and the loaders removed, and prints hs.status and hs.message.
 *
 * The interpreter is Argo CD's own: gopher-lua's glua, built once from the Go module proxy into the
 * cache by hack/tools/glua.sh (seconds, Go is a prerequisite anyway), so a construct that PUC Lua 5.4
 * accepts and gopher-lua refuses fails here as it would in Argo CD.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { repoRoot } from '../harness/env.js';

const HEALTH = join(repoRoot, 'argocd', 'health');
const FIXTURES = join(repoRoot, 'test', 'fixtures', 'argocd');
const SNIPPET = join(repoRoot, 'argocd', 'resource-customizations.yaml');
const KINDS = ['ModelDeployment', 'ModelVersion'] as const;
type Kind = (typeof KINDS)[number];

const scriptPath = (kind: Kind): string => join(HEALTH, `modelship.io_${kind}.lua`);
const script = (kind: Kind): string => readFileSync(scriptPath(kind), 'utf8');

// Builds glua on first use (hack/tools/glua.sh prints its path; a cached one costs milliseconds).
const glua = execFileSync('bash', [join(repoRoot, 'hack', 'tools', 'glua.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();

/** Runs a Lua program in glua; throws with what glua printed when the program fails. */
function runLua(program: string): string {
  try {
    // `-e` runs a string (the programs are a few KiB). glua prints a failure on stdout, exit 1.
    return execFileSync(glua, ['-e', program], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`glua failed: ${stdout ?? ''}${stderr ?? ''}`, { cause: e });
  }
}

/** A character inside a Lua string literal: decimal escapes (\ddd) mean the same in Lua 5.1 and 5.4. */
const luaChar = (c: string): string =>
  c === '\\' || c === '"' || c < ' ' || c === '\x7f' ? `\\${c.charCodeAt(0).toString().padStart(3, '0')}` : c;

/** A JSON value as a Lua expression. JSON null becomes nil, as in Argo CD. */
function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'nil';
  if (typeof v === 'string') return `"${[...v].map(luaChar).join('')}"`;
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${toLua(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}

/** Runs a health script on `obj` the way Argo CD does; returns what it reports. */
function health(kind: Kind, obj: unknown): { status: string; message: string } {
  const program = [
    `obj = ${toLua(obj)}`,
    'local write, tostring = io.write, tostring',
    // Argo CD's Lua state has no io, os or file loaders: a script that used them would fail there.
    'io, os, require, dofile, loadfile, package, debug = nil, nil, nil, nil, nil, nil, nil',
    `local hs = (function()\n${script(kind)}\nend)()`,
    'write(tostring(hs.status), "\\n", tostring(hs.message), "\\n")',
  ].join('\n');
  const out = runLua(program);
  const [status, ...message] = out.replace(/\n$/, '').split('\n');
  return { status: status ?? '', message: message.join('\n') };
}

const fixture = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Record<string, unknown>;

interface Obj {
  spec: Record<string, unknown>;
  status: {
    phase?: string;
    conditions: Array<{ type: string; status: string; reason: string; message: string }>;
    lastRollback?: unknown;
  };
}
const setCondition = (o: Obj, type: string, status: string, reason: string, message: string): void => {
  const c = o.status.conditions.find((x) => x.type === type)!;
  Object.assign(c, { status, reason, message });
};

interface Case {
  name: string;
  kind: Kind;
  /** A file of test/fixtures/argocd/. */
  file: string;
  /** A change to the captured object, for a state the capture does not drive by itself. */
  change?: (o: Obj) => void;
  status: string;
  message: string | RegExp;
}

const c = (
  name: string,
  kind: Kind,
  file: string,
  status: string,
  message: string | RegExp,
  change?: (o: Obj) => void,
): Case => ({ name, kind, file, status, message, ...(change ? { change } : {}) });

const CASES: Case[] = [
  // Captured from the operator (see test/fixtures/argocd/README.md).
  c(
    'md: just created, no status',
    'ModelDeployment',
    'md-no-status.json',
    'Progressing',
    'Waiting for the modelship operator to report status',
  ),
  c(
    'md: spec changed, status still of the old generation (looks Ready)',
    'ModelDeployment',
    'md-stale-generation.json',
    'Progressing',
    'Waiting for the modelship operator to observe generation 2 (status is for generation 1)',
  ),
  c(
    'md: first deploy Ready',
    'ModelDeployment',
    'md-healthy.json',
    'Healthy',
    'version 1.0.0 serves all traffic with 2/2 replicas ready',
  ),
  c(
    'md: canary at a timed pause',
    'ModelDeployment',
    'md-canary-progressing.json',
    'Progressing',
    'step 2/4: paused for 600s more at weight 25%',
  ),
  c(
    'md: canary at a pause {} waiting for promote',
    'ModelDeployment',
    'md-canary-waiting-promotion.json',
    'Suspended',
    'step 4/4: paused at weight 50% until promoted (annotation modelship.io/promote)',
  ),
  c(
    'md: promoted',
    'ModelDeployment',
    'md-promoted.json',
    'Healthy',
    'version 1.1.0 serves all traffic with 2/2 replicas ready',
  ),
  c(
    'md: spec.paused before a new version started',
    'ModelDeployment',
    'md-paused.json',
    'Suspended',
    'spec.paused is true: the rollout of 1.2.0 has not started',
  ),
  c(
    'md: crash-looping version rolled back',
    'ModelDeployment',
    'md-rolled-back.json',
    'Degraded',
    /^Rolled back from 1\.2\.0 to 1\.1\.0: CrashLoopBackOff: pod clf-\S+ of version 1\.2\.0 \(revision \w+\) is in CrashLoopBackOff after \d+ restarts/,
  ),
  c(
    'md: first deploy crash-loops, nothing to roll back to',
    'ModelDeployment',
    'md-failed.json',
    'Degraded',
    /^pod first-\S+ of version 1\.0\.0 \(revision \w+\) is in CrashLoopBackOff after \d+ restarts/,
  ),
  c(
    'mv: just created, no status',
    'ModelVersion',
    'mv-no-status.json',
    'Progressing',
    'Waiting for the modelship operator to validate the version',
  ),
  c(
    'mv: valid, not in use',
    'ModelVersion',
    'mv-available.json',
    'Healthy',
    'version 1.1.0 can be served by triton',
  ),
  c('mv: in use', 'ModelVersion', 'mv-in-use.json', 'Healthy', 'used by ModelDeployment clf'),
  c(
    'mv: invalid',
    'ModelVersion',
    'mv-invalid.json',
    'Degraded',
    /^ModelVersion argocd-capture-\w+\/clf-9\.9\.9: https:\/\/ fetches one file, but https:\/\/models\.example\/clf\/9\.9\.9\/ is a directory/,
  ),
  c(
    'mv: deleted while in use',
    'ModelVersion',
    'mv-terminating.json',
    'Progressing',
    'deletion waits until no ModelDeployment uses this version; used by ModelDeployment clf',
  ),

  // Derived from captured objects, for states the capture script does not drive.
  c(
    'md: an aborted rollout (RolledBack; the last rollback was of another version)',
    'ModelDeployment',
    'md-rolled-back.json',
    'Degraded',
    'rollout aborted on request',
    (o) => {
      o.spec.version = '1.3.0';
      setCondition(o, 'Degraded', 'True', 'AbortRequested', 'rollout aborted on request');
    },
  ),
  c(
    'md: failing with autoRollback off (phase Degraded)',
    'ModelDeployment',
    'md-canary-progressing.json',
    'Degraded',
    'no progress for 300s; autoRollback is off',
    (o) => {
      o.status.phase = 'Degraded';
      setCondition(
        o,
        'Degraded',
        'True',
        'ProgressDeadlineExceeded',
        'no progress for 300s; autoRollback is off',
      );
    },
  ),
  c(
    'md: a Degraded condition wins over a pause',
    'ModelDeployment',
    'md-canary-waiting-promotion.json',
    'Degraded',
    'restarted 4 times',
    (o) => setCondition(o, 'Degraded', 'True', 'TooManyRestarts', 'restarted 4 times'),
  ),
  c(
    'md: spec.paused while a canary runs',
    'ModelDeployment',
    'md-canary-progressing.json',
    'Suspended',
    'spec.paused is true: the rollout is frozen',
    (o) => {
      o.spec.paused = true;
      o.status.phase = 'Paused';
      setCondition(o, 'Progressing', 'Unknown', 'Paused', 'spec.paused is true: the rollout is frozen');
    },
  ),
];

describe('in gopher-lua (glua), as Argo CD runs them', () => {
  test.each(CASES)('$name', ({ kind, file, change, status, message }) => {
    const obj = fixture(file) as unknown as Obj;
    change?.(obj);
    const hs = health(kind, obj);
    expect(hs.status).toBe(status);
    if (typeof message === 'string') expect(hs.message).toBe(message);
    else expect(hs.message).toMatch(message);
  });

  test('the harness fails loudly on a broken script', () => {
    expect(() => runLua('local x = obj.missing.field')).toThrow(/attempt to index/);
  });

  test('the interpreter is Lua 5.1, as in Argo CD: what Lua 5.3/5.4 added is refused', () => {
    expect(runLua('io.write(_VERSION)')).toBe('Lua 5.1');
    // A float prints without ".0" (Lua 5.4 prints 5.0): messages built with tostring differ.
    expect(runLua('io.write(tostring(10 / 2))')).toBe('5');
    for (const newer of [
      'local x = 7 // 2',
      'local x = 1 << 2',
      'local x = 3 & 1',
      'local x <const> = 1',
      'local x = math.type(1)',
      'local x = utf8.char(72)',
      'local x = table.unpack({1})',
    ])
      expect(() => runLua(newer)).toThrow(/glua failed/);
  });
});

test('every captured fixture has a case of its own', () => {
  const captured = new Set(CASES.filter((x) => !x.change).map((x) => x.file));
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  expect(files.filter((f) => !captured.has(f))).toEqual([]);
  expect(files.length).toBeGreaterThanOrEqual(14);
});

test('toLua writes JSON as Lua literals', () => {
  expect(toLua({ a: [1, 'x"y\\z\n'], b: null, c: true, d: 0.5 })).toBe(
    '{["a"] = {1, "x\\034y\\092z\\010"}, ["b"] = nil, ["c"] = true, ["d"] = 0.5}',
  );
});

// ---- the argocd-cm snippet -------------------------------------------------------------------

const KEY = (kind: Kind): string => `resource.customizations.health.modelship.io_${kind}`;

function renderSnippet(): string {
  const block = (text: string): string =>
    text
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => (l === '' ? '' : `    ${l}`))
      .join('\n');
  return [
    '# Argo CD health checks for the modelship.io resources, as argocd-cm keys.',
    '# Generated from argocd/health/*.lua by `npm run argocd:update`: edit those files, not this one.',
    '#',
    '# Install (a merge into the existing argocd-cm; its other keys stay as they are):',
    '#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd/resource-customizations.yaml',
    '# With kustomize, list this file under patches; with the argo-cd Helm chart, put the two data keys',
    '# under configs.cm in the values. See docs/gitops.md.',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: argocd-cm',
    'data:',
    ...KINDS.flatMap((k) => [`  ${KEY(k)}: |`, block(script(k))]),
    '',
  ].join('\n');
}

test('argocd/resource-customizations.yaml carries the scripts of argocd/health/ (npm run argocd:update)', () => {
  const expected = renderSnippet();
  if (process.env.UPDATE_ARGOCD === '1') writeFileSync(SNIPPET, expected);
  const actual = readFileSync(SNIPPET, 'utf8');
  if (actual !== expected)
    throw new Error('argocd/resource-customizations.yaml is out of date: run npm run argocd:update');
  // What Argo CD reads from the ConfigMap is exactly the script.
  const cm = yaml.load(actual) as { data: Record<string, string> };
  for (const k of KINDS) expect(cm.data[KEY(k)]).toBe(script(k));
  expect(Object.keys(cm.data)).toEqual(KINDS.map(KEY));
});
