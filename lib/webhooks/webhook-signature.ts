import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the signature, Stripe-style: `t=<unix seconds>,v1=<hex>`. */
export const SIGNATURE_HEADER = 'Quad-Signature';
/** The outbox event id: the same on every attempt and for every webhook, so receivers dedupe. */
export const EVENT_ID_HEADER = 'Quad-Event-Id';

/**
 * HMAC-SHA256 over `<t>.<body>` with the webhook's secret. The timestamp is inside the signed
 * text so a captured request cannot be replayed later with a fresh `t`; receivers refuse a `t`
 * more than a few minutes old (docs/api.md, "Verifying a webhook").
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const digest = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${digest}`;
}

/**
 * What a receiver does (here for tests and as the reference for docs/api.md): true when the
 * header signs `body` with `secret` and its timestamp is within `toleranceSeconds` of `now`.
 */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1_000),
): boolean {
  const parts = new Map(
    header.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isInteger(t) || given === undefined || !/^[0-9a-f]{64}$/.test(given)) return false;
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}
