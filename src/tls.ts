// A self-signed certificate for the operator's HTTPS endpoint, made at start when no certificate
// files are given (as controller-runtime's secure metrics serving does): the bearer tokens that
// scrapers send to /metrics must not cross the network in clear. Node can sign but has no API to
// build a certificate, so this writes the X.509 DER itself: an ECDSA P-256 key, one subject and
// issuer (CN=modelship), the given host names and addresses as subjectAltName, serverAuth only.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

export interface CertificateAndKey {
  /** PEM. */
  cert: string;
  /** PEM (PKCS#8). */
  key: string;
}

export function selfSignedCertificate(hosts: string[], now: Date, days = 365): CertificateAndKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('modelship')))));
  // A positive serial: the high bit of the first byte cleared.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const altNames = hosts.map((h) => {
    const ip = isIP(h);
    if (ip === 4) return tlv(0x87, Buffer.from(h.split('.').map(Number)));
    if (ip === 6) return tlv(0x87, ipv6Bytes(h));
    return tlv(0x82, Buffer.from(h, 'ascii'));
  });
  const extensions = [
    // basicConstraints: not a CA (critical).
    extension('2.5.29.19', seq(), true),
    // keyUsage: digitalSignature (critical).
    extension('2.5.29.15', tlv(0x03, Buffer.from([0x07, 0x80])), true),
    // extKeyUsage: serverAuth.
    extension('2.5.29.37', seq(oid('1.3.6.1.5.5.7.3.1'))),
    ...(altNames.length ? [extension('2.5.29.17', seq(...altNames))] : []),
  ];
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(serial),
    ecdsaWithSha256,
    name,
    seq(time(new Date(now.getTime() - 60_000)), time(new Date(now.getTime() + days * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return {
    cert: pem('CERTIFICATE', der),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

// ---- DER ----------------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));

/**
 * A non-negative DER INTEGER from big-endian bytes, in its one allowed (minimal) form: no leading
 * zero byte unless the next byte has its high bit set. A random serial starting with 0x00 was
 * written as is before, and OpenSSL refused about one certificate in 256 ("illegal padding").
 */
export function derUnsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const digits = bytes.length ? bytes.subarray(i) : Buffer.from([0]);
  return tlv(0x02, digits[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits);
}
const int = derUnsignedInteger;

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const group: number[] = [];
    for (let v = n; ; v = Math.floor(v / 128)) {
      group.unshift((v % 128) | (group.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...group);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2026-12-04T14:19:24.020Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20261204141924Z
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(0x18, Buffer.from(digits, 'ascii'));
}

function extension(id: string, value: Buffer, critical = false): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}

function ipv6Bytes(addr: string): Buffer {
  const [head = '', tail = ''] = addr.split('::');
  const part = (s: string) => (s ? s.split(':') : []);
  const h = part(head);
  const t = addr.includes('::') ? part(tail) : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.replace(/\n$/, '')}\n-----END ${label}-----\n`;
}
