import { modelVersionName } from './model-version.js';

// The CRD's create rule computes the same name in CEL (test/integration/api.test.ts checks both agree
// on the real apiserver).
test.each([
  ['resnet50', '1.2.0', 'resnet50-1.2.0'],
  ['sentiment-bert', '2.1.0-finetune.datasetx', 'sentiment-bert-2.1.0-finetune.datasetx'],
  ['iris', '1.0.0-RC.1', 'iris-1.0.0-rc.1'],
  ['iris', '1.0.0+build.7', 'iris-1.0.0--build.7'],
  ['iris', '1.0.0-rc.1+exp.sha.5114f85', 'iris-1.0.0-rc.1--exp.sha.5114f85'],
])('modelVersionName(%s, %s) = %s', (model, version, name) => {
  expect(modelVersionName(model, version)).toBe(name);
});
