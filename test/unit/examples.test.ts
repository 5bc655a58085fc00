// examples/ is documentation that a real apiserver checks (test/integration/api.test.ts). What it
// cannot see is checked here: the apiserver silently prunes a misspelt field from a valid example
// (it would apply and mean nothing), and the examples must form a set that works together.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadAll } from 'js-yaml';

import type { JSONSchemaProps } from '../../tools/api/codegen.js';
import { CRDS_DIR, readCrds } from '../../tools/api/crd-files.js';
import { API_VERSION, MODEL_DEPLOYMENT_KIND, MODEL_VERSION_KIND } from '../../src/api/index.js';

const EXAMPLES = join(CRDS_DIR, '..', 'examples');

interface Doc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: Record<string, unknown>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => (statSync(join(dir, f)).isDirectory() ? yamlFiles(join(dir, f)) : [join(dir, f)]))
    .filter((p) => /\.ya?ml$/.test(p))
    .sort();
}

const files = yamlFiles(EXAMPLES).map((path) => {
  const text = readFileSync(path, 'utf8');
  return { name: relative(EXAMPLES, path), text, docs: loadAll(text) as Doc[] };
});
const valid = files.filter((f) => !f.name.startsWith('invalid/'));
const invalid = files.filter((f) => f.name.startsWith('invalid/'));

const schemas = new Map(
  readCrds().map((crd) => [crd.spec.names.kind, crd.spec.versions[0]!.schema!.openAPIV3Schema!] as const),
);

/** Paths of the fields in `value` that `schema` does not declare, i.e. that the apiserver would prune. */
function undeclared(value: unknown, schema: JSONSchemaProps, path: string): string[] {
  if (Array.isArray(value))
    return value.flatMap((v, i) => undeclared(v, schema.items ?? {}, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null || schema['x-kubernetes-preserve-unknown-fields'])
    return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const child =
      schema.properties?.[key] ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    return child ? undeclared(v, child, `${path}.${key}`) : [`${path}.${key}`];
  });
}

test('the pruning check finds a misspelt field', () => {
  const spec = schemas.get(MODEL_DEPLOYMENT_KIND)!.properties!.spec!;
  const typo = { model: 'm', version: '1.0.0', replica: 2, pod: { env: [{ name: 'A', vaule: 'b' }] } };
  expect(undeclared(typo, spec, '.spec')).toEqual(['.spec.replica', '.spec.pod.env[0].vaule']);
});

test('there are examples for both runtimes, all routers, all strategies, and enough invalid ones', () => {
  const mds = valid.flatMap((f) => f.docs).filter((d) => d.kind === MODEL_DEPLOYMENT_KIND);
  const mvs = valid.flatMap((f) => f.docs).filter((d) => d.kind === MODEL_VERSION_KIND);
  const spec = (d: Doc, path: string) =>
    path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], d.spec);
  expect(new Set(mvs.map((d) => spec(d, 'runtime')))).toEqual(new Set(['triton', 'torchserve']));
  expect(new Set(mds.map((d) => spec(d, 'traffic.router') ?? 'service'))).toEqual(
    new Set(['service', 'gatewayApi', 'istio']),
  );
  expect(new Set(mds.map((d) => spec(d, 'strategy.type') ?? 'Canary'))).toEqual(
    new Set(['Canary', 'BlueGreen', 'Experiment']),
  );
  expect(invalid.length).toBeGreaterThanOrEqual(12);
});

describe.each(files.map((f) => [f.name, f] as const))('%s', (_name, file) => {
  test('starts with a comment saying what it shows, and holds modelship objects without a namespace', () => {
    expect(file.text.startsWith('# ')).toBe(true);
    expect(file.docs.length).toBeGreaterThan(0);
    for (const doc of file.docs) {
      // Besides modelship's kinds, the ConfigMaps a version's processing references.
      if (doc.kind === 'ConfigMap') {
        expect(doc.apiVersion).toBe('v1');
        continue;
      }
      expect(doc.apiVersion).toBe(API_VERSION);
      expect([MODEL_VERSION_KIND, MODEL_DEPLOYMENT_KIND]).toContain(doc.kind);
      expect(doc.metadata?.name).toEqual(expect.any(String));
      expect(doc.metadata?.namespace).toBeUndefined(); // tests apply them into a namespace of their own
    }
  });
});

describe.each(valid.map((f) => [f.name, f] as const))('%s', (_name, file) => {
  test('declares every field it sets (nothing would be pruned)', () => {
    expect(
      file.docs
        .filter((doc) => schemas.has(doc.kind!))
        .flatMap((doc) => undeclared(doc.spec, schemas.get(doc.kind!)!.properties!.spec!, '.spec')),
    ).toEqual([]);
  });
});

describe.each(invalid.map((f) => [f.name, f] as const))('%s', (_name, file) => {
  test('names the apiserver error it expects on its first line, and breaks a single rule with one object', () => {
    expect(file.text.split('\n')[0]).toMatch(/^# expect-error: \S.*$/);
    expect(file.text.split('\n')[1]).toMatch(/^# \S/);
    expect(file.docs).toHaveLength(1);
  });

  test('sets only declared fields, so the rejection is for the rule it documents', () => {
    const doc = file.docs[0]!;
    expect(undeclared(doc.spec, schemas.get(doc.kind!)!.properties!.spec!, '.spec')).toEqual([]);
  });
});

test('every valid ModelDeployment serves a ModelVersion defined in the examples', () => {
  const docs = valid.flatMap((f) => f.docs);
  const versions = new Set(
    docs
      .filter((d) => d.kind === MODEL_VERSION_KIND)
      .map((d) => `${String(d.spec?.model)}@${String(d.spec?.version)}`),
  );
  const missing = docs
    .filter((d) => d.kind === MODEL_DEPLOYMENT_KIND)
    .map((d) => `${String(d.spec?.model)}@${String(d.spec?.version)}`)
    .filter((ref) => !versions.has(ref));
  expect(missing).toEqual([]);
});

test('object names are unique across the valid examples, which are applied into one namespace', () => {
  const keys = valid.flatMap((f) => f.docs).map((d) => `${d.kind}/${d.metadata?.name}`);
  expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
});

test('examples/README.md lists every example file', () => {
  const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
  expect(files.map((f) => f.name).filter((name) => !readme.includes(name))).toEqual([]);
});
