import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Server } from 'socket.io';
import type { Logger } from '../../lib/observability/logger.js';

export interface SocketGatewayDependencies {
  httpServer: HttpServer;
  /** Publishing connection (fails fast while Redis is down). */
  pubClient: Redis;
  /** Dedicated subscriber connection. */
  subClient: Redis;
  keyPrefix: string;
  metrics: Registry;
  logger: Logger;
}

/**
 * The adapter publishes without handling the returned promise; with a fail-fast Redis client a
 * publish during an outage would become an unhandled rejection. This wrapper turns those into
 * a counted, logged, dropped broadcast: live delivery is best-effort, and the durable path
 * (PostgreSQL, then catch-up on reconnect) is what guarantees nothing is lost.
 */
function tolerantPublisher(client: Redis, onError: (error: unknown) => void): Redis {
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

/** The Socket.IO server with cross-instance broadcast through Redis. */
export function createSocketGateway(deps: SocketGatewayDependencies): Server {
  const { httpServer, pubClient, subClient, keyPrefix, metrics, logger } = deps;

  const connections = new Gauge({
    name: 'socket_connections',
    help: 'Socket.IO connections currently open on this instance',
    registers: [metrics],
  });
  const broadcastErrors = new Counter({
    name: 'socket_broadcast_errors_total',
    help: 'Broadcasts that could not be published to Redis (dropped; clients catch up later)',
    registers: [metrics],
  });

  const io = new Server(httpServer, {
    adapter: createAdapter(
      tolerantPublisher(pubClient, (error) => {
        broadcastErrors.inc();
        logger.warn({ err: String(error) }, 'broadcast publish to redis failed');
      }),
      subClient,
      // Channels live under the global prefix, which the Redis ACL grants the services.
      { key: `${keyPrefix}socket.io` },
    ),
    serveClient: false,
  });

  io.on('connection', (socket) => {
    connections.inc();
    socket.on('disconnect', () => connections.dec());
  });

  return io;
}
