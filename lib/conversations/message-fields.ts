import { policy } from '../policy/policy.js';
import { textField } from '../text/text-field.js';

/* Message fields validated the same way over HTTP (services/api) and WebSockets
 * (services/socket), so one transport never accepts what the other refuses. */

/** Line breaks and tabs are welcome; bidi controls too (right-to-left writers use them). */
export const messageBodyField = textField({
  max: policy.messaging.maxBodyChars,
  kind: 'multiline',
});

/** Not trimmed: the key is the client's, byte for byte. */
export const idempotencyKeyField = textField({
  max: policy.messaging.maxIdempotencyKeyChars,
  trim: false,
}).meta({
  description:
    'Chosen by the client for each message (a UUID is fine); resending with the same key returns the stored message instead of a duplicate',
});

/** A group's title (a name: no control or bidi characters). */
export const conversationTitleField = textField({
  max: policy.messaging.maxTitleChars,
  kind: 'name',
});
