import { parseArgs as parsePluginArgs } from '../plugin/args.js';
import { scanArgs } from './argv.js';
import { parseFlags, UsageError } from './options.js';

const FLAGS = { namespace: { short: 'n', takesValue: true }, watch: { short: 'w', takesValue: false } };

test.each([
  [['-n', 'ml'], [{ kind: 'flag', arg: '-n', name: 'namespace', value: 'ml' }]],
  [['-n=ml'], [{ kind: 'flag', arg: '-n=ml', name: 'namespace', value: 'ml' }]],
  [['--namespace='], [{ kind: 'flag', arg: '--namespace=', name: 'namespace', value: '' }]],
  // A value flag takes the next argument, whatever it looks like.
  [['--namespace', '-w'], [{ kind: 'flag', arg: '--namespace', name: 'namespace', value: '-w' }]],
  [['-w=false'], [{ kind: 'flag', arg: '-w=false', name: 'watch', value: 'false' }]],
  [
    ['-w', 'x'],
    [
      { kind: 'flag', arg: '-w', name: 'watch', value: undefined },
      { kind: 'positional', arg: 'x' },
    ],
  ],
  // Forms neither command line documents: a group of short flags, a value glued to a short flag.
  [['-wn', 'x'], [{ kind: 'unknown', arg: '-wn' }]],
  [['-nml'], [{ kind: 'unknown', arg: '-nml' }]],
  [['--Watch'], [{ kind: 'unknown', arg: '--Watch' }]],
  [
    ['--', '-w'],
    [
      { kind: 'terminator', arg: '--' },
      { kind: 'positional', arg: '-w' },
    ],
  ],
  [['-'], [{ kind: 'positional', arg: '-' }]],
])('%j', (argv, tokens) => {
  expect(scanArgs(argv, FLAGS)).toEqual(tokens);
});

test('the names of Object.prototype are not flags (they used to be taken for known ones)', () => {
  expect(scanArgs(['--constructor', '--toString'], FLAGS)).toEqual([
    { kind: 'unknown', arg: '--constructor' },
    { kind: 'unknown', arg: '--toString' },
  ]);
  expect(() => parseFlags(['--constructor', 'x'], {})).toThrow(UsageError);
  expect(() => parseFlags(['--constructor', 'x'], {})).toThrow(/unknown argument "--constructor"/);
  expect(() => parsePluginArgs(['status', 'x', '--hasOwnProperty'])).toThrow(
    /unknown flag "--hasOwnProperty"/,
  );
});
