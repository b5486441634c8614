import type { RedisClient } from '../redis/redis-client.js';

/**
 * The Socket.IO adapters and emitters publish (PUBLISH, or SPUBLISH on a cluster) without
 * handling the returned promise; with a fail-fast Redis client a publish during an outage would
 * become an unhandled rejection. This
 * wrapper turns those into a reported, dropped broadcast: live delivery is best-effort, and the
 * durable path (PostgreSQL, then catch-up on reconnect) is what guarantees nothing is lost.
 */
export function tolerantPublisher(
  client: RedisClient,
  onError: (error: unknown) => void,
): RedisClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'publish' || property === 'spublish') {
        return (channel: string, message: string | Buffer) =>
          target[property](channel, message).catch((error: unknown) => {
            onError(error);
            return 0;
          });
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
