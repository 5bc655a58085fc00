// jest runs the TypeScript sources as native ES modules (client-node is ESM-only);
// see docs/decisions/0001-runtime-and-modules.md.
import { readFileSync } from 'node:fs';

// Which Node the tests run on, first thing in the output; and a clear refusal of one older than
// package.json's engines (the npm scripts run jest through hack/node.sh, which picks a newer one).
const floor = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).engines.node;
const [major, minor] = process.versions.node.split('.').map(Number);
const [fMajor, fMinor] = /^>=(\d+)\.(\d+)$/.exec(floor).slice(1).map(Number);
process.stderr.write(`jest: Node ${process.version} (${process.execPath})\n`);
if (major < fMajor || (major === fMajor && minor < fMinor))
  throw new Error(
    `Node ${process.version} is older than package.json's engines (${floor}): run jest through the npm scripts, ` +
      'or as `bash hack/node.sh npx jest …`, which use a Node that meets it (fetched into ~/.cache/modelship if need be).',
  );

const esm = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
};

/** @type {import('jest').Config} */
export default {
  // Integration tests wait for a real cluster to reach a state; bounds live in each waitFor.
  // (testTimeout is a global option: jest ignores it inside a project.)
  testTimeout: 120000,
  projects: [
    {
      ...esm,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/src/**/*.test.ts',
        '<rootDir>/tools/**/*.test.ts',
        '<rootDir>/test/unit/**/*.test.ts',
      ],
    },
    {
      ...esm,
      displayName: 'integration',
      testMatch: [
        '<rootDir>/test/integration/**/*.test.ts',
        '<rootDir>/test/e2e/**/*.test.ts',
        '<rootDir>/test/reliability/**/*.test.ts',
      ],
      // The control plane is started once for the whole run and stopped at the end.
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
  ],
};
