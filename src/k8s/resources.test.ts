import { BUILTIN_KINDS, DEPLOYMENT, KindTable, LEASE, apiPath, resourcePath } from './resources.js';

test('the core group is served under /api, every other group under /apis', () => {
  expect(apiPath('v1')).toBe('/api/v1');
  expect(apiPath('apps/v1')).toBe('/apis/apps/v1');
  expect(apiPath('gateway.networking.k8s.io/v1')).toBe('/apis/gateway.networking.k8s.io/v1');
});

test.each([
  [{ apiVersion: 'v1', plural: 'pods' }, undefined, undefined, '/api/v1/pods'],
  [{ apiVersion: 'v1', plural: 'pods' }, '', undefined, '/api/v1/pods'],
  [DEPLOYMENT, 'ml', undefined, '/apis/apps/v1/namespaces/ml/deployments'],
  [DEPLOYMENT, 'ml', 'clf-abc', '/apis/apps/v1/namespaces/ml/deployments/clf-abc'],
  [
    LEASE,
    'modelship-system',
    'modelship',
    '/apis/coordination.k8s.io/v1/namespaces/modelship-system/leases/modelship',
  ],
])('resourcePath(%j, %j, %j)', (kind, ns, name, path) => {
  expect(resourcePath(kind, ns, name)).toBe(path);
});

test('a KindTable knows the kinds it is given, and says so of any other', () => {
  const widget = { apiVersion: 'example.io/v1', kind: 'Widget', plural: 'widgets' };
  const table = new KindTable([...BUILTIN_KINDS, widget]);
  expect(table.path('example.io/v1', 'Widget', 'ns', 'w')).toBe(
    '/apis/example.io/v1/namespaces/ns/widgets/w',
  );
  expect(table.path('v1', 'Service', 'ns')).toBe('/api/v1/namespaces/ns/services');
  expect(() => table.path('example.io/v2', 'Widget', 'ns')).toThrow(
    "no REST path known for example.io/v2 Widget: it is not among the client's kinds",
  );
});
