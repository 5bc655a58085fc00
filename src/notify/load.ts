// Reads the --notify-config file and each sink's key file, once at start: a missing file, bad YAML
// or an empty key stops the operator with a message that names the file, rather than running with
// notifications silently off.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { NotifyConfigError, parseNotifyConfig } from './config.js';
import type { Sink } from './sender.js';

export function loadSinks(file: string): Sink[] {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new NotifyConfigError(`--notify-config ${file}: ${(err as Error).message}`);
  }
  let sinks;
  try {
    sinks = parseNotifyConfig(doc);
  } catch (err) {
    throw new NotifyConfigError(`--notify-config ${file}: ${(err as Error).message}`);
  }
  return sinks.map((s) => (s.keyFile ? { ...s, key: readKey(s.name, s.keyFile) } : s));
}

/** The key is the file's bytes; one trailing newline (an editor's, or `echo`'s) is not part of it. */
function readKey(sink: string, file: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    throw new NotifyConfigError(`sink ${sink}: cannot read keyFile ${file}: ${(err as Error).message}`);
  }
  let end = key.length;
  if (end && key[end - 1] === 0x0a) end--;
  if (end && key[end - 1] === 0x0d) end--;
  if (end === 0) throw new NotifyConfigError(`sink ${sink}: keyFile ${file} is empty`);
  return key.subarray(0, end);
}
