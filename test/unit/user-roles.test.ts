// deploy/09-release-policy.yaml holds the release role to spec.version by comparing every other
// top-level field of a ModelDeployment's spec, one by one (CEL cannot drop one key from an object).
// A field the CRD gains and the policy does not compare would be open to the release pipeline: this
// reads the field list from crds/ and fails until the policy compares it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { readCrds } from '../../tools/api/crd-files.js';
import type { JSONSchemaProps } from '../../tools/api/codegen.js';

const root = join(import.meta.dirname, '..', '..');

interface Policy {
  kind: string;
  spec: { validations: Array<{ expression: string }> };
}

test('the release policy compares every field of a ModelDeployment spec but version', () => {
  const crd = readCrds().find((c) => c.spec.names.kind === 'ModelDeployment')!;
  const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0]!;
  const spec = version.schema!.openAPIV3Schema!.properties!.spec as JSONSchemaProps;
  const fields = Object.keys(spec.properties!).filter((f) => f !== 'version');
  const docs = loadAll(readFileSync(join(root, 'deploy', '09-release-policy.yaml'), 'utf8')) as Policy[];
  const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy')!;
  const text = policy.spec.validations.map((v) => v.expression).join('\n');
  const compared = fields.filter(
    (f) =>
      text.includes(`object.spec.?${f} == oldObject.spec.?${f}`) ||
      text.includes(`object.spec.${f} == oldObject.spec.${f}`),
  );
  expect(compared).toEqual(fields);
  expect(text).not.toMatch(/object\.spec\.\??version/);
});

test('the release role holds the custom verb the policy keys on; the edit role the one that lifts it', () => {
  const docs = loadAll(readFileSync(join(root, 'deploy', '08-user-roles.yaml'), 'utf8')) as Array<{
    metadata: { name: string };
    rules: Array<{ resources: string[]; verbs: string[] }>;
  }>;
  const verbs = (name: string) =>
    docs
      .find((d) => d.metadata.name === name)!
      .rules.filter((r) => r.resources.includes('modeldeployments'))
      .flatMap((r) => r.verbs);
  expect(verbs('modelship-release')).toContain('release');
  expect(verbs('modelship-release')).not.toContain('configure');
  expect(verbs('modelship-release')).not.toContain('delete');
  expect(verbs('modelship-edit')).toContain('configure');
  expect(verbs('modelship-view')).toEqual(['get', 'list', 'watch']);
});
