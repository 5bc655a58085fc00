import {
  formatAge,
  formatDelta,
  formatDuration,
  formatNumber,
  formatRemaining,
  formatTime,
  renderFields,
  renderTable,
} from './format.js';

describe('renderTable', () => {
  test.each([
    [
      'columns are padded to the widest cell, three spaces apart',
      ['NAME', 'WEIGHT'],
      [
        ['a', '100%'],
        ['long-name', '0%'],
      ],
      ['NAME        WEIGHT', 'a           100%', 'long-name   0%'],
    ],
    [
      'the last column is not padded and lines carry no trailing spaces',
      ['A', 'MESSAGE'],
      [
        ['x', ''],
        ['y', 'a long message'],
      ],
      ['A   MESSAGE', 'x', 'y   a long message'],
    ],
    [
      'widths count characters, not UTF-16 units or bytes',
      ['FROM', 'TO'],
      [['1.0.0 → 1.1.0', 'é']],
      ['FROM            TO', '1.0.0 → 1.1.0   é'],
    ],
    ['a header alone', ['ONLY'], [], ['ONLY']],
    ['missing cells are empty', ['A', 'B', 'C'], [['1']], ['A   B   C', '1']],
  ])('%s', (_name, headers, rows, expected) => {
    expect(renderTable(headers, rows)).toEqual(expected);
  });
});

test('renderFields aligns values and leaves out undefined ones', () => {
  expect(
    renderFields([
      ['Phase', 'Healthy'],
      ['Canary', undefined],
      ['Desired', '1.2.0'],
    ]),
  ).toEqual(['Phase:    Healthy', 'Desired:  1.2.0']);
});

describe('durations', () => {
  test.each([
    [0, '0s'],
    [999, '0s'],
    [7_000, '7s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [7_500_000, '2h5m'],
    [86_400_000, '1d'],
    [273_600_000, '3d4h'],
    [-5_000, '0s'],
  ])('formatDuration(%d) = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test.each([
    [10_000, 3_000, '7s'],
    [10_000, 3_001, '7s'],
    [10_000, 9_999, '1s'],
    [10_000, 10_000, '0s'],
    [10_000, 20_000, '0s'],
  ])('formatRemaining(end %d, now %d) rounds up: %s', (end, now, text) => {
    expect(formatRemaining(end, now)).toBe(text);
  });

  test('ages and times', () => {
    const now = Date.parse('2025-01-01T00:10:00Z');
    expect(formatAge('2025-01-01T00:08:30Z', now)).toBe('1m30s');
    expect(formatAge(undefined, now)).toBe('-');
    expect(formatAge('not a time', now)).toBe('-');
    expect(formatTime('2025-01-01T00:08:30.123Z')).toBe('2025-01-01T00:08:30Z');
    expect(formatTime(undefined)).toBe('-');
  });
});

describe('numbers', () => {
  test.each([
    [0.772 - 0.774, '-0.002'],
    [0.1 + 0.2, '0.3'],
    [14, '14'],
    [8.1, '8.1'],
    [123456789, '123457000'],
    [1e-9, '1e-9'],
  ])('formatNumber(%d) = %s', (n, text) => {
    expect(formatNumber(n)).toBe(text);
  });

  test.each([
    [1.3, '+1.3'],
    [-0.002, '-0.002'],
    [0, '0'],
  ])('formatDelta(%d) = %s', (n, text) => {
    expect(formatDelta(n)).toBe(text);
  });
});
