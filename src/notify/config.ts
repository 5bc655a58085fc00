// The notification sinks, from the file --notify-config names (a ConfigMap or Secret mounted into
// the operator pod). Pure: the parsed YAML in, the sinks or an error out; reading the files is the
// shell's job. Sinks are operator configuration, not a ModelDeployment field: whoever may edit a
// ModelDeployment must not choose where the operator sends requests (docs/decisions/0009).
import { parseDuration } from '../core/duration.js';
import { NOTIFICATION_TYPES, type NotificationType } from './cloudevents.js';

export interface SinkConfig {
  /** Names the sink in metrics and logs. */
  name: string;
  url: string;
  /** File holding the HMAC-SHA256 key (a mounted Secret key); none: requests are not signed. */
  keyFile?: string;
  /** Types sent to this sink; default all. */
  types: NotificationType[];
  /** Namespaces whose ModelDeployments this sink hears of; default all. */
  namespaces?: string[];
  /** Limit of one request. */
  timeoutMs: number;
  /** Requests per notification, the first included (1: no retry). */
  maxAttempts: number;
  /** Back-off before the first retry, doubled at each next one, capped at maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Notifications waiting per sink; when full the oldest is dropped (and counted). */
  queueSize: number;
}

export const SINK_DEFAULTS = {
  timeoutMs: 5_000,
  maxAttempts: 5,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
  queueSize: 256,
} as const;

export class NotifyConfigError extends Error {}

/** Checks the parsed config file; throws NotifyConfigError naming the first bad field. */
export function parseNotifyConfig(doc: unknown): SinkConfig[] {
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new NotifyConfigError('the notify config must be a mapping with a sinks list');
  const sinks = (doc as { sinks?: unknown }).sinks ?? [];
  if (!Array.isArray(sinks)) throw new NotifyConfigError('sinks must be a list');
  const names = new Set<string>();
  return sinks.map((raw, i) => {
    const at = `sinks[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new NotifyConfigError(`${at} must be a mapping`);
    const s = raw as Record<string, unknown>;
    const name = str(s.name, `${at}.name`);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
      throw new NotifyConfigError(`${at}.name: "${name}" must be lower-case letters, digits and dashes`);
    if (names.has(name)) throw new NotifyConfigError(`${at}.name: "${name}" is used twice`);
    names.add(name);
    const url = str(s.url, `${at}.url`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new NotifyConfigError(`${at}.url: "${url}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new NotifyConfigError(`${at}.url: only http and https are supported`);
    const types = s.types === undefined ? [...NOTIFICATION_TYPES] : strList(s.types, `${at}.types`);
    for (const t of types)
      if (!(NOTIFICATION_TYPES as readonly string[]).includes(t))
        throw new NotifyConfigError(
          `${at}.types: unknown type "${t}" (known: ${NOTIFICATION_TYPES.join(', ')})`,
        );
    const sink: SinkConfig = {
      name,
      url,
      types: types as NotificationType[],
      timeoutMs: dur(s.timeout, `${at}.timeout`, SINK_DEFAULTS.timeoutMs),
      maxAttempts: int(s.maxAttempts, `${at}.maxAttempts`, SINK_DEFAULTS.maxAttempts, 1),
      backoffMs: dur(s.backoff, `${at}.backoff`, SINK_DEFAULTS.backoffMs),
      maxBackoffMs: dur(s.maxBackoff, `${at}.maxBackoff`, SINK_DEFAULTS.maxBackoffMs),
      queueSize: int(s.queueSize, `${at}.queueSize`, SINK_DEFAULTS.queueSize, 1),
    };
    if (s.keyFile !== undefined) sink.keyFile = str(s.keyFile, `${at}.keyFile`);
    if (s.namespaces !== undefined) sink.namespaces = strList(s.namespaces, `${at}.namespaces`);
    // Node's fetch gives up on a response's headers after 5 minutes whatever the signal says.
    if (sink.timeoutMs <= 0 || sink.timeoutMs > 300_000)
      throw new NotifyConfigError(`${at}.timeout must be more than 0 and at most 5m`);
    return sink;
  });
}

/** Whether a sink wants this notification. */
export function sinkWants(sink: SinkConfig, type: NotificationType, namespace: string): boolean {
  return sink.types.includes(type) && (!sink.namespaces || sink.namespaces.includes(namespace));
}

function str(v: unknown, at: string): string {
  if (typeof v !== 'string' || v === '') throw new NotifyConfigError(`${at} must be a non-empty string`);
  return v;
}

function strList(v: unknown, at: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new NotifyConfigError(`${at} must be a list of strings`);
  return v as string[];
}

function dur(v: unknown, at: string, dflt: number): number {
  if (v === undefined) return dflt;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined)
    throw new NotifyConfigError(`${at}: "${String(v)}" is not a duration such as 500ms, 5s or 1m`);
  return ms;
}

function int(v: unknown, at: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new NotifyConfigError(`${at} must be an integer of at least ${min}`);
  return v;
}
