import type { Logger } from '../observability/logger.js';
import type { Queryable } from '../postgres/transaction.js';
import { webhookRepository } from './webhook.repository.js';
import { type WebhookSecretBox, WebhookSecretUnreadableError } from './webhook-secret-box.js';

/**
 * Seals every stored webhook secret that is not sealed with the current key: plain ones from
 * before encryption (an upgrade) and those sealed with WEBHOOK_SECRET_KEY_PREVIOUS (a key
 * rotation). Idempotent and safe to run from several processes at once (each replacement is a
 * compare-and-set). The worker runs it at start-up; the api too, so that an upgraded api never
 * serves a plain row. Returns what it did; a secret it cannot open is logged and left as it is
 * (its deliveries fail with the reason until an admin re-creates the webhook).
 */
export async function resealWebhookSecrets(deps: {
  postgres: Queryable;
  secretBox: WebhookSecretBox;
  logger: Logger;
}): Promise<{ resealed: number; unreadable: string[] }> {
  const { postgres, secretBox, logger } = deps;
  const stale = await webhookRepository.secretsToReseal(postgres, secretBox.currentPrefix);
  let resealed = 0;
  const unreadable: string[] = [];
  for (const row of stale) {
    try {
      if (await resealSecret(postgres, secretBox, row.id, row.storedSecret)) resealed += 1;
    } catch (error) {
      if (!(error instanceof WebhookSecretUnreadableError)) throw error;
      unreadable.push(row.id);
      logger.error({ webhookId: row.id, err: error.message }, 'webhook secret cannot be re-sealed');
    }
  }
  if (resealed > 0) logger.info({ resealed }, 'webhook secrets sealed with the current key');
  return { resealed, unreadable };
}

/** Seals one stored secret with the current key; false when it changed meanwhile. Throws
 *  WebhookSecretUnreadableError when it cannot be opened. */
export function resealSecret(
  postgres: Queryable,
  secretBox: WebhookSecretBox,
  webhookId: string,
  storedSecret: string,
): Promise<boolean> {
  const secret = secretBox.open(storedSecret, webhookId);
  return webhookRepository.replaceSecret(
    postgres,
    webhookId,
    storedSecret,
    secretBox.seal(secret, webhookId),
  );
}
