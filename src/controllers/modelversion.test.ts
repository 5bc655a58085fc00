// The ModelVersion status the controller writes must fit the CRD's own bounds whatever the number
// of users: the limits are read from crds/, so a schema change that the code does not follow fails
// here. (That the apiserver accepts the status is tested on a real one: test/e2e/modelversion-users.test.ts.)
import { readCrds } from '../../tools/api/crd-files.js';
import type { JSONSchemaProps } from '../../tools/api/codegen.js';
import type { V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment, ModelVersion } from '../api/index.js';
import { ANNOTATION_MODEL_VERSION_NAME, LABEL_DEPLOYMENT, LABEL_REVISION } from '../core/labels.js';
import {
  computeRetireAt,
  computeServing,
  describeUser,
  summarizeUsers,
  USED_BY_LIMIT,
  type User,
} from './modelversion.js';

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

/** Users named `names`; `worst` gives each every reason and the most revisions one can keep. */
const usersOf = (list: string[], worst = false): User[] =>
  list.map((name) =>
    worst
      ? {
          name,
          reasons: ['SpecVersion', 'Stable', 'Canary', 'WarmRevision', 'KeptRevision'],
          // revisionHistoryLimit (at most 10) scaled to zero, plus stable, canary and warm ones.
          revisions: Array.from({ length: 16 }, (_, i) => ({
            hash: `${'f'.repeat(9)}${i}`,
            replicas: i < 10 ? 0 : 100,
          })),
        }
      : { name, reasons: ['SpecVersion'], revisions: [] },
  );

describe('summarizeUsers', () => {
  const status = statusSchema();
  const maxItems = status.properties!.usedBy!.maxItems!;
  const maxMessage = status.properties!.conditions!.items!.properties!.message!.maxLength!;

  test('the cap is the schema’s maxItems', () => {
    expect(USED_BY_LIMIT).toBe(maxItems);
  });

  test.each([0, 1, 10, 11, 256, 257, 1000])('%i users: count, capped list, bounded message', (n) => {
    const users = usersOf(names(n, 253), true);
    const s = summarizeUsers(users);
    expect(s.count).toBe(n);
    expect(s.listed.map((u) => u.name)).toEqual(users.slice(0, maxItems).map((u) => u.name));
    expect(
      s.listed.every(
        (u) => u.reasons!.length <= status.properties!.usedBy!.items!.properties!.reasons!.maxItems!,
      ),
    ).toBe(true);
    expect(s.listed.length).toBeLessThanOrEqual(maxItems);
    // The longest message the controller builds around the list.
    const message = `deletion waits until no ModelDeployment uses this version or keeps a revision built from it; used by ${s.text}`;
    expect(message.length).toBeLessThanOrEqual(maxMessage);
  });

  test('a few users are all named; many are named in part and counted', () => {
    expect(summarizeUsers(usersOf(['a', 'b'])).text).toBe(
      'ModelDeployment a (its spec.version); ModelDeployment b (its spec.version)',
    );
    const many = summarizeUsers(usersOf(names(300)));
    expect(many.text).toMatch(
      /^ModelDeployment md-00000 .*; ModelDeployment md-00009 \(its spec.version\) and 290 more \(300 in all\)$/,
    );
  });

  test('the list is the first names in order, so it does not change while the others come and go', () => {
    const all = names(400);
    expect(summarizeUsers(usersOf(all)).listed).toEqual(summarizeUsers(usersOf(all.slice(0, 300))).listed);
  });
});

describe('describeUser', () => {
  test('says why: the spec, the status, and each kept revision, warm or scaled to zero', () => {
    expect(
      describeUser({
        name: 'iris-prod',
        reasons: ['Stable', 'WarmRevision', 'KeptRevision'],
        revisions: [
          { hash: 'a1', replicas: 0 },
          { hash: 'b2', replicas: 3 },
          { hash: 'c3', replicas: 0 },
        ],
      }),
    ).toBe(
      'ModelDeployment iris-prod (serves it as stable, keeps revision b2 (3 replicas) warm, ' +
        'keeps revisions a1, c3 scaled to zero for a rollback (within revisionHistoryLimit))',
    );
  });
});

describe('computeRetireAt', () => {
  const mv = (retirement?: string, created = '2026-01-01T00:00:00Z') =>
    ({
      metadata: { name: 'iris-1.0.0', namespace: 'ml', creationTimestamp: created },
      spec: {
        model: 'iris',
        version: '1.0.0',
        runtime: 'triton',
        format: 'onnx',
        storageUri: 's3://m/iris/1.0.0/',
        ...(retirement ? { retirement: { deleteWhenIdleFor: retirement } } : {}),
      },
    }) as unknown as ModelVersion;
  const t = (iso: string) => Date.parse(iso);

  test('never without spec.retirement', () => {
    expect(computeRetireAt(mv(), 0, 0, undefined)).toBeUndefined();
  });
  test('never while a ModelDeployment holds it (a kept revision included) or it serves', () => {
    expect(computeRetireAt(mv('1h'), 1, 0, undefined)).toBeUndefined();
    expect(computeRetireAt(mv('1h'), 0, 1, '2026-01-01T00:00:00Z')).toBeUndefined();
  });
  test('deleteWhenIdleFor after it last served, or after its creation if it never served', () => {
    expect(computeRetireAt(mv('2h'), 0, 0, '2026-03-01T10:00:00Z')).toBe(t('2026-03-01T12:00:00Z'));
    expect(computeRetireAt(mv('1h30m'), 0, 0, undefined)).toBe(t('2026-01-01T01:30:00Z'));
  });
});

describe('computeServing: weighted and cohort traffic is served, a mirror is not', () => {
  const mv: ModelVersion = {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'iris-1-1-0', namespace: 'ns' },
    spec: { model: 'iris', version: '1.1.0' },
  } as ModelVersion;
  const md = (status: ModelDeployment['status']): ModelDeployment => ({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'iris', namespace: 'ns', uid: 'uid-1' },
    spec: { model: 'iris', version: '1.1.0' },
    status,
  });
  const deployment: V1Deployment = {
    metadata: {
      name: 'iris-r110',
      namespace: 'ns',
      labels: { [LABEL_DEPLOYMENT]: 'iris', [LABEL_REVISION]: 'r110' },
      annotations: { [ANNOTATION_MODEL_VERSION_NAME]: 'iris-1-1-0' },
      ownerReferences: [
        {
          apiVersion: 'modelship.io/v1alpha1',
          kind: 'ModelDeployment',
          name: 'iris',
          uid: 'uid-1',
          controller: true,
        },
      ],
    },
    status: { readyReplicas: 1 },
  };
  const traffic = [
    { revision: 'r100', weight: 100 },
    { revision: 'r110', weight: 0 },
  ];
  test.each([
    ['weight', { traffic: [{ revision: 'r110', weight: 100 }] }, ['iris/r110']],
    ['cohort at weight 0', { traffic, cohort: { revision: 'r110', version: '1.1.0' } }, ['iris/r110']],
    ['mirror at weight 0', { traffic, mirror: { revision: 'r110', version: '1.1.0', percent: 100 } }, []],
  ] as Array<[string, ModelDeployment['status'], string[]]>)('%s', (_n, status, serving) => {
    expect(computeServing(mv, [deployment], () => md(status))).toEqual(serving);
  });
});
