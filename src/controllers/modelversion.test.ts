// The ModelVersion status the controller writes must fit the CRD's own bounds whatever the number
// of users: the limits are read from crds/, so a schema change that the code does not follow fails
// here. (That the apiserver accepts the status is tested on a real one: test/e2e/modelversion-users.test.ts.)
import { readCrds } from '../../tools/api/crd-files.js';
import type { JSONSchemaProps } from '../../tools/api/codegen.js';
import { summarizeUsers, USED_BY_LIMIT } from './modelversion.js';

type Schema = JSONSchemaProps & {
  properties?: Record<string, Schema>;
  items?: Schema;
  maxItems?: number;
  maxLength?: number;
};

function statusSchema(): Schema {
  const crd = readCrds().find((c) => c.spec.names.kind === 'ModelVersion')!;
  const root = crd.spec.versions[0]!.schema!.openAPIV3Schema as Schema;
  return root.properties!.status!;
}

const names = (n: number, length = 8): string[] =>
  Array.from({ length: n }, (_, i) => `md-${String(i).padStart(5, '0')}`.padEnd(length, 'x')).sort();

describe('summarizeUsers', () => {
  const status = statusSchema();
  const maxItems = status.properties!.usedBy!.maxItems!;
  const maxMessage = status.properties!.conditions!.items!.properties!.message!.maxLength!;

  test('the cap is the schema’s maxItems', () => {
    expect(USED_BY_LIMIT).toBe(maxItems);
  });

  test.each([0, 1, 10, 11, 256, 257, 1000])('%i users: count, capped list, bounded message', (n) => {
    const users = names(n, 253);
    const s = summarizeUsers(users);
    expect(s.count).toBe(n);
    expect(s.listed).toEqual(users.slice(0, maxItems));
    expect(s.listed.length).toBeLessThanOrEqual(maxItems);
    // The longest message the controller builds around the list.
    const message = `deletion waits until no ModelDeployment uses this version; used by ${s.text}`;
    expect(message.length).toBeLessThanOrEqual(maxMessage);
  });

  test('a few users are all named; many are named in part and counted', () => {
    expect(summarizeUsers(['a', 'b']).text).toBe('ModelDeployment a, ModelDeployment b');
    const many = summarizeUsers(names(300));
    expect(many.text).toMatch(
      /^ModelDeployment md-00000, .*, ModelDeployment md-00009 and 290 more \(300 in all\)$/,
    );
  });

  test('the list is the first names in order, so it does not change while the others come and go', () => {
    const all = names(400);
    expect(summarizeUsers(all).listed).toEqual(summarizeUsers([...all.slice(0, 300)]).listed);
  });
});
