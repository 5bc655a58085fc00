// Cohorts and mirrors as the Gateway API and Istio routers render them, and the cookie expression.
import type { V1OwnerReference } from '@kubernetes/client-node';
import type {
  ModelDeployment,
  ModelDeploymentSpecStrategyCanary,
  ModelDeploymentSpecTraffic,
} from '../api/index.js';
import { cohortMatches, cookieRegex } from './cohorts.js';
import { type HTTPRoute, gatewayApiRouter } from './gateway-api/router.js';
import { type VirtualService, istioRouter } from './istio/router.js';
import { serviceRouter } from './service/router.js';
import type { RouteContext, WeightEntry } from './types.js';

const owner: V1OwnerReference = {
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  name: 'resnet',
  uid: '4f8e1c2a-0000-4000-8000-000000000001',
  controller: true,
};
const gw: ModelDeploymentSpecTraffic = {
  router: 'gatewayApi',
  port: 80,
  gatewayApi: { parentRefs: [{ name: 'gw' }] },
};
const istio: ModelDeploymentSpecTraffic = {
  router: 'istio',
  port: 80,
  istio: { hosts: ['resnet.example.com'] },
};
const canary: ModelDeploymentSpecStrategyCanary = {
  steps: [{ pause: {} }],
  cohorts: [
    { headers: [{ name: 'x-cohort', value: 'beta' }] },
    {
      headers: [{ name: 'x-tenant', type: 'RegularExpression', value: '^acme-.*$' }],
      cookie: { name: 'plan', value: 'pro+' },
    },
  ],
  mirror: { percent: 25 },
};
function md(traffic: ModelDeploymentSpecTraffic): ModelDeployment {
  return {
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'resnet', namespace: 'team-a', uid: owner.uid },
    spec: { model: 'resnet', version: '1.1.0', traffic, strategy: { type: 'Canary', canary } },
  };
}
const e = (revision: string, version: string, weight: number): WeightEntry => ({
  revision,
  version,
  weight,
  service: `resnet-${revision}`,
});
const weights = [e('aaa111', '1.0.0', 80), e('bbb222', '1.1.0', 20)];
function ctx(traffic: ModelDeploymentSpecTraffic, extra: Partial<RouteContext> = {}): RouteContext {
  return {
    md: md(traffic),
    weights,
    labels: {},
    ownerReference: owner,
    port: 80,
    targetPortName: 'http',
    ...extra,
  };
}
const cohort = { revision: 'bbb222', service: 'resnet-bbb222' };
const mirror = { revision: 'bbb222', service: 'resnet-bbb222', percent: 25 };

describe('cookieRegex', () => {
  const re = new RegExp(cookieRegex('plan', 'pro+'));
  test.each([
    ['plan=pro+', true],
    ['a=1; plan=pro+', true],
    ['plan=pro+; a=1', true],
    ['a=1;plan=pro+;b=2', true],
    ['plan=pro', false],
    ['plan=pro++', false],
    ['myplan=pro+', false],
    ['plan=prooo', false],
    ['a=plan=pro+x', false],
  ])('%s -> %s', (cookie, match) => {
    expect(re.test(cookie)).toBe(match);
  });
});

test('cohortMatches: one list of headers per cohort, the cookie as a Cookie header expression', () => {
  expect(cohortMatches(md(gw))).toEqual([
    [{ name: 'x-cohort', type: 'Exact', value: 'beta' }],
    [
      { name: 'x-tenant', type: 'RegularExpression', value: '^acme-.*$' },
      { name: 'cookie', type: 'RegularExpression', value: cookieRegex('plan', 'pro+') },
    ],
  ]);
});

describe('gatewayApi', () => {
  const route = (c: RouteContext) => gatewayApiRouter.render(c)[0] as HTTPRoute;

  test('without a cohort target or mirror the route is as before: pins, then the default rule', () => {
    const r = route(ctx(gw));
    expect(r.spec.rules).toHaveLength(3);
    expect(JSON.stringify(r)).not.toMatch(/RequestMirror|x-cohort/);
  });

  test('a cohort rule after the version pins and before the default rule, to the cohort revision only', () => {
    const r = route(ctx(gw, { cohort }));
    const rules = r.spec.rules!;
    expect(rules).toHaveLength(4);
    expect(rules[2]).toEqual({
      matches: [
        {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'Exact', name: 'x-cohort', value: 'beta' }],
        },
        {
          path: { type: 'PathPrefix', value: '/' },
          headers: [
            { type: 'RegularExpression', name: 'x-tenant', value: '^acme-.*$' },
            { type: 'RegularExpression', name: 'cookie', value: cookieRegex('plan', 'pro+') },
          ],
        },
      ],
      backendRefs: [{ group: '', kind: 'Service', name: 'resnet-bbb222', port: 80, weight: 1 }],
    });
    // The weights read back from the default rule, not the cohort rule.
    expect(gatewayApiRouter.readWeights([r], md(gw))).toEqual(
      new Map([
        ['aaa111', 80],
        ['bbb222', 20],
      ]),
    );
  });

  test('a mirror is a RequestMirror filter on each weighted backend except the candidate', () => {
    const r = route(ctx(gw, { mirror }));
    const def = r.spec.rules!.at(-1)!;
    expect(def.backendRefs).toEqual([
      {
        group: '',
        kind: 'Service',
        name: 'resnet-aaa111',
        port: 80,
        weight: 80,
        filters: [
          {
            type: 'RequestMirror',
            requestMirror: {
              backendRef: { group: '', kind: 'Service', name: 'resnet-bbb222', port: 80 },
              percent: 25,
            },
          },
        ],
      },
      { group: '', kind: 'Service', name: 'resnet-bbb222', port: 80, weight: 20 },
    ]);
    // No filter on a rule: a gateway that does not implement RequestMirror must not fail the rule.
    for (const rule of r.spec.rules!) expect(rule).not.toHaveProperty('filters');
    expect(gatewayApiRouter.readWeights([r], md(gw))).toEqual(
      new Map([
        ['aaa111', 80],
        ['bbb222', 20],
      ]),
    );
  });

  test('a cohort target with no cohorts in the spec adds no rule', () => {
    const m = md(gw);
    m.spec.strategy = { type: 'Canary', canary: { steps: [] } };
    const r = gatewayApiRouter.render({ ...ctx(gw, { cohort }), md: m })[0] as HTTPRoute;
    expect(r.spec.rules).toHaveLength(3);
  });
});

describe('istio', () => {
  const vs = (c: RouteContext) => istioRouter.render(c)[0] as VirtualService;
  const host = (svc: string) => ({ host: `${svc}.team-a.svc.cluster.local`, port: { number: 80 } });

  test('a cohorts route after the version routes and before the split', () => {
    const v = vs(ctx(istio, { cohort }));
    expect(v.spec.http!.map((r) => r.name)).toEqual(['version-1.0.0', 'version-1.1.0', 'cohorts', 'split']);
    expect(v.spec.http![2]).toEqual({
      name: 'cohorts',
      match: [
        { headers: { 'x-cohort': { exact: 'beta' } } },
        { headers: { 'x-tenant': { regex: '^acme-.*$' }, cookie: { regex: cookieRegex('plan', 'pro+') } } },
      ],
      route: [{ destination: host('resnet-bbb222') }],
    });
    expect(istioRouter.readWeights([v], md(istio))).toEqual(
      new Map([
        ['aaa111', 80],
        ['bbb222', 20],
      ]),
    );
  });

  test('a mirror on the split, its percentage scaled to the stable share', () => {
    const split = vs(ctx(istio, { mirror })).spec.http!.at(-1)!;
    expect(split.mirror).toEqual(host('resnet-bbb222'));
    expect(split.mirrorPercentage).toEqual({ value: 20 }); // 25% of the 80% the stable serves
    const all = vs(ctx(istio, { mirror, weights: [e('aaa111', '1.0.0', 100), e('bbb222', '1.1.0', 0)] }));
    expect(all.spec.http!.at(-1)!.mirrorPercentage).toEqual({ value: 25 });
  });
});

test('what each router can do', () => {
  expect([gatewayApiRouter, istioRouter, serviceRouter].map((r) => [r.name, r.matches, r.mirrors])).toEqual([
    ['gatewayApi', true, true],
    ['istio', true, true],
    ['service', false, false],
  ]);
});
