import { parseFlags, usage, UsageError } from './options.js';

test('defaults, then environment, then flags', () => {
  expect(parseFlags([], {})).toMatchObject({
    concurrency: 4,
    unreadyGraceMs: 10_000,
    resyncMs: 300_000,
    logFormat: 'json',
    namespaces: undefined,
  });
  expect(parseFlags([], { MODELSHIP_CONCURRENCY: '8', MODELSHIP_NAMESPACES: 'a, b' })).toMatchObject({
    concurrency: 8,
    namespaces: ['a', 'b'],
  });
  expect(
    parseFlags(['--concurrency', '2', '--unready-grace=2s'], { MODELSHIP_CONCURRENCY: '8' }),
  ).toMatchObject({ concurrency: 2, unreadyGraceMs: 2000 });
  expect(parseFlags(['--help'], {}).help).toBe(true);
});

test.each([
  [['--nope'], /unknown argument "--nope"/],
  [['--concurrency', '0'], /whole number from 1 to 256/],
  [['--unready-grace', 'soon'], /not a duration/],
  [['--log-format', 'xml'], /use json or text/],
  [['--kubeconfig'], /needs a value/],
])('%j is refused with a clear message', (argv, msg) => {
  expect(() => parseFlags(argv, {})).toThrow(UsageError);
  expect(() => parseFlags(argv, {})).toThrow(msg);
});

test('usage lists every flag with its environment variable', () => {
  expect(usage()).toMatch(/--unready-grace .*MODELSHIP_UNREADY_GRACE/);
});
