// jest runs the TypeScript sources as native ES modules (client-node 1.x is ESM-only);
// see docs/decisions/0001-runtime-and-modules.md.
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
      testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/unit/**/*.test.ts'],
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
