import {
  ConversationNotFoundError,
  type ConversationService,
} from '../../lib/conversations/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { identityOf } from './socket-auth.js';
import type { QuadServer } from './socket-gateway.js';

const CONVERSATION_ROOM = /^conversation:(.+)$/;

/**
 * A member removed while Redis was down was never told to leave the room (the emitter's
 * socketsLeave could not be published), and would receive the room's events once Redis is
 * back. So each time the subscription comes back (subscription-recovery.ts), every
 * conversation room on this instance is checked against membership again (one cached check
 * per distinct user and conversation) and sockets no longer entitled leave it. The permissions
 * cache is invalidated after every member change, and its TTL (60 s) bounds a lost
 * invalidation.
 */
export async function revalidateRooms(deps: {
  io: QuadServer;
  conversations: ConversationService;
  logger: Logger;
}): Promise<number> {
  const checks = new Map<string, Promise<boolean>>();
  const isMember = (conversationId: string, userId: string) => {
    const key = `${conversationId}:${userId}`;
    let check = checks.get(key);
    if (!check) {
      check = deps.conversations.membership(conversationId, userId).then(
        () => true,
        (error: unknown) => {
          if (error instanceof ConversationNotFoundError) return false;
          throw error;
        },
      );
      checks.set(key, check);
    }
    return check;
  };
  let removed = 0;
  for (const socket of deps.io.of('/').sockets.values()) {
    const { userId } = identityOf(socket);
    for (const room of socket.rooms) {
      const conversationId = CONVERSATION_ROOM.exec(room)?.[1];
      if (conversationId && !(await isMember(conversationId, userId))) {
        socket.leave(room);
        removed++;
      }
    }
  }
  if (removed > 0) deps.logger.info({ removed }, 'sockets left rooms they were removed from');
  return removed;
}
