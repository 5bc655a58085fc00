import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSinks } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'notify-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('reads the sinks and their keys; one trailing newline is not part of a key', () => {
  const key = file('ops.key', 's3cret\n');
  const cfg = file(
    'a.yaml',
    `sinks:\n  - name: ops\n    url: http://127.0.0.1:9/\n    keyFile: ${key}\n  - name: open\n    url: http://127.0.0.1:9/\n`,
  );
  const [ops, open] = loadSinks(cfg);
  expect(ops!.key!.toString()).toBe('s3cret');
  expect(open!.key).toBeUndefined();
});

test('a missing file, bad YAML, a bad sink or an empty key is an error naming the file', () => {
  expect(() => loadSinks(join(dir, 'nope.yaml'))).toThrow(/nope\.yaml/);
  expect(() => loadSinks(file('b.yaml', 'sinks: [\n'))).toThrow(/b\.yaml/);
  expect(() => loadSinks(file('c.yaml', 'sinks: [{name: x}]\n'))).toThrow(/c\.yaml: sinks\[0\]\.url/);
  const empty = file('empty.key', '\n');
  expect(() =>
    loadSinks(file('d.yaml', `sinks: [{name: x, url: "http://h/", keyFile: "${empty}"}]\n`)),
  ).toThrow(/empty/);
  expect(() =>
    loadSinks(file('e.yaml', `sinks: [{name: x, url: "http://h/", keyFile: "${dir}/none"}]\n`)),
  ).toThrow(/cannot read keyFile/);
});
