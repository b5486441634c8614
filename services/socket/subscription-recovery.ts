import type { ConversationService } from '../../lib/conversations/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import { isCluster, type RedisClient } from '../../lib/redis/redis-client.js';
import { revalidateRooms } from './room-revalidation.js';
import type { QuadServer } from './socket-gateway.js';

/**
 * Redis pub/sub keeps nothing: what is published while this instance's subscriber connection
 * is down, or back but not yet re-subscribed, never reaches it, and the publisher (the api,
 * the worker's outbox relay, another gateway) cannot know which instances were listening. The
 * sockets here stayed connected, so their clients do not know they missed anything either.
 * Whatever kind of event it was (a message, an edit, a receipt, an unread count, a member
 * change), the catch-up a client already runs after a reconnect restores it, and only the
 * client knows where it stands. So each time the subscriptions are in place again (after an
 * outage, a subscriber reconnect alone, or the first connection at start-up, which sockets may
 * precede), this instance:
 *  - drops sockets from the rooms of conversations they were removed from meanwhile (the
 *    emitter's socketsLeave was lost too; see room-revalidation.ts);
 *  - tells every socket it holds to catch up (`quad:resync`), as after a reconnect.
 *
 * "In place" is confirmed, not assumed: on `ready` ioredis has written the SUBSCRIBE and
 * PSUBSCRIBE commands again, and a PING on the same connection is answered after them. From
 * that answer on every publish reaches this instance; a message published before it was
 * committed to PostgreSQL (and its recent-messages entry written) before its publish, so the
 * client's `sync`, sent after the notice, finds it. Clients deduplicate by message id.
 */
export function recoverAfterSubscriptionGap(
  subscriber: RedisClient,
  deps: { io: QuadServer; conversations: ConversationService; logger: Logger },
): void {
  const { io, logger } = deps;
  let generation = 0;
  const revalidate = () => {
    if (io.of('/').sockets.size > 0) {
      // At once: every moment a removed member's socket stays in a room it may receive the
      // room's events, and membership does not depend on the subscription.
      revalidateRooms(deps).catch((error: unknown) =>
        logger.warn({ err: error }, 'room re-validation after a Redis outage failed'),
      );
    }
  };
  const tellSocketsToCatchUp = () => {
    const sockets = io.of('/').sockets.size;
    if (sockets === 0) return;
    io.local.emit('quad:resync', {
      detail: 'live events may have been missed while this gateway was reconnecting; catch up',
      emittedAt: Date.now(),
    });
    logger.info({ sockets }, 'told sockets to catch up after the subscription returned');
  };
  if (isCluster(subscriber)) {
    // On a Redis Cluster the subscriptions are sharded: one subscriber connection per master,
    // and a failover replaces one of them without the cluster client ever leaving `ready`.
    // ioredis says `subscribersReady` once the subscriber group has been rebuilt for a new
    // topology and its channels subscribed again; what was published on the failed shard in
    // between is what the sockets must catch up on. A failover brings several rebuilds in a
    // row: the sockets are told once they are over (policy.realtime.clusterResyncQuietMs).
    let quiet: NodeJS.Timeout | undefined;
    subscriber.on('subscribersReady', () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        revalidate();
        tellSocketsToCatchUp();
      }, policy.realtime.clusterResyncQuietMs);
      quiet.unref();
    });
    return;
  }
  subscriber.on('ready', () => {
    revalidate();
    generation++;
    const confirming = generation;
    subscriber.ping().then(
      () => {
        // A newer connection's PING confirms (and notifies) for both.
        if (confirming !== generation) return;
        tellSocketsToCatchUp();
      },
      // Rejected only when the connection is closed for good (shutdown); a PING cut by a drop
      // is re-sent on the next connection, whose own `ready` confirms.
      () => undefined,
    );
  });
}
