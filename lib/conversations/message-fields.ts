import { z } from 'zod';
import { policy } from '../policy/policy.js';

/* Message fields validated the same way over HTTP (services/api) and WebSockets
 * (services/socket), so one transport never accepts what the other refuses. */

export const messageBodyField = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(policy.messaging.maxBodyChars, {
    error: `must be at most ${policy.messaging.maxBodyChars} characters`,
  });

export const idempotencyKeyField = z
  .string()
  .min(1)
  .max(policy.messaging.maxIdempotencyKeyChars)
  .meta({
    description:
      'Chosen by the client for each message (a UUID is fine); resending with the same key returns the stored message instead of a duplicate',
  });
