// The informer's pure parts: keys, and the diff a relist makes against the cache.
import type { KubernetesObject } from '@kubernetes/client-node';
import { computeRelistDiff } from './cache-diff.js';
import { keyOf, splitKey } from './informer.js';
import { ApiError, isGone, isNamespaceTerminating, statusError } from './kube-http.js';

const cm = (name: string, rv: string, uid = `uid-${name}`, namespace = 'ns'): KubernetesObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, resourceVersion: rv, uid },
});
const cacheOf = (...objs: KubernetesObject[]): Map<string, KubernetesObject> =>
  new Map(objs.map((o) => [keyOf(o), o]));
const names = (objs: KubernetesObject[]): string[] => objs.map((o) => o.metadata!.name!);

describe('keys', () => {
  test('namespaced objects are namespace/name, cluster-scoped ones just name', () => {
    expect(keyOf(cm('a', '1'))).toBe('ns/a');
    expect(keyOf({ kind: 'Node', metadata: { name: 'n1' } })).toBe('n1');
  });

  test('an object without a name has no key, and the error says which kind', () => {
    expect(() => keyOf({ kind: 'ConfigMap', metadata: {} })).toThrow(/ConfigMap without metadata.name/);
  });

  test('splitKey inverts keyOf and names a malformed key', () => {
    expect(splitKey('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(splitKey('n1')).toEqual({ namespace: undefined, name: 'n1' });
    for (const bad of ['', '/a', 'ns/', 'a/b/c']) expect(() => splitKey(bad)).toThrow(`invalid key "${bad}"`);
  });
});

describe('computeRelistDiff', () => {
  test('an unchanged world is no difference', () => {
    const diff = computeRelistDiff(cacheOf(cm('a', '1'), cm('b', '2')), [cm('a', '1'), cm('b', '2')]);
    expect(diff).toEqual({ added: [], updated: [], deleted: [] });
  });

  test('objects that vanished while disconnected are deleted, with their last known state', () => {
    const gone = cm('gone', '5');
    const diff = computeRelistDiff(cacheOf(cm('a', '1'), gone), [cm('a', '1')]);
    expect(diff.deleted).toEqual([gone]);
    expect(diff.added).toEqual([]);
    expect(diff.updated).toEqual([]);
  });

  test('new objects are added and changed ones updated with old and new', () => {
    const diff = computeRelistDiff(cacheOf(cm('a', '1'), cm('b', '2')), [
      cm('a', '7'),
      cm('b', '2'),
      cm('c', '8'),
    ]);
    expect(names(diff.added)).toEqual(['c']);
    expect(diff.updated).toEqual([{ oldObj: cm('a', '1'), newObj: cm('a', '7') }]);
    expect(diff.deleted).toEqual([]);
  });

  test('an object deleted and recreated under the same name is a delete and an add, not an update', () => {
    const diff = computeRelistDiff(cacheOf(cm('a', '1', 'uid-old')), [cm('a', '9', 'uid-new')]);
    expect(diff.deleted.map((o) => o.metadata?.uid)).toEqual(['uid-old']);
    expect(diff.added.map((o) => o.metadata?.uid)).toEqual(['uid-new']);
    expect(diff.updated).toEqual([]);
  });

  test('the first list against an empty cache adds everything', () => {
    const diff = computeRelistDiff(new Map(), [cm('a', '1'), cm('b', '1', 'u', 'other')]);
    expect(names(diff.added)).toEqual(['a', 'b']);
  });

  test('same name in two namespaces are two objects', () => {
    const diff = computeRelistDiff(cacheOf(cm('a', '1', 'u1', 'ns1')), [
      cm('a', '1', 'u1', 'ns1'),
      cm('a', '2', 'u2', 'ns2'),
    ]);
    expect(diff.added.map(keyOf)).toEqual(['ns2/a']);
    expect(diff.deleted).toEqual([]);
  });
});

describe('API errors', () => {
  test('410 in a watch ERROR event or an HTTP answer is Gone; the message carries code and reason', () => {
    const e = statusError('watch /api/v1/configmaps', {
      kind: 'Status',
      code: 410,
      reason: 'Expired',
      message: 'too old resource version: 1 (558)',
    });
    expect(isGone(e)).toBe(true);
    expect(e.message).toBe('watch /api/v1/configmaps: 410 Expired: too old resource version: 1 (558)');
    expect(isGone(statusError('GET /x', { message: 'gone' }, 410))).toBe(true);
    expect(isGone(new ApiError(500, 'InternalError', 'x'))).toBe(false);
    expect(isGone(new Error('410'))).toBe(false);
  });

  test('403 with the cause NamespaceTerminating (sent under details.causes[].reason) is told apart from other 403s', () => {
    const terminating = statusError('PATCH /api/v1/namespaces/ns/services/x', {
      kind: 'Status',
      code: 403,
      reason: 'Forbidden',
      message:
        'services "x" is forbidden: unable to create new content in namespace ns because it is being terminated',
      details: {
        causes: [
          {
            reason: 'NamespaceTerminating',
            message: 'namespace ns is being terminated',
            field: 'metadata.namespace',
          },
        ],
      },
    });
    expect(terminating.causes).toEqual(['NamespaceTerminating']);
    expect(isNamespaceTerminating(terminating)).toBe(true);
    expect(
      isNamespaceTerminating(statusError('PATCH /x', { code: 403, reason: 'Forbidden', message: 'no' })),
    ).toBe(false);
    expect(
      isNamespaceTerminating(
        statusError('PATCH /x', { code: 409, details: { causes: [{ reason: 'NamespaceTerminating' }] } }),
      ),
    ).toBe(false);
  });
});
