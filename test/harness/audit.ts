// The apiserver's audit log of a local cluster (hack/cluster/audit-policy.yaml logs every write at
// Metadata level and no read), read by the reliability tests and the benchmarks to count one
// user's writes. Plain Node: no test framework, no cluster access.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface AuditWrite {
  at: number;
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
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  stageTimestamp?: string;
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
 * The writes `user` made (in `namespace`, if given) from `sinceMs` to `untilMs`, read from byte
 * `fromByte` of the run directory's audit log. A log rotated since (--audit-log-maxsize) is read on
 * from the newest backup, audit-<time>.log, then the new file from its start.
 */
export function auditWrites(
  runDir: string,
  user: string,
  opts: { fromByte?: number; sinceMs?: number; untilMs?: number; namespace?: string } = {},
): AuditWrite[] {
  const { fromByte = 0, sinceMs = -Infinity, untilMs = Infinity, namespace } = opts;
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
    if (!line.includes(user)) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue;
    }
    if (e.stage !== 'ResponseComplete' || e.user?.username !== user) continue;
    if (namespace !== undefined && e.objectRef?.namespace !== namespace) continue;
    const at = Date.parse(e.stageTimestamp ?? '');
    if (!(at >= sinceMs && at <= untilMs)) continue;
    out.push({
      at,
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
