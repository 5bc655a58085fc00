import {
  type CustomResourceDefinition,
  firstSentence,
  generateTypes,
  GENERATED_HEADER,
  type JSONSchemaProps,
  singular,
} from './codegen.js';

/** A one-version CRD of kind Widget whose spec has the given schema. */
function widget(
  spec: JSONSchemaProps,
  extra: Record<string, JSONSchemaProps> = {},
): CustomResourceDefinition {
  return {
    spec: {
      group: 'example.io',
      names: { kind: 'Widget' },
      versions: [
        {
          name: 'v1',
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'Widget is a test resource.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                ...extra,
              },
            },
          },
        },
      ],
    },
  };
}

/** The declaration named `name` in the output, from its doc comment (if any) to its end. */
function declaration(source: string, name: string): string {
  const doc = String.raw`(?:^/\*\*(?:(?!\*/).)*\*/\n)?`; // one comment, not a run of declarations
  const body = String.raw`(?:interface ${name} (?:\{\}|\{\n.*?^\})|type ${name} =[^;]*;)`;
  const match = new RegExp(`${doc}^export ${body}$`, 'ms').exec(source);
  if (!match) throw new Error(`no declaration ${name} in:\n${source}`);
  return match[0];
}

describe('generateTypes', () => {
  test.each<[string, JSONSchemaProps, string, string]>([
    [
      'required and optional properties',
      {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string' }, count: { type: 'integer' } },
      },
      'WidgetSpec',
      'export interface WidgetSpec {\n  name: string;\n  count?: number;\n}',
    ],
    [
      'scalars',
      {
        type: 'object',
        properties: {
          ratio: { type: 'number' },
          on: { type: 'boolean' },
          at: { type: 'string' },
        },
      },
      'WidgetSpec',
      'export interface WidgetSpec {\n  ratio?: number;\n  on?: boolean;\n  at?: string;\n}',
    ],
    [
      'an enum becomes a named union of string literals',
      {
        type: 'object',
        properties: { mode: { type: 'string', enum: ['Fast', 'Safe'], description: 'How. More.' } },
      },
      'WidgetSpecMode',
      "/** How. */\nexport type WidgetSpecMode = 'Fast' | 'Safe';",
    ],
    [
      'a property of enum type refers to the alias',
      { type: 'object', properties: { mode: { type: 'string', enum: ['Fast', 'Safe'] } } },
      'WidgetSpec',
      'export interface WidgetSpec {\n  mode?: WidgetSpecMode;\n}',
    ],
    [
      'a map becomes a Record',
      {
        type: 'object',
        properties: { labels: { type: 'object', additionalProperties: { type: 'string' } } },
      },
      'WidgetSpec',
      'export interface WidgetSpec {\n  labels?: Record<string, string>;\n}',
    ],
    [
      'int-or-string becomes number | string, also as map values',
      {
        type: 'object',
        properties: {
          port: { 'x-kubernetes-int-or-string': true },
          limits: { type: 'object', additionalProperties: { 'x-kubernetes-int-or-string': true } },
        },
      },
      'WidgetSpec',
      'export interface WidgetSpec {\n  port?: number | string;\n  limits?: Record<string, number | string>;\n}',
    ],
    [
      'a free-form object (preserve-unknown-fields) becomes Record<string, unknown>',
      {
        type: 'object',
        properties: { config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
      'WidgetSpec',
      'export interface WidgetSpec {\n  config?: Record<string, unknown>;\n}',
    ],
    [
      'an object the apiserver prunes to {} becomes Record<string, never>',
      { type: 'object', properties: { empty: { type: 'object' } } },
      'WidgetSpec',
      'export interface WidgetSpec {\n  empty?: Record<string, never>;\n}',
    ],
    [
      'declared fields plus preserve-unknown-fields get an index signature',
      {
        type: 'object',
        'x-kubernetes-preserve-unknown-fields': true,
        properties: { known: { type: 'string' } },
      },
      'WidgetSpec',
      'export interface WidgetSpec {\n  known?: string;\n' +
        '  /** Fields the schema does not declare are kept (x-kubernetes-preserve-unknown-fields). */\n' +
        '  [key: string]: unknown;\n}',
    ],
    [
      'arrays of scalars',
      { type: 'object', properties: { shape: { type: 'array', items: { type: 'integer' } } } },
      'WidgetSpec',
      'export interface WidgetSpec {\n  shape?: number[];\n}',
    ],
    [
      'arrays of objects name their item type in the singular',
      {
        type: 'object',
        properties: {
          steps: { type: 'array', items: { type: 'object', properties: { weight: { type: 'integer' } } } },
        },
      },
      'WidgetSpecStep',
      'export interface WidgetSpecStep {\n  weight?: number;\n}',
    ],
    [
      'arrays of enums',
      {
        type: 'object',
        properties: { modes: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } } },
      },
      'WidgetSpec',
      'export interface WidgetSpec {\n  modes?: WidgetSpecMode[];\n}',
    ],
    [
      'nested objects are named by their path',
      {
        type: 'object',
        properties: {
          traffic: {
            type: 'object',
            properties: { gateway: { type: 'object', properties: { host: { type: 'string' } } } },
          },
        },
      },
      'WidgetSpecTrafficGateway',
      'export interface WidgetSpecTrafficGateway {\n  host?: string;\n}',
    ],
    [
      'nullable adds | null',
      { type: 'object', properties: { note: { type: 'string', nullable: true } } },
      'WidgetSpec',
      'export interface WidgetSpec {\n  note?: string | null;\n}',
    ],
    [
      'property names that are not identifiers are quoted',
      { type: 'object', properties: { 'nvidia.com/gpu': { type: 'integer' } } },
      'WidgetSpec',
      "export interface WidgetSpec {\n  'nvidia.com/gpu'?: number;\n}",
    ],
    [
      'JSDoc keeps the first sentence of the description and the default',
      {
        type: 'object',
        description: 'The spec. It has more to say, e.g. this.',
        properties: {
          replicas: { type: 'integer', default: 1, description: 'Pods to run, e.g. 3. Defaults to 1.' },
        },
      },
      'WidgetSpec',
      '/** The spec. */\nexport interface WidgetSpec {\n' +
        '  /**\n   * Pods to run, e.g. 3.\n   * @defaultValue `1`\n   */\n  replicas?: number;\n}',
    ],
  ])('%s', (_name, spec, declared, expected) => {
    expect(declaration(generateTypes([widget(spec)]), declared)).toBe(expected);
  });

  test('the resource has literal apiVersion and kind, ObjectMeta metadata, and optional status', () => {
    const out = generateTypes([widget({ type: 'object' }, { status: { type: 'object' } })]);
    expect(
      out.startsWith(`${GENERATED_HEADER}\n\nimport type { V1ObjectMeta } from '@kubernetes/client-node';\n`),
    ).toBe(true);
    expect(declaration(out, 'Widget')).toBe(
      [
        '/** Widget is a test resource. */',
        'export interface Widget {',
        "  apiVersion: 'example.io/v1';",
        "  kind: 'Widget';",
        '  metadata?: V1ObjectMeta;',
        '  spec: Record<string, never>;',
        '  status?: Record<string, never>;',
        '}',
      ].join('\n'),
    );
  });

  test('long enums take the layouts prettier would give them', () => {
    const values = (n: number, width: number) =>
      Array.from({ length: n }, (_, i) => `v${i}`.padEnd(width, 'x'));
    const out = generateTypes([
      widget({
        type: 'object',
        properties: {
          fits: { type: 'string', enum: values(4, 8) },
          nextLine: { type: 'string', enum: values(8, 8) },
          oneEach: { type: 'string', enum: values(12, 8) },
        },
      }),
    ]);
    const lines = (name: string) => declaration(out, name).split('\n');
    expect(lines('WidgetSpecFits')).toHaveLength(1);
    expect(lines('WidgetSpecNextLine')).toEqual([
      'export type WidgetSpecNextLine =',
      `  ${values(8, 8)
        .map((v) => `'${v}'`)
        .join(' | ')};`,
    ]);
    expect(lines('WidgetSpecOneEach')).toHaveLength(13);
    expect(lines('WidgetSpecOneEach')[1]).toBe("  | 'v0xxxxxx'");
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(110);
  });

  test('a root schema that omits apiVersion, kind and metadata still gets them', () => {
    const crd = widget({ type: 'object' });
    const root = crd.spec.versions[0]!.schema!.openAPIV3Schema!;
    root.properties = { spec: root.properties!.spec! };
    expect(declaration(generateTypes([crd]), 'Widget')).toContain(
      "export interface Widget {\n  apiVersion: 'example.io/v1';\n  kind: 'Widget';\n  metadata?: V1ObjectMeta;\n  spec:",
    );
  });

  test('the storage version is used when there are several', () => {
    const crd = widget({ type: 'object', properties: { a: { type: 'string' } } });
    const old = { name: 'v0', storage: false, schema: { openAPIV3Schema: { type: 'object' } } };
    crd.spec.versions.unshift(old);
    expect(generateTypes([crd])).toContain("apiVersion: 'example.io/v1';");
  });

  test.each<[string, JSONSchemaProps, RegExp]>([
    [
      'two paths that produce one type name',
      {
        type: 'object',
        properties: {
          a: { type: 'object', properties: { bC: { type: 'object', properties: {} } } },
          aB: { type: 'object', properties: { c: { type: 'object', properties: {} } } },
        },
      },
      /type name WidgetSpecABC is produced by both Widget.spec.a.bC and Widget.spec.aB.c/,
    ],
    [
      'an array without items',
      { type: 'object', properties: { l: { type: 'array' } } },
      /Widget.spec.l: array without items/,
    ],
    [
      'a schema without type',
      { type: 'object', properties: { x: {} } },
      /Widget.spec.x: schema without type/,
    ],
  ])('rejects %s', (_name, spec, message) => {
    expect(() => generateTypes([widget(spec)])).toThrow(message);
  });
});

describe('firstSentence', () => {
  test.each([
    ['One. Two.', 'One.'],
    ['No full stop', 'No full stop'],
    ['Wraps\n  across lines. Then more.', 'Wraps across lines.'],
    ['Formats, e.g. onnx or mar. More.', 'Formats, e.g. onnx or mar.'],
    ['Version 2.1.0-rc.1 is fine. More.', 'Version 2.1.0-rc.1 is fine.'],
  ])('%j -> %j', (input, expected) => {
    expect(firstSentence(input)).toBe(expected);
  });
});

describe('singular', () => {
  test.each([
    ['Steps', 'Step'],
    ['Policies', 'Policy'],
    ['Env', 'EnvItem'],
    ['History', 'HistoryItem'],
    ['Address', 'AddressItem'],
    ['Status', 'StatusItem'],
  ])('%s -> %s', (input, expected) => {
    expect(singular(input)).toBe(expected);
  });
});
