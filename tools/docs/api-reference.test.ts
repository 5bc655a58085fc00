import { readFileSync } from 'node:fs';

import { readCrds } from '../api/crd-files.js';
import {
  type Crd,
  describeRule,
  describeType,
  describeValidation,
  GENERATED_NOTICE,
  renderApiReference,
  type Schema,
  slug,
} from './api-reference.js';
import { API_REFERENCE_FILE } from './doc-files.js';

/** A one-version CRD of kind Widget whose spec has the given schema. */
function widget(spec: Schema, extra: Partial<Crd['spec']['versions'][number]> = {}): Crd {
  return {
    spec: {
      group: 'example.io',
      scope: 'Namespaced',
      names: {
        kind: 'Widget',
        plural: 'widgets',
        singular: 'widget',
        shortNames: ['wd'],
        categories: ['all'],
      },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'Widget is a test resource.',
              properties: { apiVersion: { type: 'string' }, metadata: { type: 'object' }, spec },
            },
          },
          ...extra,
        },
      ],
    },
  };
}

/** The Markdown table row of `field` in the section headed `heading`. */
function row(doc: string, heading: string, field: string): string {
  const start = doc.indexOf(`\n### ${heading}\n`);
  if (start < 0) throw new Error(`no section ${heading} in:\n${doc}`);
  const end = doc.indexOf('\n### ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const line = section.split('\n').find((l) => l.startsWith(`| \`${field}\` |`));
  if (!line) throw new Error(`no row ${field} in section ${heading}:\n${section}`);
  return line;
}

describe('describeType', () => {
  test.each<[string, Schema, string]>([
    ['a string', { type: 'string' }, 'string'],
    ['a format', { type: 'integer', format: 'int32' }, 'integer (int32)'],
    ['nullable', { type: 'string', nullable: true }, 'string, nullable'],
    [
      'an object with properties links to its section',
      { type: 'object', properties: { a: {} } },
      '[object](#widgetspecthing)',
    ],
    ['an object without properties', { type: 'object' }, 'object'],
    ['free-form', { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, 'object (any fields)'],
    [
      'a list of scalars',
      { type: 'array', items: { type: 'integer', format: 'int64' } },
      '[]integer (int64)',
    ],
    [
      'a list of objects links to the items section',
      { type: 'array', items: { type: 'object', properties: { a: {} } } },
      '[][object](#widgetspecthing)',
    ],
    ['a map', { type: 'object', additionalProperties: { type: 'string' } }, 'map[string]string'],
    [
      'a quantity',
      { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
      'int-or-string',
    ],
  ])('%s', (_name, schema, expected) => {
    expect(describeType(schema, 'Widget.spec.thing')).toBe(expected);
  });
});

describe('describeValidation', () => {
  test.each<[string, Schema, string[]]>([
    ['nothing to say', { type: 'string' }, []],
    ['enum values', { type: 'string', enum: ['A', 'B'] }, ['one of `A`, `B`']],
    ['numeric range', { type: 'integer', minimum: 0, maximum: 100 }, ['0–100']],
    ['lower bound only', { type: 'integer', minimum: 1 }, ['≥ 1']],
    ['exclusive bound', { type: 'number', minimum: 0, exclusiveMinimum: true }, ['> 0']],
    ['string length', { type: 'string', minLength: 1, maxLength: 63 }, ['length 1–63 characters']],
    ['array size', { type: 'array', maxItems: 16, items: { type: 'string' } }, ['≤ 16 items']],
    [
      'map size',
      { type: 'object', maxProperties: 8, additionalProperties: { type: 'string' } },
      ['≤ 8 entries'],
    ],
    ['pattern', { type: 'string', pattern: '^[a-z]+$' }, ['pattern `^[a-z]+$`']],
    [
      'list map keys',
      {
        type: 'array',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        items: { type: 'object' },
      },
      ['list map, unique by `name`'],
    ],
    [
      'set',
      { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
      ['set (unique items)'],
    ],
    [
      'bounds of scalar items',
      { type: 'array', items: { type: 'integer', minimum: -1 } },
      ['each item: ≥ -1'],
    ],
    [
      'bounds of map values',
      { type: 'object', additionalProperties: { type: 'string', maxLength: 63 } },
      ['each value: length ≤ 63 characters'],
    ],
  ])('%s', (_name, schema, expected) => {
    expect(describeValidation(schema)).toEqual(expected);
  });
});

describe('describeRule', () => {
  test.each<[string, Parameters<typeof describeRule>[0], string]>([
    ['rule and message', { rule: 'self > 0', message: 'must be positive' }, '`self > 0` — must be positive'],
    [
      'field path and reason',
      { rule: 'has(self.a)', message: 'a is required', fieldPath: '.a', reason: 'FieldValueRequired' },
      '`has(self.a)` — a is required (field `.a`, reason `FieldValueRequired`)',
    ],
    ['folded whitespace', { rule: 'a ||\n  b', message: 'x\n y' }, '`a || b` — x y'],
    [
      'message expression',
      { rule: 'a', messageExpression: "'bad ' + self" },
      "`a` — message from `'bad ' + self`",
    ],
    ['backticks in a rule', { rule: 'x == `y`' }, '`` x == `y` ``'],
  ])('%s', (_name, rule, expected) => {
    expect(describeRule(rule)).toBe(expected);
  });
});

describe('renderApiReference', () => {
  test.each<[string, Schema, string, string, string]>([
    [
      'required, default, bounds and description in one row',
      {
        type: 'object',
        required: ['replicas'],
        properties: { replicas: { type: 'integer', minimum: 0, default: 1, description: 'How many.' } },
      },
      '`Widget.spec`',
      'replicas',
      '| `replicas` | integer | yes | `1` | ≥ 0 | How many. |',
    ],
    [
      'an object default is JSON',
      { type: 'object', properties: { mode: { type: 'object', default: { a: 1 }, properties: { a: {} } } } },
      '`Widget.spec`',
      'mode',
      '| `mode` | [object](#widgetspecmode) | | `{"a":1}` | | |',
    ],
    [
      'pipes are escaped in cells, code spans included',
      { type: 'object', properties: { q: { type: 'string', pattern: '^(a|b)$', description: 'a | b' } } },
      '`Widget.spec`',
      'q',
      '| `q` | string | | | pattern `^(a\\|b)$` | a \\| b |',
    ],
    [
      'a field with its own CEL rule points to the list below the table',
      {
        type: 'object',
        properties: {
          name: { type: 'string', 'x-kubernetes-validations': [{ rule: 'size(self) > 0', message: 'no' }] },
        },
      },
      '`Widget.spec`',
      'name',
      '| `name` | string | | | CEL rule below | |',
    ],
    [
      'descriptions of scalar items are appended',
      {
        type: 'object',
        properties: {
          hosts: { type: 'array', description: 'Hosts.', items: { type: 'string', description: 'A host.' } },
        },
      },
      '`Widget.spec`',
      'hosts',
      '| `hosts` | []string | | | | Hosts. Each item: A host. |',
    ],
    [
      'emphasis and HTML characters in prose are escaped',
      { type: 'object', properties: { h: { type: 'string', description: 'may start with *. and <md>' } } },
      '`Widget.spec`',
      'h',
      '| `h` | string | | | | may start with \\*. and \\<md> |',
    ],
  ])('%s', (_name, spec, heading, field, expected) => {
    expect(row(renderApiReference([widget(spec)]), heading, field)).toBe(expected);
  });

  test('nested objects and list items get sections, depth first, linked from the outline', () => {
    const doc = renderApiReference([
      widget({
        type: 'object',
        properties: {
          a: {
            type: 'object',
            description: 'A.',
            properties: { b: { type: 'object', properties: { c: { type: 'string' } } } },
          },
          items: {
            type: 'array',
            items: { type: 'object', description: 'One item.', properties: { n: { type: 'integer' } } },
          },
        },
      }),
    ]);
    const headings = doc.split('\n').filter((l) => l.startsWith('#'));
    expect(headings).toEqual([
      '# API reference',
      '## Widget',
      '### Widget fields',
      '### `Widget.spec`',
      '### `Widget.spec.a`',
      '### `Widget.spec.a.b`',
      '### `Widget.spec.items[]`',
    ]);
    expect(doc).toContain(
      [
        '- [`Widget.spec`](#widgetspec)',
        '  - [`Widget.spec.a`](#widgetspeca)',
        '    - [`Widget.spec.a.b`](#widgetspecab)',
        '  - [`Widget.spec.items[]`](#widgetspecitems)',
      ].join('\n'),
    );
    expect(doc).toContain('### `Widget.spec.items[]`\n\nOne item.\n');
    expect(row(doc, '`Widget.spec`', 'items')).toBe('| `items` | [][object](#widgetspecitems) | | | | |');
  });

  test('every link to a section has a heading with that anchor', () => {
    const doc = renderApiReference(readCrds());
    const anchors = new Set(
      doc
        .split('\n')
        .filter((l) => l.startsWith('#'))
        .map((l) => slug(l.replace(/^#+ /, ''))),
    );
    const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(50);
    expect(links.filter((l) => !anchors.has(l!))).toEqual([]);
  });

  test('CEL rules sit under the object they are on; rules of scalar fields name the field', () => {
    const doc = renderApiReference([
      widget({
        type: 'object',
        'x-kubernetes-validations': [{ rule: 'has(self.a) || has(self.b)', message: 'a or b' }],
        properties: {
          a: { type: 'string', 'x-kubernetes-validations': [{ rule: "self != ''", message: 'not empty' }] },
          b: {
            type: 'array',
            items: {
              type: 'string',
              'x-kubernetes-validations': [{ rule: 'size(self) < 9', message: 'short' }],
            },
          },
          c: {
            type: 'object',
            'x-kubernetes-validations': [{ rule: 'self.d > 0', message: 'positive', fieldPath: '.d' }],
            properties: { d: { type: 'integer' } },
          },
        },
      }),
    ]);
    expect(doc).toContain(
      [
        'Validation rules (CEL) on `Widget.spec`:',
        '',
        '- `has(self.a) || has(self.b)` — a or b',
        "- on `a`: `self != ''` — not empty",
        '- on each item of `b`: `size(self) < 9` — short',
        '',
      ].join('\n'),
    );
    expect(doc).toContain(
      'Validation rules (CEL) on `Widget.spec.c`:\n\n- `self.d > 0` — positive (field `.d`)\n',
    );
  });

  test('names, subresources and printer columns come first', () => {
    const doc = renderApiReference([
      widget(
        { type: 'object', properties: { replicas: { type: 'integer' } } },
        {
          subresources: {
            status: {},
            scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' },
          },
          additionalPrinterColumns: [
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Pods.' },
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              priority: 1,
            },
          ],
        },
      ),
    ]);
    expect(doc.startsWith(`${GENERATED_NOTICE}\n\n# API reference\n`)).toBe(true);
    expect(doc).toContain('| API version | `example.io/v1` |');
    expect(doc).toContain('| Short names | `wd` |');
    expect(doc).toContain('| Categories | `all` (`kubectl get all` lists this kind with the others) |');
    expect(doc).toMatch(
      /\| Subresources \| `status` .*; `scale` \(.*replicas `\.spec\.replicas`, status `\.status\.replicas`\) \|/,
    );
    expect(doc).toContain('| Replicas | integer | `.spec.replicas` | always | Pods. |');
    expect(doc).toContain(
      '| Ready | string | `.status.conditions[?(@.type=="Ready")].status` | `-o wide` | |',
    );
  });

  test('several served versions are documented apart; unserved ones are left out', () => {
    const crd = widget({ type: 'object', properties: { a: { type: 'string' } } });
    const v1 = crd.spec.versions[0]!;
    crd.spec.versions = [
      { ...v1, name: 'v1beta1', storage: false },
      v1,
      { ...v1, name: 'v1alpha1', served: false, storage: false },
    ];
    const headings = renderApiReference([crd])
      .split('\n')
      .filter((l) => l.startsWith('## '));
    expect(headings).toEqual(['## Widget v1beta1', '## Widget v1']);
  });

  test('a schema whose paths collapse to one anchor is an error, not a broken link', () => {
    const spec: Schema = {
      type: 'object',
      properties: {
        'a.b': { type: 'object', properties: { x: {} } },
        ab: { type: 'object', properties: { x: {} } },
      },
    };
    expect(() => renderApiReference([widget(spec)])).toThrow(/same anchor #widgetspecab/);
  });

  test('a version without a schema is an error', () => {
    const crd = widget({ type: 'object' });
    delete crd.spec.versions[0]!.schema;
    expect(() => renderApiReference([crd])).toThrow('CRD Widget: version v1 has no openAPIV3Schema');
  });
});

describe('docs/api.md', () => {
  test('is what crds/ generates', () => {
    const expected = renderApiReference(readCrds());
    let actual = '';
    try {
      actual = readFileSync(API_REFERENCE_FILE, 'utf8');
    } catch {
      // missing: reported below
    }
    if (actual !== expected) {
      throw new Error(`${API_REFERENCE_FILE} is out of date with crds/: run npm run gen:docs`);
    }
  });
});
