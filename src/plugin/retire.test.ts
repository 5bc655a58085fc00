import type { ModelVersion } from '../api/index.js';
import { IN_USE_FINALIZER as OPERATOR_FINALIZER } from '../controllers/modelversion.js';
import { parseArgs } from './args.js';
import { IN_USE_FINALIZER } from './commands/release.js';
import { planRetirement, renderRetirement } from './view/retire.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');
const H = 3_600_000;

function mv(
  version: string,
  o: {
    created?: string;
    lastServedAt?: string;
    users?: number;
    serving?: boolean;
    seen?: boolean;
    deleting?: boolean;
  } = {},
): ModelVersion {
  const seen = o.seen ?? true;
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelVersion',
    metadata: {
      name: `iris-${version}`,
      namespace: 'ml',
      creationTimestamp: (o.created ?? '2026-01-01T00:00:00Z') as unknown as Date,
      ...(o.deleting ? { deletionTimestamp: '2026-12-04T11:00:00Z' as unknown as Date } : {}),
    },
    spec: {
      model: 'iris',
      version,
      runtime: 'triton',
      format: 'onnx',
      storageUri: `s3://models/iris/${version}/`,
    },
    ...(seen
      ? {
          status: {
            observedGeneration: 1,
            usedByCount: o.users ?? 0,
            ...(o.lastServedAt ? { lastServedAt: o.lastServedAt } : {}),
            conditions: [
              {
                type: 'InUse',
                status: o.users ? 'True' : 'False',
                reason: o.users ? 'InUse' : 'NotInUse',
                message: '',
                lastTransitionTime: '2026-01-01T00:00:00Z',
              },
              {
                type: 'Serving',
                status: o.serving ? 'True' : 'False',
                reason: o.serving ? 'ServesTraffic' : 'NotServing',
                message: '',
                lastTransitionTime: '2026-01-01T00:00:00Z',
              },
            ],
          },
        }
      : {}),
  } as ModelVersion;
}

describe('planRetirement', () => {
  const versions = [
    mv('1.0.0', { lastServedAt: '2026-06-01T00:00:00Z' }),
    mv('1.1.0', { lastServedAt: '2026-03-01T00:00:00Z' }),
    mv('1.2.0', { created: '2026-02-01T00:00:00Z' }), // never served
    mv('1.3.0', { lastServedAt: '2026-12-04T10:00:00Z' }), // 2h ago
    mv('2.0.0', { users: 1, lastServedAt: '2026-02-01T00:00:00Z' }), // kept by a revision
    mv('2.1.0', { serving: true, lastServedAt: '2026-01-02T00:00:00Z' }),
    mv('3.0.0', { seen: false }),
    mv('0.9.0', { deleting: true }),
  ];

  test('offers what nothing holds and has been idle long enough, oldest first', () => {
    const r = planRetirement(versions, NOW, 24 * H);
    expect(r.retirable.map((x) => [x.mv.spec.version, x.neverServed])).toEqual([
      ['1.2.0', true],
      ['1.1.0', false],
      ['1.0.0', false],
    ]);
    expect(
      Object.fromEntries(Object.entries(r.kept).map(([k, v]) => [k, v.map((m) => m.spec.version)])),
    ).toEqual({
      'in use': ['2.0.0'],
      serving: ['2.1.0'],
      'recently served': ['1.3.0'],
      'not yet seen by the operator': ['3.0.0'],
      terminating: ['0.9.0'],
    });
  });

  test('a status without the Serving condition (an older operator wrote it) offers nothing', () => {
    const old = mv('1.0.0');
    old.status!.conditions = old.status!.conditions!.filter((c) => c.type !== 'Serving');
    const r = planRetirement([old], NOW, 0);
    expect(r.retirable).toEqual([]);
    expect(r.kept['not yet seen by the operator']).toEqual([old]);
  });

  test('a longer idle time offers fewer; a version held by a kept revision is never offered', () => {
    expect(planRetirement(versions, NOW, 200 * 24 * H).retirable.map((x) => x.mv.spec.version)).toEqual([
      '1.2.0',
      '1.1.0',
    ]);
    expect(planRetirement(versions, NOW, 0).retirable.map((x) => x.mv.spec.version)).not.toContain('2.0.0');
  });

  test('renders the table, what deleting frees, the command and what was left out', () => {
    const lines = renderRetirement('iris', 'ml', planRetirement(versions, NOW, 24 * H), NOW, '24h');
    expect(lines[0]).toMatch(/^VERSION +NAME +LAST SERVED +IDLE +ARTIFACT$/);
    expect(lines[1]).toMatch(/^1\.2\.0 +iris-1\.2\.0 +never +306d12h +s3:\/\/models\/iris\/1\.2\.0\/$/);
    expect(lines).toContain('  kubectl delete modelversion -n ml iris-1.2.0 iris-1.1.0 iris-1.0.0');
    expect(lines.at(-1)).toBe(
      'Not listed: 1 in use, 1 serving, 1 recently served, 1 not yet seen by the operator, 1 terminating.',
    );
  });

  test('nothing to offer says so', () => {
    expect(
      renderRetirement('iris', 'ml', planRetirement([mv('2.0.0', { users: 2 })], NOW, H), NOW, '1h'),
    ).toEqual([
      'No version of model iris in namespace ml is unused and idle for 1h.',
      'Not listed: 1 in use.',
    ]);
  });
});

describe('versions --unused-for', () => {
  test.each([
    ['720h', 720 * H],
    ['30d', 720 * H],
    ['90m', 1.5 * H],
  ])('%s', (text, ms) => {
    expect(parseArgs(['versions', 'iris', '--unused-for', text]).unusedFor).toEqual({ ms, text });
  });
  test('a bad duration, or the flag on another command, is a usage error', () => {
    expect(() => parseArgs(['versions', 'iris', '--unused-for', '1 month'])).toThrow(/not a duration/);
    expect(() => parseArgs(['status', 'iris', '--unused-for', '1h'])).toThrow(/does not take --unused-for/);
  });
});

describe('release-finalizers', () => {
  test('removes the finalizer the operator adds', () => {
    expect(IN_USE_FINALIZER).toBe(OPERATOR_FINALIZER);
  });
  test('takes -A / --all-namespaces and no argument', () => {
    expect(parseArgs(['release-finalizers', '-A']).allNamespaces).toBe(true);
    expect(parseArgs(['release-finalizers', '-n', 'ml'])).toMatchObject({
      allNamespaces: false,
      namespace: 'ml',
    });
    expect(() => parseArgs(['release-finalizers', 'x'])).toThrow(/takes 0 arguments|takes/);
  });
});
