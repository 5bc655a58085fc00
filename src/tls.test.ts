// The self-signed certificate is one that Node's own X.509 parser and TLS stack accept: parsed,
// its signature verified with its key, and a real TLS handshake made with it as the trusted root.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { derUnsignedInteger, selfSignedCertificate } from './tls.js';

const NOW = new Date('2026-12-04T12:00:00Z');

test('a valid X.509 v3 certificate for the given names, signed by its own key', () => {
  const { cert, key } = selfSignedCertificate(
    ['modelship-metrics.ops.svc', 'localhost', '127.0.0.1', '::1'],
    NOW,
  );
  const x = new X509Certificate(cert);
  expect(x.subject).toBe('CN=modelship');
  expect(x.issuer).toBe('CN=modelship');
  expect(x.subjectAltName).toBe(
    'DNS:modelship-metrics.ops.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
  );
  expect(new Date(x.validFrom).getTime()).toBeLessThanOrEqual(NOW.getTime());
  expect(new Date(x.validTo).getTime()).toBe(NOW.getTime() + 365 * 86_400_000);
  expect(x.ca).toBe(false);
  expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  expect(x.verify(createPublicKey(createPrivateKey(key)))).toBe(true);
  expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
  // Two calls, two keys and serial numbers.
  expect(new X509Certificate(selfSignedCertificate([], NOW).cert).serialNumber).not.toBe(x.serialNumber);
});

test('validity beyond 2049 is written as GeneralizedTime', () => {
  const x = new X509Certificate(selfSignedCertificate(['localhost'], new Date('2049-06-01T00:00:00Z')).cert);
  expect(new Date(x.validTo).getUTCFullYear()).toBe(2050);
});

test('a TLS client that trusts it completes a handshake and gets an answer', async () => {
  const { cert, key } = selfSignedCertificate(['localhost', '127.0.0.1'], new Date());
  const server = https.createServer({ cert, key }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/', ca: cert, servername: 'localhost' }, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    expect(body).toBe('ok');
  } finally {
    server.close();
  }
});

test('integers are written in their minimal DER form, whatever their leading bytes', () => {
  const hex = (b: number[]) => derUnsignedInteger(Buffer.from(b)).toString('hex');
  // A leading zero byte is dropped unless the next byte has its high bit set (X.690 8.3.2): a
  // random serial starting 00 01.. made OpenSSL refuse one certificate in about 256.
  expect(hex([0x00, 0x01, 0x02])).toBe('02020102');
  expect(hex([0x00, 0x00, 0x7f])).toBe('02017f');
  expect(hex([0x00, 0x80])).toBe('02020080');
  expect(hex([0x80, 0x01])).toBe('0203008001');
  expect(hex([0x00, 0x00])).toBe('020100');
  expect(hex([0x05])).toBe('020105');
  expect(hex([])).toBe('020100');
});
