import { createHmac } from 'node:crypto';
import { signBody, verifySignature } from './sign.js';

test('the signature is the hex HMAC-SHA256 of the exact body', () => {
  // RFC 4231 test case 2.
  expect(signBody('Jefe', 'what do ya want for nothing?')).toBe(
    'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
  const body = '{"specversion":"1.0"}';
  expect(signBody('k', body)).toBe(`sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`);
});

test('a receiver accepts the right signature and refuses a changed body, another key or none', () => {
  const body = '{"id":"1"}';
  const sig = signBody('secret', body);
  expect(verifySignature('secret', body, sig)).toBe(true);
  expect(verifySignature('secret', '{"id":"2"}', sig)).toBe(false);
  expect(verifySignature('other', body, sig)).toBe(false);
  expect(verifySignature('secret', body, undefined)).toBe(false);
  expect(verifySignature('secret', body, 'sha256=00')).toBe(false);
});
