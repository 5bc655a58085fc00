// The signature a receiver checks: HMAC-SHA256 of the exact request body, with the sink's key, hex,
// in `X-Modelship-Signature: sha256=<hex>` (the shape GitHub's webhooks use, so receivers have code
// for it). The body carries the CloudEvent's id and time: a receiver that keeps the ids it has seen
// and refuses old times is safe from replays as well as forgeries.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Modelship-Signature';

export function signBody(key: Buffer | string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/** What a receiver does: recompute and compare in constant time. */
export function verifySignature(
  key: Buffer | string,
  body: string | Buffer,
  header: string | undefined,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(key, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
