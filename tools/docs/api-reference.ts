// The API reference (docs/api.md) rendered from the CRDs, so the documentation of every field is the
// schema the apiserver enforces and cannot drift from it: api-reference.test.ts regenerates and
// compares. Pure: CRD objects in, Markdown out. Reading crds/ and writing the file is gen-cli.ts's job.
//
// Layout per kind: names (short names, categories), subresources, printer columns, CEL rules on the
// root, then one section per object in the schema, depth first, each a table of its fields (type,
// required, default, enum values and bounds, description) followed by the CEL rules that sit on that
// object or on one of its scalar fields. Headings carry the full path (`ModelDeployment.spec.pod`), so
// their anchors are unique and a field links to the section of its object type.

/** A structural OpenAPI v3 schema (JSONSchemaProps), as far as the reference shows it. */
export interface Schema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  pattern?: string;
  anyOf?: Schema[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-validations'?: ValidationRule[];
}

/** One CEL rule (x-kubernetes-validations entry). */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

export interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  deprecated?: boolean;
  schema?: { openAPIV3Schema?: Schema };
  subresources?: {
    status?: object;
    scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  };
  additionalPrinterColumns?: PrinterColumn[];
}

/** The parts of an apiextensions.k8s.io/v1 CustomResourceDefinition the reference shows. */
export interface Crd {
  spec: {
    group: string;
    scope?: string;
    names: {
      kind: string;
      plural?: string;
      singular?: string;
      listKind?: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: CrdVersion[];
  };
}

export const GENERATED_NOTICE =
  '<!-- Code generated from crds/*.yaml by tools/docs/api-reference.ts. DO NOT EDIT: change the CRDs, then run npm run gen:docs. -->';

/** Renders the API reference of every served version of every CRD, in the order given. */
export function renderApiReference(crds: readonly Crd[]): string {
  const doc = new Doc();
  doc.line(GENERATED_NOTICE, '', '# API reference', '');
  const groups = [...new Set(crds.map((c) => c.spec.group))];
  doc.line(
    `The custom resources of ${list(groups.map(code))}, generated from the CRDs in \`crds/\`, which are the ` +
      'single source of the schema. Everything here is enforced by the apiserver when an object is ' +
      'created or updated: types, required fields, defaults (filled in on write), enum values, bounds, ' +
      'and the CEL validation rules listed under the object they apply to. `kubectl explain` shows the ' +
      'same descriptions.',
    '',
  );
  const kinds = crds.flatMap((crd) => servedVersions(crd).map((v) => ({ crd, version: v })));
  for (const { crd, version } of kinds) doc.line(`- [${title(crd, version)}](#${slug(title(crd, version))})`);
  doc.line('');
  for (const { crd, version } of kinds) renderKind(doc, crd, version);
  return doc.text();
}

// ---- one kind -------------------------------------------------------------------------------------

function renderKind(doc: Doc, crd: Crd, version: CrdVersion): void {
  const { names, group, scope } = crd.spec;
  const heading = title(crd, version);
  const root = version.schema?.openAPIV3Schema;
  if (!root) throw new Error(`CRD ${names.kind}: version ${version.name} has no openAPIV3Schema`);
  const prefix = heading.replace(' ', '.');

  doc.heading(2, heading);
  if (root.description) doc.line(prose(root.description), '');

  const plural = names.plural ?? `${names.kind.toLowerCase()}s`;
  const facts: Array<[string, string]> = [
    ['API version', code(`${group}/${version.name}`)],
    ['Scope', scope ?? 'Namespaced'],
    [
      'Resource',
      [
        code(plural),
        names.singular ? `singular ${code(names.singular)}` : '',
        names.listKind ? `list kind ${code(names.listKind)}` : '',
      ]
        .filter(Boolean)
        .join(', '),
    ],
  ];
  if (names.shortNames?.length) facts.push(['Short names', list(names.shortNames.map(code))]);
  if (names.categories?.length) {
    facts.push([
      'Categories',
      `${list(names.categories.map(code))} (\`kubectl get ${names.categories[0]}\` lists this kind with the others)`,
    ]);
  }
  const sub = subresources(version);
  if (sub) facts.push(['Subresources', sub]);
  if (version.storage) facts.push(['Storage version', 'yes']);
  if (version.deprecated) facts.push(['Deprecated', 'yes']);
  doc.table(['Property', 'Value'], facts);

  const columns = version.additionalPrinterColumns ?? [];
  if (columns.length) {
    doc.heading(3, `${heading} printer columns`);
    doc.line(
      `\`kubectl get ${plural}\` shows these columns (besides NAME, and NAMESPACE with \`-A\`); ` +
        'those marked `-o wide` only with `kubectl get -o wide`.',
      '',
    );
    doc.table(
      ['Column', 'Type', 'JSONPath', 'Shown', 'Description'],
      columns.map((c) => [
        c.name,
        c.format ? `${c.type} (${c.format})` : c.type,
        code(c.jsonPath),
        (c.priority ?? 0) > 0 ? '`-o wide`' : 'always',
        prose(c.description ?? ''),
      ]),
    );
  }

  doc.heading(3, `${heading} fields`);
  const sections = collectSections(prefix, root);
  doc.line('Objects, depth first:', '');
  const base = prefix.split('.').length;
  for (const s of sections.slice(1)) {
    const depth = s.path.split('.').filter((part) => part !== '*').length - base - 1;
    doc.line(`${'  '.repeat(depth)}- [${code(s.path)}](#${slug(code(s.path))})`);
  }
  doc.line('', `Top-level fields of ${code(prefix)}:`, '');
  renderObjectBody(doc, sections[0]!, { root: true });
  for (const s of sections.slice(1)) {
    doc.heading(3, code(s.path));
    renderObjectBody(doc, s, { root: false });
  }
}

function title(crd: Crd, version: CrdVersion): string {
  return servedVersions(crd).length > 1 ? `${crd.spec.names.kind} ${version.name}` : crd.spec.names.kind;
}

function servedVersions(crd: Crd): CrdVersion[] {
  return crd.spec.versions.filter((v) => v.served !== false);
}

function subresources(version: CrdVersion): string | undefined {
  const s = version.subresources;
  if (!s) return undefined;
  const out: string[] = [];
  if (s.status)
    out.push(
      '`status` (its own endpoint: writes to the object ignore status, writes to status ignore the rest)',
    );
  if (s.scale) {
    const parts = [
      `replicas ${code(s.scale.specReplicasPath)}`,
      `status ${code(s.scale.statusReplicasPath)}`,
    ];
    if (s.scale.labelSelectorPath) parts.push(`selector ${code(s.scale.labelSelectorPath)}`);
    out.push(`\`scale\` (\`kubectl scale\`, HorizontalPodAutoscaler: ${parts.join(', ')})`);
  }
  return out.length ? out.join('; ') : undefined;
}

// ---- objects --------------------------------------------------------------------------------------

/** An object schema with properties, and the path it is documented under. */
interface Section {
  path: string;
  schema: Schema;
}

/** Every object with properties, depth first, the root first. */
function collectSections(path: string, schema: Schema): Section[] {
  const out: Section[] = [{ path, schema }];
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const child = objectTarget(`${path}.${name}`, prop);
    if (child) out.push(...collectSections(child.path, child.schema));
  }
  return out;
}

/**
 * Where the object a property holds is documented: the property itself, its array items (`path[]`)
 * or its map values (`path.*`), whichever is an object with properties; undefined for everything else.
 */
function objectTarget(path: string, schema: Schema): Section | undefined {
  if (hasProperties(schema)) return { path, schema };
  if (schema.items) return objectTarget(`${path}[]`, schema.items);
  if (typeof schema.additionalProperties === 'object')
    return objectTarget(`${path}.*`, schema.additionalProperties);
  return undefined;
}

function renderObjectBody(doc: Doc, section: Section, opts: { root: boolean }): void {
  const { schema, path } = section;
  if (!opts.root && schema.description) doc.line(prose(schema.description), '');
  const required = new Set(schema.required ?? []);
  const rows: string[][] = [];
  const fieldRules: Array<{ where: string; rule: ValidationRule }> = [];
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const rules = rulesOnField(name, prop);
    fieldRules.push(...rules);
    const validation = describeValidation(prop);
    if (rules.length)
      validation.push(rules.length === 1 ? 'CEL rule below' : `${rules.length} CEL rules below`);
    const type =
      opts.root && name === 'metadata'
        ? metadataType(`${path}.${name}`, prop)
        : describeType(prop, `${path}.${name}`);
    rows.push([
      code(name),
      type,
      required.has(name) ? 'yes' : '',
      prop.default === undefined ? '' : code(JSON.stringify(prop.default)),
      validation.join('; '),
      describeField(prop),
    ]);
  }
  doc.table(['Field', 'Type', 'Required', 'Default', 'Validation', 'Description'], rows);

  const own = schema['x-kubernetes-validations'] ?? [];
  if (own.length || fieldRules.length) {
    doc.line(`Validation rules (CEL) on ${code(path)}:`, '');
    for (const rule of own) doc.line(`- ${describeRule(rule)}`);
    for (const { where, rule } of fieldRules) doc.line(`- ${where}: ${describeRule(rule)}`);
    doc.line('');
  }
}

/** The root's metadata is ObjectMeta; the CRD may bound some of its fields (documented in a section). */
function metadataType(path: string, schema: Schema): string {
  const meta =
    '[ObjectMeta](https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/)';
  return hasProperties(schema) ? `${meta}, [bounds](#${slug(code(path))})` : meta;
}

/**
 * CEL rules that have no section of their own to sit in: those of a scalar property, and those of
 * the items or values of a scalar list or map. They are listed under the object holding the property.
 * (An object's rules, and those of the object items of a list, are listed in that object's section.)
 */
function rulesOnField(name: string, prop: Schema): Array<{ where: string; rule: ValidationRule }> {
  const out: Array<{ where: string; rule: ValidationRule }> = [];
  const add = (where: string, s: Schema) =>
    out.push(...(s['x-kubernetes-validations'] ?? []).map((rule) => ({ where, rule })));
  if (!hasProperties(prop)) add(`on ${code(name)}`, prop);
  if (prop.items && !objectTarget('', prop.items)) add(`on each item of ${code(name)}`, prop.items);
  const values = prop.additionalProperties;
  if (typeof values === 'object' && !objectTarget('', values)) add(`on each value of ${code(name)}`, values);
  return out;
}

function hasProperties(schema: Schema): boolean {
  return !!schema.properties && Object.keys(schema.properties).length > 0;
}

/** A rule as one Markdown line: the expression, its message, and where it points. */
export function describeRule(rule: ValidationRule): string {
  const message = rule.message
    ? prose(rule.message)
    : rule.messageExpression
      ? `message from ${code(collapse(rule.messageExpression))}`
      : '';
  const where: string[] = [];
  if (rule.fieldPath) where.push(`field ${code(rule.fieldPath)}`);
  if (rule.reason) where.push(`reason ${code(rule.reason)}`);
  let line = code(collapse(rule.rule));
  if (message) line += ` — ${message}`;
  if (where.length) line += ` (${where.join(', ')})`;
  return line;
}

// ---- one field ------------------------------------------------------------------------------------

/**
 * The type of a property as the reference shows it: `string`, `integer (int32)`, `[]string`,
 * `map[string]string`, `int-or-string`, or a link to the section of an object.
 * `path` names the property (it is where an object's section is).
 */
export function describeType(schema: Schema, path: string): string {
  const nullable = schema.nullable ? ', nullable' : '';
  if (schema['x-kubernetes-int-or-string']) return `int-or-string${nullable}`;
  if (hasProperties(schema)) {
    return `[object](#${slug(code(path))})${nullable}`;
  }
  if (schema.type === 'array' || schema.items) {
    return `[]${schema.items ? describeType(schema.items, `${path}[]`) : 'any'}${nullable}`;
  }
  if (typeof schema.additionalProperties === 'object') {
    return `map[string]${describeType(schema.additionalProperties, `${path}.*`)}${nullable}`;
  }
  if (schema.type === 'object' || schema['x-kubernetes-preserve-unknown-fields']) {
    return schema['x-kubernetes-preserve-unknown-fields']
      ? `object (any fields)${nullable}`
      : `object${nullable}`;
  }
  if (!schema.type) return `any${nullable}`;
  return schema.format ? `${schema.type} (${schema.format})${nullable}` : `${schema.type}${nullable}`;
}

/** Enum values, bounds, pattern and list semantics of a property; its items' and values' too. */
export function describeValidation(schema: Schema): string[] {
  const out = constraints(schema);
  if (schema.items && !objectTarget('', schema.items)) {
    const inner = constraints(schema.items);
    if (inner.length) out.push(`each item: ${inner.join(', ')}`);
  }
  if (typeof schema.additionalProperties === 'object' && !objectTarget('', schema.additionalProperties)) {
    const inner = constraints(schema.additionalProperties);
    if (inner.length) out.push(`each value: ${inner.join(', ')}`);
  }
  return out;
}

function constraints(s: Schema): string[] {
  const out: string[] = [];
  if (s.enum?.length)
    out.push(
      `one of ${list(
        s.enum.map((v) => code(typeof v === 'string' ? v : JSON.stringify(v))),
        'or',
      )}`,
    );
  const range = bounds(s.minimum, s.maximum, '', s.exclusiveMinimum, s.exclusiveMaximum);
  if (range) out.push(range);
  const length = bounds(s.minLength, s.maxLength, ' characters');
  if (length) out.push(`length ${length}`);
  const items = bounds(s.minItems, s.maxItems, ' items');
  if (items) out.push(items);
  const entries = bounds(s.minProperties, s.maxProperties, ' entries');
  if (entries) out.push(entries);
  if (s.pattern !== undefined) out.push(`pattern ${code(s.pattern)}`);
  const listType = s['x-kubernetes-list-type'];
  if (listType === 'map') {
    out.push(`list map, unique by ${list((s['x-kubernetes-list-map-keys'] ?? []).map(code))}`);
  } else if (listType === 'set') {
    out.push('set (unique items)');
  }
  return out;
}

function bounds(
  min: number | undefined,
  max: number | undefined,
  unit: string,
  exclusiveMin?: boolean,
  exclusiveMax?: boolean,
): string | undefined {
  if (min !== undefined && max !== undefined && !exclusiveMin && !exclusiveMax) {
    return min === max ? `exactly ${min}${unit}` : `${min}–${max}${unit}`;
  }
  const parts: string[] = [];
  if (min !== undefined) parts.push(`${exclusiveMin ? '>' : '≥'} ${min}${unit}`);
  if (max !== undefined) parts.push(`${exclusiveMax ? '<' : '≤'} ${max}${unit}`);
  return parts.length ? parts.join(', ') : undefined;
}

/** The description, with those of scalar items or map values appended. */
function describeField(schema: Schema): string {
  const parts: string[] = [];
  if (schema.description) parts.push(prose(schema.description));
  if (schema.items && !objectTarget('', schema.items) && schema.items.description) {
    parts.push(`Each item: ${prose(schema.items.description)}`);
  }
  const values = schema.additionalProperties;
  if (typeof values === 'object' && !objectTarget('', values) && values.description) {
    parts.push(`Each value: ${prose(values.description)}`);
  }
  return parts.join(' ');
}

// ---- Markdown ---------------------------------------------------------------------------------------

class Doc {
  private readonly lines: string[] = [];
  private readonly anchors = new Map<string, string>();

  line(...lines: string[]): void {
    this.lines.push(...lines);
  }

  heading(level: number, text: string): void {
    const anchor = slug(text);
    const seen = this.anchors.get(anchor);
    // GitHub would suffix a second heading with the same anchor (-1), which breaks our links to it.
    if (seen !== undefined)
      throw new Error(`headings "${seen}" and "${text}" have the same anchor #${anchor}`);
    this.anchors.set(anchor, text);
    this.lines.push(`${'#'.repeat(level)} ${text}`, '');
  }

  table(header: string[], rows: string[][]): void {
    this.lines.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
    for (const row of rows) this.lines.push(`|${row.map((c) => (c ? ` ${cell(c)} ` : ' ')).join('|')}|`);
    this.lines.push('');
  }

  text(): string {
    return (
      this.lines
        .join('\n')
        .replace(/\n{3,}/g, '\n\n')
        .trimEnd() + '\n'
    );
  }
}

/**
 * The anchor GitHub (and most Markdown renderers) give a heading: lower case, everything but
 * letters, digits, spaces, '-' and '_' dropped, spaces turned into '-'.
 */
export function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Text for a table cell: one line, pipes escaped (GitHub splits cells on them, even in code spans). */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Prose from a schema, on one line; '*' and '<' would start emphasis or HTML. */
function prose(text: string): string {
  return collapse(text).replace(/([*<])/g, '\\$1');
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A code span that holds any text, backticks included. */
export function code(text: string): string {
  const runs = text.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function list(items: string[], conjunction = 'and'): string {
  if (items.length <= 1) return items.join('');
  if (conjunction === 'or') return items.join(', ');
  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}
