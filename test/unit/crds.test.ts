// The rules a reviewer of crds/ would check by eye, checked on every node of every schema, so that
// a later edit cannot drop a description, unbound a string or list (the apiserver then costs CEL
// rules for a 3 MiB value and may refuse the CRD), or break a column, short name or subresource.
// What the apiserver itself accepts and rejects is tested against a real one in test/integration/.
import type { JSONSchemaProps } from '../../tools/api/codegen.js';
import { readCrds } from '../../tools/api/crd-files.js';
import {
  API_VERSION,
  GROUP,
  MODEL_DEPLOYMENT_KIND,
  MODEL_DEPLOYMENT_PLURAL,
  MODEL_VERSION_KIND,
  MODEL_VERSION_PLURAL,
  VERSION,
} from '../../src/api/index.js';

interface Rule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
}

interface Schema extends JSONSchemaProps {
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  format?: string;
  'x-kubernetes-validations'?: Rule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: Schema };
      subresources?: {
        status?: object;
        scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
      };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
    }[];
  };
}

const crds = readCrds() as unknown as Crd[];
const byKind = (kind: string): Crd => {
  const crd = crds.find((c) => c.spec.names.kind === kind);
  if (!crd) throw new Error(`no CRD for ${kind} in crds/`);
  return crd;
};
const rootOf = (crd: Crd): Schema => crd.spec.versions[0]!.schema.openAPIV3Schema;

/** Every schema node with its path: properties `.x`, list items `[]`, map values `{}`. */
function* nodes(schema: Schema, path = ''): Generator<[string, Schema]> {
  yield [path || '<root>', schema];
  for (const [name, prop] of Object.entries(schema.properties ?? {})) yield* nodes(prop, `${path}.${name}`);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === 'object') yield* nodes(schema.additionalProperties, `${path}{}`);
}

/** The schema node at a dotted path such as .spec.strategy.type, or undefined. */
function at(schema: Schema, path: string): Schema | undefined {
  let node: Schema | undefined = schema;
  for (const part of path.split('.').filter(Boolean)) {
    node = node?.type === 'array' ? node.items?.properties?.[part] : node?.properties?.[part];
  }
  return node;
}

/** Collects `path: problem` for every node that breaks a rule; the expectation is an empty list. */
const violations = (check: (path: string, s: Schema) => string | undefined) =>
  crds.flatMap((crd) =>
    [...nodes(rootOf(crd))].flatMap(([path, s]) => {
      const problem = check(path, s);
      return problem ? [`${crd.spec.names.kind} ${path}: ${problem}`] : [];
    }),
  );

test('crds/ holds exactly the two modelship CRDs', () => {
  expect(crds.map((c) => c.metadata.name).sort()).toEqual([
    `${MODEL_DEPLOYMENT_PLURAL}.${GROUP}`,
    `${MODEL_VERSION_PLURAL}.${GROUP}`,
  ]);
});

describe.each([
  [MODEL_VERSION_KIND, MODEL_VERSION_PLURAL, 'mv'],
  [MODEL_DEPLOYMENT_KIND, MODEL_DEPLOYMENT_PLURAL, 'md'],
])('%s', (kind, plural, shortName) => {
  const crd = byKind(kind);
  const version = crd.spec.versions[0]!;

  test('names, scope and the one served storage version match src/api constants', () => {
    expect(crd.spec.group).toBe(GROUP);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind, plural, singular: kind.toLowerCase() });
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: VERSION, served: true, storage: true });
    expect(API_VERSION).toBe(`${GROUP}/${VERSION}`);
  });

  test('has its short name and only the modelship category (kubectl get all must not list it)', () => {
    expect(crd.spec.names.shortNames).toEqual([shortName]);
    expect(crd.spec.names.categories).toEqual(['modelship']);
  });

  test('has the status subresource, and requires spec', () => {
    expect(version.subresources?.status).toEqual({});
    expect(rootOf(crd).required).toEqual(['spec']);
  });

  test('every printer column points at a field the schema declares', () => {
    const columns = version.additionalPrinterColumns ?? [];
    expect(columns.length).toBeGreaterThan(0);
    for (const column of columns) {
      if (column.jsonPath === '.metadata.creationTimestamp') continue;
      // A filter such as [?(@.type=="Ready")] needs the field it tests, inside the list it filters.
      const filter = /^(.*)\[\?\(@\.(\w+)==.*?\)\](.*)$/.exec(column.jsonPath);
      const paths = filter ? [`${filter[1]}.${filter[2]}`, `${filter[1]}${filter[3]}`] : [column.jsonPath];
      for (const path of paths) {
        expect([column.name, path, at(rootOf(crd), path)?.type]).toEqual([
          column.name,
          path,
          expect.any(String),
        ]);
      }
    }
  });
});

test('ModelVersion printer columns', () => {
  const columns = byKind(MODEL_VERSION_KIND).spec.versions[0]!.additionalPrinterColumns!;
  expect(columns.filter((c) => !c.priority).map((c) => [c.name, c.jsonPath])).toEqual([
    ['Model', '.spec.model'],
    ['Version', '.spec.version'],
    ['Runtime', '.spec.runtime'],
    ['Format', '.spec.format'],
    ['Phase', '.status.phase'],
    ['Age', '.metadata.creationTimestamp'],
  ]);
  expect(columns.filter((c) => c.priority === 1).map((c) => [c.name, c.jsonPath])).toEqual([
    ['Storage', '.spec.storageUri'],
    ['Owner', '.spec.record.owner'],
    ['Last Served', '.status.lastServedAt'],
  ]);
});

test('ModelDeployment printer columns', () => {
  const columns = byKind(MODEL_DEPLOYMENT_KIND).spec.versions[0]!.additionalPrinterColumns!;
  expect(columns.filter((c) => !c.priority).map((c) => [c.name, c.jsonPath])).toEqual([
    ['Model', '.spec.model'],
    ['Desired', '.spec.version'],
    ['Stable', '.status.stableVersion'],
    ['Canary', '.status.canaryVersion'],
    ['Weight', '.status.canaryWeight'],
    ['Phase', '.status.phase'],
    ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
    ['Age', '.metadata.creationTimestamp'],
  ]);
  expect(columns.filter((c) => c.priority === 1).map((c) => [c.name, c.jsonPath])).toEqual([
    ['Router', '.spec.traffic.router'],
    ['Step', '.status.currentStepIndex'],
    ['Analysis', '.status.analysis.summary'],
  ]);
});

test('ModelDeployment has a scale subresource whose paths are an integer and a string', () => {
  const crd = byKind(MODEL_DEPLOYMENT_KIND);
  const scale = crd.spec.versions[0]!.subresources?.scale;
  expect(scale).toEqual({
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.status.selector',
  });
  expect(at(rootOf(crd), scale!.specReplicasPath)?.type).toBe('integer');
  expect(at(rootOf(crd), scale!.statusReplicasPath)?.type).toBe('integer');
  expect(at(rootOf(crd), scale!.labelSelectorPath!)?.type).toBe('string');
});

test('every field and object has a description (kubectl explain is the manual)', () => {
  // The apiserver forbids a description on the root metadata; explain shows ObjectMeta's own.
  expect(
    violations((path, s) => (path !== '.metadata' && !s.description?.trim() ? 'no description' : undefined)),
  ).toEqual([]);
});

test('every string is bounded by maxLength, enum, format or pattern', () => {
  // The root apiVersion and kind are set and checked by the apiserver itself.
  const standard = new Set(['.apiVersion', '.kind']);
  expect(
    violations((path, s) =>
      s.type === 'string' &&
      !standard.has(path) &&
      s.maxLength === undefined &&
      !s.enum &&
      !s.format &&
      !s.pattern
        ? 'unbounded string'
        : undefined,
    ),
  ).toEqual([]);
});

test('every string a CEL rule reads has a maxLength (or is an enum)', () => {
  expect(
    violations((path, s) => {
      if (!s['x-kubernetes-validations'] || s.type === 'object' || s.type === 'array') return undefined;
      return s.type === 'string' && s.maxLength === undefined && !s.enum
        ? `rule on ${path} reads an unbounded string`
        : undefined;
    }),
  ).toEqual([]);
});

test('every list has maxItems and every map has maxProperties', () => {
  expect(
    violations((_path, s) => {
      if (s.type === 'array' && s.maxItems === undefined) return 'list without maxItems';
      if (typeof s.additionalProperties === 'object' && s.maxProperties === undefined)
        return 'map without maxProperties';
      return undefined;
    }),
  ).toEqual([]);
});

test('every list of objects declares its list type, and map keys are required fields of the items', () => {
  expect(
    violations((_path, s) => {
      if (s.type !== 'array' || s.items?.type !== 'object') return undefined;
      const listType = s['x-kubernetes-list-type'];
      if (!listType) return 'list of objects without x-kubernetes-list-type';
      if (listType !== 'map') return undefined;
      const missing = (s['x-kubernetes-list-map-keys'] ?? []).filter((k) => !s.items?.required?.includes(k));
      return missing.length > 0 ? `map keys not required: ${missing.join(', ')}` : undefined;
    }),
  ).toEqual([]);
});

test('int-or-string values carry the quantity pattern', () => {
  expect(
    violations((_path, s) =>
      s['x-kubernetes-int-or-string'] && !s.pattern ? 'int-or-string without pattern' : undefined,
    ),
  ).toEqual([]);
});

test('every CEL rule has a static message and a valid reason', () => {
  const reasons = ['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'];
  expect(
    violations((_path, s) =>
      (s['x-kubernetes-validations'] ?? [])
        .map((r) => {
          if (!r.message?.trim()) return `rule ${r.rule} has no message`;
          if (r.reason && !reasons.includes(r.reason)) return `rule ${r.rule} has reason ${r.reason}`;
          return undefined;
        })
        .find(Boolean),
    ),
  ).toEqual([]);
});

test('every condition list has the metav1.Condition shape, keyed by type', () => {
  for (const kind of [MODEL_VERSION_KIND, MODEL_DEPLOYMENT_KIND]) {
    const conditions = at(rootOf(byKind(kind)), '.status.conditions')!;
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(Object.keys(conditions.items!.properties!).sort()).toEqual(
      ['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type'].sort(),
    );
    expect(conditions.items!.properties!.status!.enum).toEqual(['True', 'False', 'Unknown']);
    expect(conditions.items!.required!.sort()).toEqual([
      'lastTransitionTime',
      'message',
      'reason',
      'status',
      'type',
    ]);
  }
});

test('a ModelVersion spec is immutable', () => {
  const rules = rootOf(byKind(MODEL_VERSION_KIND)).properties!.spec!['x-kubernetes-validations'] ?? [];
  expect(rules).toContainEqual(
    expect.objectContaining({ rule: 'self == oldSelf', message: expect.stringContaining('immutable') }),
  );
});

test('ModelDeployment strategy and traffic default to objects, so their nested defaults apply', () => {
  const spec = rootOf(byKind(MODEL_DEPLOYMENT_KIND)).properties!.spec!;
  expect(spec.properties!.strategy!.default).toEqual({ type: 'Canary' });
  expect(spec.properties!.traffic!.default).toEqual({ router: 'service' });
});

// The regular expressions inside CEL matches() rules are RE2; the ones used here are also valid
// JavaScript with the same meaning, so their behaviour can be tested without an apiserver.
function celPattern(schema: Schema | undefined): RegExp {
  const rule = schema?.['x-kubernetes-validations']?.find((r) => r.rule.startsWith('self.matches('))?.rule;
  const match = rule && /^self\.matches\((r?)'(.*)'\)$/.exec(rule);
  if (!match) throw new Error(`no self.matches('...') rule in ${JSON.stringify(schema)}`);
  return new RegExp(match[1] === 'r' ? match[2]! : match[2]!.replaceAll('\\\\', '\\'));
}

describe('CEL patterns', () => {
  const mv = rootOf(byKind(MODEL_VERSION_KIND));
  const md = rootOf(byKind(MODEL_DEPLOYMENT_KIND));

  test('ModelVersion and ModelDeployment accept the same versions', () => {
    expect(celPattern(at(md, '.spec.version')).source).toBe(celPattern(at(mv, '.spec.version')).source);
  });

  test.each([
    ['1.2.3', true],
    ['0.0.0', true],
    ['2.1.0-finetune.datasetx', true],
    ['1.0.0-alpha.1+build.20250101', true],
    ['1.0.0+sha.5114f85', true],
    ['1.0.0-0.3.7', true],
    ['10.20.30', true],
    ['1.2', false],
    ['v1.2.3', false],
    ['latest', false],
    ['^1.2.0', false],
    ['~1.2', false],
    ['1.x', false],
    ['01.2.3', false],
    ['1.2.3-01', false],
    ['1.2.3-', false],
    ['1.2.3+', false],
  ])('version %s -> %s', (version, ok) => {
    expect(celPattern(at(mv, '.spec.version')).test(version)).toBe(ok);
  });

  test.each([
    ['s3://models/resnet50/1.0.0/model.onnx', true],
    ['gs://bucket/path', true],
    ['pvc://model-store/resnet50/1', true],
    ['https://models.example.com/resnet50.onnx', true],
    ['http://models.example.com/resnet50.onnx', false],
    ['ftp://models.example.com/resnet50.onnx', false],
    ['/mnt/models/resnet50', false],
    ['s3://', false],
    ['s3://bucket/with space', false],
  ])('storageUri %s -> %s', (uri, ok) => {
    expect(celPattern(at(mv, '.spec.storageUri')).test(uri)).toBe(ok);
  });

  test.each([
    [`sha256:${'a1'.repeat(32)}`, true],
    [`sha256:${'A1'.repeat(32)}`, false],
    [`sha256:${'a1'.repeat(31)}`, false],
    ['md5:9e107d9d372bb6826bd81d3542a419d6', false],
  ])('digest %s -> %s', (digest, ok) => {
    expect(celPattern(at(mv, '.spec.digest')).test(digest)).toBe(ok);
  });

  test.each([
    ['30s', true],
    ['5m', true],
    ['1h30m', true],
    ['250ms', true],
    ['10', false],
    ['ten seconds', false],
    ['1.5h', false],
    ['-5s', false],
  ])('pause duration %s -> %s', (duration, ok) => {
    expect(celPattern(at(md, '.spec.strategy.canary.steps.pause.duration')).test(duration)).toBe(ok);
  });

  test.each([
    ['resnet50', true],
    ['sentiment-bert', true],
    ['3d-unet', true],
    ['ResNet50', false],
    ['-bert', false],
    ['bert-', false],
    ['bert_base', false],
  ])('model %s -> %s', (model, ok) => {
    expect(celPattern(at(mv, '.spec.model')).test(model)).toBe(ok);
    expect(celPattern(at(md, '.spec.model')).test(model)).toBe(ok);
  });
});
