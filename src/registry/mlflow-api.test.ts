import { mlflowAuth } from './mlflow-api.js';

test("credentials as MLflow's clients take them: a token first, else basic auth, else none", () => {
  expect(
    mlflowAuth({
      MLFLOW_TRACKING_TOKEN: 't0k',
      MLFLOW_TRACKING_USERNAME: 'u',
      MLFLOW_TRACKING_PASSWORD: 'p',
    }),
  ).toBe('Bearer t0k');
  expect(mlflowAuth({ MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: 's3:cret' })).toBe(
    `Basic ${Buffer.from('alice:s3:cret').toString('base64')}`,
  );
  expect(mlflowAuth({ MLFLOW_TRACKING_USERNAME: 'alice' })).toBeUndefined();
  expect(mlflowAuth({})).toBeUndefined();
});
