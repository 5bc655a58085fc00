import { UsageError, parseArgs, usage } from './args.js';

describe('parseArgs', () => {
  test.each([
    [['status', 'clf'], { command: 'status', args: ['clf'], watch: false }],
    [['status', 'clf', '-w'], { command: 'status', args: ['clf'], watch: true }],
    [['-n', 'ml', 'status', 'clf', '--watch'], { command: 'status', namespace: 'ml', watch: true }],
    [['status', '--namespace=ml', 'clf'], { command: 'status', namespace: 'ml', args: ['clf'] }],
    [['status', 'clf', '-n=ml'], { namespace: 'ml' }],
    [['--kubeconfig', '/k', '--context', 'prod', 'history', 'clf'], { kubeconfig: '/k', context: 'prod' }],
    [['diff', 'clf-1.0.0', 'clf-1.1.0'], { command: 'diff', args: ['clf-1.0.0', 'clf-1.1.0'] }],
    [['promote', 'clf', '--wait'], { command: 'promote', wait: true, timeoutMs: 120_000 }],
    [['abort', 'clf', '--wait', '--timeout', '30s'], { wait: true, timeoutMs: 30_000 }],
    [['rollback', 'clf', '--to', '1.0.0'], { command: 'rollback', to: '1.0.0' }],
    [['rollback', 'clf', '--to=1.0.0-rc.1+b'], { to: '1.0.0-rc.1+b' }],
    [['--help'], { command: 'help', help: true }],
    [['status', '-h'], { command: 'help' }],
    [['help'], { command: 'help' }],
    [['status', '--', '-odd-name'], { args: ['-odd-name'] }],
    [['digest', './model'], { command: 'digest', args: ['./model'] }],
    [
      ['import', 'fraud', '7', '--version', '1.4.0', '--artifacts-destination=s3://a', '--apply'],
      {
        command: 'import',
        args: ['fraud', '7'],
        import: {
          version: '1.4.0',
          artifactsDestination: 's3://a',
          apply: true,
          unverified: false,
          runtime: 'triton',
        },
      },
    ],
    [
      [
        'import',
        'm',
        '1',
        '--runtime',
        'torchserve',
        '--format',
        'mar',
        '--artifact-path',
        'm.mar',
        '--unverified',
      ],
      {
        import: {
          runtime: 'torchserve',
          format: 'mar',
          artifactPath: 'm.mar',
          unverified: true,
          apply: false,
        },
      },
    ],
  ])('%j', (argv, expected) => {
    expect(parseArgs(argv)).toMatchObject(expected);
  });

  test.each([
    [[], /no command given/],
    [['frobnicate', 'x'], /unknown command "frobnicate"; commands: status, history/],
    [['status'], /status needs MODELDEPLOYMENT/],
    [['status', 'a', 'b'], /status takes one argument/],
    [['diff', 'a'], /diff needs MODELVERSION MODELVERSION/],
    [['status', 'x', '--bogus'], /unknown flag "--bogus"/],
    [['status', 'x', '-q'], /unknown flag "-q"/],
    [['history', 'x', '--watch'], /history does not take --watch/],
    [['status', 'x', '--wait'], /status does not take --wait/],
    [['rollback', 'x'], /rollback needs --to VERSION/],
    [['promote', 'x', '--timeout', '5s'], /--timeout goes with --wait/],
    [['promote', 'x', '--wait', '--timeout', 'soon'], /not a duration/],
    [['status', 'x', '-n'], /flag -n needs a NAMESPACE/],
    [['status', 'x', '--watch=yes'], /takes no value/],
    [['import', 'fraud'], /import needs MLFLOW_MODEL MLFLOW_VERSION/],
    [['import', 'm', '1', '--runtime', 'tgi'], /--runtime "tgi": triton or torchserve/],
    [['import', 'm', '1', '--unverified', '--digest', 'sha256:x'], /--unverified contradicts --digest/],
    [['status', 'x', '--apply'], /status does not take --apply/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  test('the usage lists every command and flag', () => {
    const text = usage();
    for (const word of [
      'status',
      'history',
      'versions',
      'diff',
      'promote',
      'abort',
      'retry',
      'pause',
      'resume',
      'rollback',
    ])
      expect(text).toContain(`  ${word} `);
    for (const flag of ['--namespace', '--kubeconfig', '--context', '--watch', '--wait', '--timeout', '--to'])
      expect(text).toContain(flag);
  });
});
