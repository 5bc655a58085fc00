import { compareVersions, parseSemver, sortByVersion } from './semver.js';

describe('SemVer 2.0 precedence', () => {
  // Each list is in ascending precedence; semver.org item 11 is the first one.
  test.each([
    [
      'the spec example',
      [
        '1.0.0-alpha',
        '1.0.0-alpha.1',
        '1.0.0-alpha.beta',
        '1.0.0-beta',
        '1.0.0-beta.2',
        '1.0.0-beta.11',
        '1.0.0-rc.1',
        '1.0.0',
      ],
    ],
    ['numeric parts compare as numbers', ['1.2.9', '1.2.10', '1.10.0', '2.0.0', '10.0.0']],
    ['a pre-release sorts before its release', ['1.9.0', '2.0.0-rc.1', '2.0.0', '2.0.1-0']],
    ['numeric identifiers sort before alphanumeric ones', ['1.0.0-1', '1.0.0-99', '1.0.0-a', '1.0.0-a1']],
    ['alphanumeric identifiers compare in ASCII order', ['1.0.0-Z', '1.0.0-a', '1.0.0-b.0', '1.0.0-b-']],
    ['a longer pre-release wins when the common fields are equal', ['1.0.0-x', '1.0.0-x.0', '1.0.0-x.0.0']],
    [
      'numbers past 2^53 compare exactly',
      ['1.0.9007199254740992', '1.0.9007199254740993', '1.0.10000000000000000'],
    ],
    ['fine-tune pre-releases', ['2.1.0-finetune.dataset9', '2.1.0-finetune.datasetx', '2.1.0']],
    [
      'build metadata: equal precedence, ordered by text for a stable listing',
      ['1.0.0+a', '1.0.0+b', '1.0.1-rc.1+z', '1.0.1'],
    ],
    ['text that is not SemVer sorts last', ['0.0.1', '99.0.0', 'latest', 'v1.0.0']],
  ])('%s', (_name, ascending) => {
    const shuffled = [...ascending].reverse();
    expect(sortByVersion(shuffled, (v) => v)).toEqual(ascending);
    for (let i = 0; i + 1 < ascending.length; i++) {
      expect(compareVersions(ascending[i]!, ascending[i + 1]!)).toBeLessThan(0);
      expect(compareVersions(ascending[i + 1]!, ascending[i]!)).toBeGreaterThan(0);
    }
  });

  test.each([
    ['1.2.3', { core: ['1', '2', '3'], pre: [], build: [] }],
    ['2.1.0-finetune.datasetx', { core: ['2', '1', '0'], pre: ['finetune', 'datasetx'], build: [] }],
    ['1.0.0-rc.1+build.5', { core: ['1', '0', '0'], pre: ['rc', '1'], build: ['build', '5'] }],
    ['1.0.0+20250101', { core: ['1', '0', '0'], pre: [], build: ['20250101'] }],
  ])('parses %s', (text, parsed) => {
    expect(parseSemver(text)).toEqual(parsed);
  });

  test.each(['1.2', 'v1.2.3', '01.2.3', '1.2.3-01', '1.2.3-', '1.2.3+', 'latest', '^1.2.0'])(
    'rejects %s as the CRD does',
    (text) => {
      expect(parseSemver(text)).toBeUndefined();
    },
  );

  test('equal versions compare equal', () => {
    expect(compareVersions('1.0.0-rc.1', '1.0.0-rc.1')).toBe(0);
  });
});
