// Turns the structural OpenAPI schemas of our CRDs into TypeScript interfaces, so the types the
// operator compiles against are derived from crds/ (the single source of the API) and cannot drift
// from it unnoticed: tools/api/types-gen.test.ts regenerates and compares.
//
// Pure: CRD objects in, source text out. Reading crds/ and writing the file is gen-cli.ts's job.
//
// The output is already in the project's prettier style (2 spaces, single quotes, 110 columns), so the
// generated file needs no formatter pass and no .prettierignore entry. Enums become named type aliases
// so that no property line grows past the print width; a code line that would anyway is an error.

/** The subset of a structural OpenAPI v3 schema (JSONSchemaProps) the generator reads. */
export interface JSONSchemaProps {
  type?: string;
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps | boolean;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** The subset of an apiextensions.k8s.io/v1 CustomResourceDefinition the generator reads. */
export interface CustomResourceDefinition {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; storage?: boolean; schema?: { openAPIV3Schema?: JSONSchemaProps } }[];
  };
}

const PRINT_WIDTH = 110;
const INDENT = '  ';

export const GENERATED_HEADER = [
  '// Code generated from crds/*.yaml by tools/api/codegen.ts. DO NOT EDIT.',
  '// Change the CRDs, then refresh this file with: npm run gen:api',
].join('\n');

/**
 * Renders TypeScript declarations for the storage version of each CRD: one interface per object
 * schema with properties, named by its path from the kind (ModelDeploymentSpecStrategyCanary), array
 * items singular (...CanaryStep), and one type alias per enum. Throws on an ambiguous schema.
 */
export function generateTypes(crds: readonly CustomResourceDefinition[]): string {
  const out = new Emitter();
  for (const crd of crds) {
    const version = storageVersion(crd);
    const root = version.schema?.openAPIV3Schema;
    if (!root) throw new Error(`CRD ${crd.spec.names.kind}: version ${version.name} has no openAPIV3Schema`);
    out.root(crd.spec.names.kind, `${crd.spec.group}/${version.name}`, root);
  }
  const imports = crds.length > 0 ? "import type { V1ObjectMeta } from '@kubernetes/client-node';\n\n" : '';
  return `${GENERATED_HEADER}\n\n${imports}${out.blocks.join('\n\n')}\n`;
}

function storageVersion(crd: CustomResourceDefinition): CustomResourceDefinition['spec']['versions'][number] {
  const versions = crd.spec.versions;
  const storage = versions.length === 1 ? versions[0] : versions.find((v) => v.storage === true);
  if (!storage) throw new Error(`CRD ${crd.spec.names.kind}: no storage version`);
  return storage;
}

class Emitter {
  readonly blocks: string[] = [];
  private readonly names = new Map<string, string>();

  /** The resource itself: apiVersion and kind are literals, metadata is ObjectMeta. */
  root(kind: string, apiVersion: string, schema: JSONSchemaProps): void {
    // The schema leaves these open (metadata must not be described in a CRD); a typed resource
    // always carries its own apiVersion and kind. Declared first, whether the schema lists them or not.
    const fixed: Record<string, { type: string; required: boolean }> = {
      apiVersion: { type: quote(apiVersion), required: true },
      kind: { type: quote(kind), required: true },
      metadata: { type: 'V1ObjectMeta', required: false },
    };
    const properties = { apiVersion: {}, kind: {}, metadata: {}, ...schema.properties };
    this.object(kind, kind, { ...schema, properties }, fixed);
  }

  private object(
    name: string,
    path: string,
    schema: JSONSchemaProps,
    fixed: Record<string, { type: string; required: boolean }> = {},
  ): string {
    this.claim(name, path);
    const at = this.blocks.push('') - 1; // parent first, nested declarations after it
    const required = new Set(schema.required ?? []);
    const lines: string[] = [];
    for (const [prop, propSchema] of Object.entries(schema.properties ?? {})) {
      const type = fixed[prop]?.type ?? this.typeOf(propSchema, name + pascal(prop), `${path}.${prop}`);
      const optional = (fixed[prop]?.required ?? required.has(prop)) ? '' : '?';
      lines.push(
        ...jsDoc(propSchema.description, propSchema.default, INDENT),
        codeLine(`${INDENT}${propertyKey(prop)}${optional}: ${type};`),
      );
    }
    if (schema['x-kubernetes-preserve-unknown-fields'] === true) {
      lines.push(
        `${INDENT}/** Fields the schema does not declare are kept (x-kubernetes-preserve-unknown-fields). */`,
      );
      lines.push(`${INDENT}[key: string]: unknown;`);
    }
    const body = lines.length > 0 ? `{\n${lines.join('\n')}\n}` : '{}';
    this.blocks[at] = [...jsDoc(schema.description, undefined, ''), `export interface ${name} ${body}`].join(
      '\n',
    );
    return name;
  }

  private typeOf(schema: JSONSchemaProps, name: string, path: string): string {
    const type = this.baseTypeOf(schema, name, path);
    return schema.nullable === true ? `${type} | null` : type;
  }

  private baseTypeOf(schema: JSONSchemaProps, name: string, path: string): string {
    if (schema['x-kubernetes-int-or-string'] === true) return 'number | string';
    if (schema.enum !== undefined) return this.enumAlias(name, path, schema);
    switch (schema.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        if (!schema.items) throw new Error(`${path}: array without items`);
        const item = this.typeOf(schema.items, singular(name), `${path}[]`);
        return item.includes(' ') ? `(${item})[]` : `${item}[]`;
      }
      case 'object':
        if (schema.properties !== undefined) return this.object(name, path, schema);
        if (typeof schema.additionalProperties === 'object') {
          const value = this.typeOf(schema.additionalProperties, `${name}Value`, `${path}{}`);
          return `Record<string, ${value}>`;
        }
        // Without declared fields the apiserver keeps everything (preserve-unknown-fields, or
        // additionalProperties: true) or prunes the object to {}.
        return schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true
          ? 'Record<string, unknown>'
          : 'Record<string, never>';
      case undefined:
        if (schema['x-kubernetes-preserve-unknown-fields'] === true) return 'unknown';
        throw new Error(`${path}: schema without type`);
      default:
        throw new Error(`${path}: unsupported type ${schema.type}`);
    }
  }

  private enumAlias(name: string, path: string, schema: JSONSchemaProps): string {
    const values = schema.enum ?? [];
    if (values.length === 0) throw new Error(`${path}: empty enum`);
    const literals = values.map((v) => {
      if (typeof v === 'string') return quote(v);
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      throw new Error(`${path}: unsupported enum value ${JSON.stringify(v)}`);
    });
    this.claim(name, path);
    const doc = jsDoc(schema.description, undefined, '');
    // The three layouts prettier picks from, in its order of preference.
    const union = literals.join(' | ');
    const layouts = [
      `export type ${name} = ${union};`,
      `export type ${name} =\n${INDENT}${union};`,
      `export type ${name} =\n${literals.map((l) => `${INDENT}| ${l}`).join('\n')};`,
    ];
    const fits = (layout: string) => layout.split('\n').every((line) => line.length <= PRINT_WIDTH);
    const alias = layouts.find(fits);
    if (alias === undefined) throw new Error(`${path}: an enum value is longer than ${PRINT_WIDTH} columns`);
    this.blocks.push([...doc, alias].join('\n'));
    return name;
  }

  private claim(name: string, path: string): void {
    const other = this.names.get(name);
    if (other !== undefined) throw new Error(`type name ${name} is produced by both ${other} and ${path}`);
    this.names.set(name, path);
  }
}

/** JSDoc from the first sentence of a description, plus its default; no lines without one. */
function jsDoc(description: string | undefined, defaultValue: unknown, indent: string): string[] {
  const parts: string[] = [];
  if (description) parts.push(firstSentence(description));
  if (defaultValue !== undefined) parts.push(`@defaultValue \`${JSON.stringify(defaultValue)}\``);
  if (parts.length === 0) return [];
  const escaped = parts.map((p) => p.replaceAll('*/', '*\\/'));
  if (escaped.length === 1) return [`${indent}/** ${escaped[0]} */`];
  return [`${indent}/**`, ...escaped.map((p) => `${indent} * ${p}`), `${indent} */`];
}

/** The text up to the first full stop that ends a sentence (not the one in "e.g." or "i.e."). */
export function firstSentence(description: string): string {
  const text = description.replace(/\s+/g, ' ').trim();
  const end = /(?<!\b(?:e\.g|i\.e|etc|vs))\.(?=\s|$)/.exec(text);
  return end ? text.slice(0, end.index + 1) : text;
}

function codeLine(line: string): string {
  if (line.length > PRINT_WIDTH) {
    throw new Error(`generated line is longer than ${PRINT_WIDTH} columns, shorten the name: ${line.trim()}`);
  }
  return line;
}

function pascal(segment: string): string {
  return segment
    .split(/[^A-Za-z0-9]+/)
    .filter((s) => s.length > 0)
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join('');
}

/** The type name of one array item: Steps -> Step, Policies -> Policy, Env -> EnvItem, Status -> StatusItem. */
export function singular(name: string): string {
  if (name.endsWith('ies')) return `${name.slice(0, -3)}y`;
  if (name.endsWith('s') && !name.endsWith('ss') && !name.endsWith('us')) return name.slice(0, -1);
  return `${name}Item`;
}

function propertyKey(prop: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(prop) ? prop : quote(prop);
}

function quote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
