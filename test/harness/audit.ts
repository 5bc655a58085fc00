// The apiserver's audit log of a local cluster (hack/cluster/audit-policy.yaml logs every write at
// Metadata level and no read), read by the reliability tests and the benchmarks to count one
// user's writes. Plain Node: no test framework, no cluster access.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface AuditWrite {
  /** When the apiserver completed the write (its stageTimestamp, ms). */
  at: number;
  /** When the apiserver received the request (requestReceivedTimestamp, ms). */
  receivedAt: number;
  /** The User-Agent header: the operator puts its leader-election identity there. */
  userAgent?: string;
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code?: number;
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  stageTimestamp?: string;
  requestReceivedTimestamp?: string;
}

/** The audit log's size now: give it to auditWrites as `fromByte` to read only what comes after. */
export function auditLogSize(runDir: string): number {
  const f = join(runDir, 'logs', 'audit.log');
  return existsSync(f) ? statSync(f).size : 0;
}

function readFrom(file: string, from: number): string {
  const size = statSync(file).size;
  const buf = Buffer.alloc(Math.max(0, size - from));
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

/**
 * The writes `user` made (in `namespace`, if given; with a User-Agent that contains `userAgent`, if
 * given; any user's when `user` is undefined) from `sinceMs` to `untilMs`, read from byte
 * `fromByte` of the run directory's audit log. A log rotated since (--audit-log-maxsize) is read on
 * from the newest backup, audit-<time>.log, then the new file from its start.
 */
export function auditWrites(
  runDir: string,
  user: string | undefined,
  opts: {
    fromByte?: number;
    sinceMs?: number;
    untilMs?: number;
    namespace?: string;
    userAgent?: string;
  } = {},
): AuditWrite[] {
  const { fromByte = 0, sinceMs = -Infinity, untilMs = Infinity, namespace, userAgent } = opts;
  const dir = join(runDir, 'logs');
  const current = join(dir, 'audit.log');
  let text: string;
  if (statSync(current).size >= fromByte) text = readFrom(current, fromByte);
  else {
    const backup = readdirSync(dir)
      .filter((f) => /^audit-.*\.log$/.test(f))
      .sort()
      .at(-1);
    text = (backup ? readFrom(join(dir, backup), fromByte) : '') + readFrom(current, 0);
  }
  const out: AuditWrite[] = [];
  for (const line of text.split('\n')) {
    if (user !== undefined && !line.includes(user)) continue;
    if (userAgent !== undefined && !line.includes(userAgent)) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue;
    }
    if (e.stage !== 'ResponseComplete') continue;
    if (user !== undefined && e.user?.username !== user) continue;
    if (userAgent !== undefined && !e.userAgent?.includes(userAgent)) continue;
    if (namespace !== undefined && e.objectRef?.namespace !== namespace) continue;
    const at = Date.parse(e.stageTimestamp ?? '');
    if (!(at >= sinceMs && at <= untilMs)) continue;
    out.push({
      at,
      receivedAt: Date.parse(e.requestReceivedTimestamp ?? '') || at,
      ...(e.userAgent ? { userAgent: e.userAgent } : {}),
      verb: e.verb ?? '',
      resource: e.objectRef?.resource ?? '',
      ...(e.objectRef?.subresource ? { subresource: e.objectRef.subresource } : {}),
      ...(e.objectRef?.namespace ? { namespace: e.objectRef.namespace } : {}),
      ...(e.objectRef?.name ? { name: e.objectRef.name } : {}),
      ...(e.responseStatus?.code ? { code: e.responseStatus.code } : {}),
    });
  }
  return out;
}
