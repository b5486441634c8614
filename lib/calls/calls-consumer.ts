import type { OutboxConsumer } from '../outbox/outbox.types.js';
import type { CallService } from './call.service.js';

/**
 * Outbox consumer `calls` (the worker's relay): a member removed from a conversation, or who
 * left it, is removed from its live call as soon as the removal commits (LiveKit disconnects
 * them and the key is replaced for those who remain). Idempotent: removing someone not in the
 * call changes nothing.
 */
export function callsConsumer(calls: CallService): OutboxConsumer {
  return {
    name: 'calls',
    async handle(events) {
      for (const event of events) {
        if (event.type !== 'member.removed') continue;
        await calls.memberRemoved(event.conversationId, event.payload.userIds);
      }
    },
  };
}
