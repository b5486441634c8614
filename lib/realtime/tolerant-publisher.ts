import type { Redis } from 'ioredis';

/**
 * The Socket.IO adapter and emitter publish without handling the returned promise; with a
 * fail-fast Redis client a publish during an outage would become an unhandled rejection. This
 * wrapper turns those into a reported, dropped broadcast: live delivery is best-effort, and the
 * durable path (PostgreSQL, then catch-up on reconnect) is what guarantees nothing is lost.
 */
export function tolerantPublisher(client: Redis, onError: (error: unknown) => void): Redis {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'publish') {
        return (...args: Parameters<Redis['publish']>) =>
          target.publish(...args).catch((error: unknown) => {
            onError(error);
            return 0;
          });
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
