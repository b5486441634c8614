import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { WebhookSecretKeys } from '../config/secret-key.js';

export { parseSecretKey, type WebhookSecretKeys } from '../config/secret-key.js';

/** A stored secret Quad cannot open: sealed with a key it no longer has, or altered. */
export class WebhookSecretUnreadableError extends Error {
  constructor(
    readonly webhookId: string,
    reason: string,
  ) {
    super(`the signing secret of webhook ${webhookId} cannot be read: ${reason}`);
    this.name = 'WebhookSecretUnreadableError';
  }
}

const FORMAT = 'v1';
/** GCM's standard nonce length; random per seal (a key seals far fewer than 2^32 secrets). */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Names a key in the stored value without revealing anything about it. */
function keyId(key: Buffer): string {
  return createHash('sha256')
    .update('quad webhook secret key')
    .update(key)
    .digest('hex')
    .slice(0, 12);
}

/** Binds a ciphertext to its row: one moved to another webhook does not open there. */
function associatedData(webhookId: string): Buffer {
  return Buffer.from(`quad webhook ${webhookId}`, 'utf8');
}

/**
 * Webhook signing secrets at rest: AES-256-GCM (node:crypto, OpenSSL's AEAD), stored as
 * `v1.<key id>.<nonce>.<ciphertext>.<tag>` (base64url parts) in webhooks.secret. The key lives
 * in the env file, never in PostgreSQL, so a database dump or backup alone yields no secret.
 * The webhook's id is the associated data. A stored value without the `v1.` prefix is a
 * secret from before encryption, readable until the worker seals it at start-up (or when it
 * next signs with it).
 */
export class WebhookSecretBox {
  readonly #current: { id: string; key: Buffer };
  readonly #byId: Map<string, Buffer>;

  constructor(keys: WebhookSecretKeys) {
    this.#current = { id: keyId(keys.current), key: keys.current };
    this.#byId = new Map([[this.#current.id, keys.current]]);
    if (keys.previous) this.#byId.set(keyId(keys.previous), keys.previous);
  }

  /** The prefix of every value sealed with the current key (SQL: what needs no re-sealing). */
  get currentPrefix(): string {
    return `${FORMAT}.${this.#current.id}.`;
  }

  seal(secret: string, webhookId: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, nonce, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(associatedData(webhookId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [
      FORMAT,
      this.#current.id,
      nonce.toString('base64url'),
      ciphertext.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** The secret in `stored`; throws WebhookSecretUnreadableError when it cannot be opened. */
  open(stored: string, webhookId: string): string {
    if (!WebhookSecretBox.isSealed(stored)) return stored;
    const [, id, nonce, ciphertext, tag] = stored.split('.');
    const key = id === undefined ? undefined : this.#byId.get(id);
    if (key === undefined || nonce === undefined || ciphertext === undefined || tag === undefined) {
      throw new WebhookSecretUnreadableError(
        webhookId,
        'sealed with a key that is neither WEBHOOK_SECRET_KEY nor WEBHOOK_SECRET_KEY_PREVIOUS',
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(associatedData(webhookId));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new WebhookSecretUnreadableError(
        webhookId,
        'it fails authentication (altered or moved)',
      );
    }
  }

  /** Whether `stored` is sealed with the current key (nothing to re-seal). */
  isCurrent(stored: string): boolean {
    return stored.startsWith(this.currentPrefix);
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(`${FORMAT}.`);
  }
}

/** The box of a composition root; the config loader guarantees the keys for api and worker. */
export function webhookSecretBox(keys: WebhookSecretKeys | undefined): WebhookSecretBox {
  if (keys === undefined) throw new Error('WEBHOOK_SECRET_KEY is not configured for this process');
  return new WebhookSecretBox(keys);
}
