/**
 * The modelship API on a real kube-apiserver: the CRDs are the product, so every example must apply,
 * every invalid example must be rejected with the message it documents, and the things a user
 * touches with kubectl (explain, get columns, status subresource, immutability) must work.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { modelVersionName } from '../../src/core/model-version.js';
import { repoRoot } from '../harness/env.js';
import { kubectl, kubectlOk, tempNamespace } from '../harness/kube.js';
import { fakeDigest } from '../harness/objects.js';

const examples = join(repoRoot, 'examples');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? yamlFiles(p) : [p];
    })
    .filter((p) => /\.ya?ml$/.test(p))
    .sort();
}

const valid = yamlFiles(examples).filter((p) => !p.includes('/invalid/'));
const invalid = yamlFiles(join(examples, 'invalid')).map((p) => {
  const first = readFileSync(p, 'utf8').split('\n')[0] ?? '';
  const m = /^# expect-error: (.+)$/.exec(first);
  if (!m) throw new Error(`${relative(repoRoot, p)}: first line must be '# expect-error: <substring>'`);
  return { path: p, expect: m[1]!.trim() };
});

let ns: Awaited<ReturnType<typeof tempNamespace>>;
beforeAll(async () => {
  ns = await tempNamespace('api');
});
afterAll(async () => ns.remove());

test('there are valid and invalid examples to check', () => {
  expect(valid.length).toBeGreaterThanOrEqual(4);
  expect(invalid.length).toBeGreaterThanOrEqual(10);
});

test.each(valid.map((p) => [relative(examples, p), p]))('valid example %s applies', async (_name, path) => {
  const r = await kubectl(['apply', '-n', ns.name, '-f', path]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

test.each(invalid.map((x) => [relative(examples, x.path), x.path, x.expect]))(
  'invalid example %s is rejected',
  async (_name, path, expected) => {
    // A dry run stores nothing, so one invalid file cannot shadow another by name.
    const r = await kubectl(['apply', '--dry-run=server', '-n', ns.name, '-f', path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(expected);
  },
);

const mv = (version: string, storageUri = 's3://models/iris/1') => ({
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelVersion',
  metadata: { name: modelVersionName('iris', version) },
  spec: {
    model: 'iris',
    version,
    runtime: 'triton',
    format: 'onnx',
    storageUri,
    digest: fakeDigest(storageUri),
  },
});

test('a ModelVersion spec cannot be edited once created', async () => {
  const obj = mv('3.0.0');
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(obj));
  const r = await kubectl(
    ['apply', '-n', ns.name, '-f', '-'],
    JSON.stringify({ ...obj, spec: { ...obj.spec, storageUri: 's3://models/iris/other' } }),
  );
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/immutable/i);
  const stored = JSON.parse(await kubectlOk(['get', 'mv', obj.metadata.name, '-n', ns.name, '-o', 'json']));
  expect(stored.spec.storageUri).toBe('s3://models/iris/1');
  // Labels and annotations stay editable: only the released content is frozen.
  await kubectlOk(['label', 'mv', obj.metadata.name, '-n', ns.name, 'team=vision']);
});

test('status is written through the status subresource only', async () => {
  const obj = mv('3.1.0');
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(obj));
  const patch = JSON.stringify({ status: { phase: 'InUse' } });
  await kubectlOk(['patch', 'mv', obj.metadata.name, '-n', ns.name, '--type=merge', '-p', patch]);
  let stored = JSON.parse(await kubectlOk(['get', 'mv', obj.metadata.name, '-n', ns.name, '-o', 'json']));
  expect(stored.status?.phase).toBeUndefined();
  await kubectlOk([
    'patch',
    'mv',
    obj.metadata.name,
    '-n',
    ns.name,
    '--subresource=status',
    '--type=merge',
    '-p',
    patch,
  ]);
  stored = JSON.parse(await kubectlOk(['get', 'mv', obj.metadata.name, '-n', ns.name, '-o', 'json']));
  expect(stored.status.phase).toBe('InUse');
});

test('defaults are filled in by the apiserver', async () => {
  const md = {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'iris-defaults' },
    spec: { model: 'iris', version: '3.0.0' },
  };
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(md));
  const stored = JSON.parse(await kubectlOk(['get', 'md', md.metadata.name, '-n', ns.name, '-o', 'json']));
  expect(stored.spec.replicas).toBe(1);
  expect(stored.spec.strategy.type).toBe('Canary');
  expect(stored.spec.strategy.progressDeadlineSeconds).toBe(300);
  expect(stored.spec.strategy.autoRollback).toBe(true);
  expect(stored.spec.strategy.maxRestarts).toBe(3);
  expect(stored.spec.traffic.router).toBe('service');
  expect(stored.spec.revisionHistoryLimit).toBe(3);
  expect(stored.spec.paused).toBe(false);
});

test.each([
  ['modelversion.spec.storageUri', /s3:\/\//],
  ['modelversion.spec.interface.inputs.datatype', /FP32/],
  ['modeldeployment.spec.strategy.canary.steps', /setWeight/],
  ['modeldeployment.status.lastRollback', /rollback|revert/i],
])('kubectl explain %s teaches the field', async (field, text) => {
  const out = await kubectlOk(['explain', field]);
  expect(out).toMatch(/DESCRIPTION:/);
  expect(out).toMatch(text);
});

test('kubectl get md,mv shows the printer columns', async () => {
  const out = await kubectlOk(['get', 'md,mv', '-n', ns.name]);
  const headers = out
    .split('\n')
    .filter((l) => l.startsWith('NAME'))
    .map((l) => l.split(/\s{2,}/).map((h) => h.trim()));
  const mdHeader = headers.find((h) => h.includes('DESIRED'));
  const mvHeader = headers.find((h) => h.includes('RUNTIME'));
  expect(mdHeader).toEqual(
    expect.arrayContaining(['MODEL', 'DESIRED', 'STABLE', 'CANARY', 'WEIGHT', 'PHASE', 'READY', 'AGE']),
  );
  expect(mvHeader).toEqual(expect.arrayContaining(['MODEL', 'VERSION', 'RUNTIME', 'FORMAT', 'PHASE', 'AGE']));
});

test('short names and the modelship category work', async () => {
  const out = await kubectlOk(['get', 'modelship', '-n', ns.name, '-o', 'name']);
  expect(out).toMatch(/modelversion\.modelship\.io\//);
  expect(out).toMatch(/modeldeployment\.modelship\.io\//);
});

describe('a ModelVersion names its digest, or opts out', () => {
  const base = (version: string) => {
    const { spec, ...rest } = mv(version);
    const { digest: _digest, ...noDigest } = spec;
    return { ...rest, spec: noDigest };
  };

  test('without a digest it is refused, saying how to go on', async () => {
    const r = await kubectl(
      ['apply', '--dry-run=server', '-n', ns.name, '-f', '-'],
      JSON.stringify(base('3.3.0')),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.digest');
    expect(r.stderr).toContain('digest is required');
    expect(r.stderr).toContain('digestPolicy: Unverified');
  });

  test('digestPolicy: Required without a digest is refused too', async () => {
    const o = base('3.3.1');
    const r = await kubectl(
      ['apply', '--dry-run=server', '-n', ns.name, '-f', '-'],
      JSON.stringify({ ...o, spec: { ...o.spec, digestPolicy: 'Required' } }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('digest is required');
  });

  test('digestPolicy: Unverified is the explicit opt-out (a directory artifact)', async () => {
    const o = base('3.3.2');
    const obj = {
      ...o,
      spec: { ...o.spec, storageUri: 'pvc://models/iris/3.3.2/', digestPolicy: 'Unverified' },
    };
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(obj));
    const stored = JSON.parse(await kubectlOk(['get', 'mv', obj.metadata.name, '-n', ns.name, '-o', 'json']));
    expect(stored.spec.digestPolicy).toBe('Unverified');
    // Stored objects take metadata updates (the operator's finalizer writes are such updates).
    await kubectlOk(['label', 'mv', obj.metadata.name, '-n', ns.name, 'team=vision']);
  });

  test('a digest and digestPolicy: Unverified together are refused', async () => {
    const obj = mv('3.3.3');
    const r = await kubectl(
      ['apply', '--dry-run=server', '-n', ns.name, '-f', '-'],
      JSON.stringify({ ...obj, spec: { ...obj.spec, digestPolicy: 'Unverified' } }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('digestPolicy Unverified contradicts a digest');
  });
});

describe('the name of a ModelVersion is its natural key', () => {
  test('a second ModelVersion of the same model and version is refused when created', async () => {
    const first = mv('3.4.0');
    await kubectlOk(['create', '-n', ns.name, '-f', '-'], JSON.stringify(first));
    // Another artifact, same model and version: it can only have the same name.
    const second = { ...first, spec: { ...first.spec, storageUri: 's3://models/iris/other' } };
    const r = await kubectl(['create', '-n', ns.name, '-f', '-'], JSON.stringify(second));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/AlreadyExists|already exists/);
    // ... and under any other name the name rule refuses it.
    const renamed = { ...second, metadata: { name: 'iris-3.4.0-copy' } };
    const r2 = await kubectl(['create', '-n', ns.name, '-f', '-'], JSON.stringify(renamed));
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain('metadata.name must be <spec.model>-<spec.version>');
  });

  test.each([
    ['3.5.0', 'iris-3-5-0'],
    ['3.5.0-RC.1', 'iris-3.5.0-RC.1'],
    ['3.5.0+build.7', 'iris-3.5.0-build.7'],
  ])('version %s named %s is refused', async (version, name) => {
    const obj = { ...mv(version), metadata: { name } };
    const r = await kubectl(['apply', '--dry-run=server', '-n', ns.name, '-f', '-'], JSON.stringify(obj));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/metadata.name must be <spec.model>-<spec.version>|Invalid value/);
  });

  test.each([
    '3.6.0',
    '3.6.0-RC.1',
    '3.6.0+build.7',
    '3.6.0-rc.1+exp.sha.5114f85',
    '3.6.0-finetune.datasetx',
  ])('the CRD rule and modelVersionName agree on version %s', async (version) => {
    const obj = mv(version);
    expect(obj.metadata.name).toBe(modelVersionName('iris', version));
    await kubectlOk(['apply', '--dry-run=server', '-n', ns.name, '-f', '-'], JSON.stringify(obj));
  });
});
