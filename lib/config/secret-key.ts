// Encryption keys are configuration: parsed and validated with every other variable at start-up,
// here, so that lib/config depends on no capability; the capabilities that use them import these.

/** The keys webhook signing secrets are sealed with (WEBHOOK_SECRET_KEY[_PREVIOUS], 32 bytes). */
export interface WebhookSecretKeys {
  /** Seals every secret written, and opens those sealed with it. */
  current: Buffer;
  /** Opens secrets sealed before a rotation, until they are sealed again with `current`. */
  previous: Buffer | undefined;
}

/**
 * Parses a key variable: 32 bytes as 64 hex characters (what scripts/ensure-env.sh writes) or
 * as base64/base64url. Returns undefined for anything else.
 */
export function parseSecretKey(raw: string): Buffer | undefined {
  const value = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const key = Buffer.from(value, 'base64url');
    if (key.length === 32) return key;
  }
  return undefined;
}
