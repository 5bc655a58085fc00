import { ApiError } from '../k8s/kube-http.js';
import { PluginError, explainError } from './errors.js';

const ctx = { server: 'https://10.0.0.1:6443', action: 'get ModelDeployment "clf" in namespace "ml"' };
const sysError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

test.each([
  [
    'connection refused',
    sysError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:6443'),
    'cannot reach the Kubernetes API at https://10.0.0.1:6443: connect ECONNREFUSED 10.0.0.1:6443; check your kubeconfig',
  ],
  [
    'unknown host',
    sysError('ENOTFOUND', 'getaddrinfo ENOTFOUND api.example'),
    'cannot reach the Kubernetes API at https://10.0.0.1:6443: getaddrinfo ENOTFOUND api.example; check your kubeconfig',
  ],
  [
    'an untrusted certificate',
    sysError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'),
    'cannot reach the Kubernetes API at https://10.0.0.1:6443: self-signed certificate; check your kubeconfig',
  ],
  [
    'no answer in time',
    Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError', code: 23 }),
    'cannot reach the Kubernetes API at https://10.0.0.1:6443: no answer in time; check your kubeconfig and network',
  ],
  [
    'forbidden',
    new ApiError(
      403,
      'Forbidden',
      'GET /apis/x: 403 Forbidden: modeldeployments is forbidden: User "bob" cannot get',
    ),
    'not allowed to get ModelDeployment "clf" in namespace "ml": Forbidden: modeldeployments is forbidden: User "bob" cannot get; ask for RBAC access or use another --context',
  ],
  [
    'refused by an admission policy',
    new ApiError(
      403,
      'Forbidden',
      `PATCH /apis/x: 403 Forbidden: modeldeployments.modelship.io "clf" is forbidden: ValidatingAdmissionPolicy 'modelship-release-version-only' with binding 'modelship-release-version-only' denied request: the modelship-release role may change spec.version of ModelDeployment ml/clf and nothing else of its spec; other changes need the edit role`,
    ),
    'refused to get ModelDeployment "clf" in namespace "ml" by the admission policy modelship-release-version-only: the modelship-release role may change spec.version of ModelDeployment ml/clf and nothing else of its spec; other changes need the edit role',
  ],
  [
    'bad credentials',
    new ApiError(401, 'Unauthorized', 'GET /apis/x: 401 Unauthorized'),
    'the Kubernetes API at https://10.0.0.1:6443 did not accept the credentials (401) to get ModelDeployment "clf" in namespace "ml"; check your kubeconfig user or log in again',
  ],
  [
    'the CRDs are not installed (a bare 404 page, no Status)',
    new ApiError(404, 'Not Found', 'GET /apis/modelship.io/v1alpha1: 404 Not Found: 404 page not found'),
    'the modelship.io API is not installed in the cluster at https://10.0.0.1:6443 (get ModelDeployment "clf" in namespace "ml" answered 404); install the CRDs: kubectl apply -f crds/',
  ],
  [
    'a missing object',
    new ApiError(404, 'NotFound', 'GET /x: 404 NotFound: not found'),
    'get ModelDeployment "clf" in namespace "ml": not found',
  ],
  ['a PluginError is already worded', new PluginError('as is'), 'as is'],
])('%s', (_name, err, line) => {
  expect(explainError(err, ctx)).toBe(line);
});

test.each([
  ['a bug', new TypeError('x is undefined')],
  ['a thrown string', 'boom'],
])('%s is not explained away', (_name, err) => {
  expect(explainError(err, ctx)).toBeUndefined();
});
