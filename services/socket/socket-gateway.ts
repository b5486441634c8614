import type { Server as HttpServer } from 'node:http';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Server, type Socket } from 'socket.io';
import type { SessionService } from '../../lib/accounts/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import type { DisconnectCode, ServerEvents } from '../../lib/realtime/events.js';
import { sessionRoom, userRoom } from '../../lib/realtime/events.js';
import { socketChannelKey } from '../../lib/realtime/realtime-emitter.js';
import { tolerantPublisher } from '../../lib/realtime/tolerant-publisher.js';
import { isCluster, type RedisClient } from '../../lib/redis/redis-client.js';
import {
  BATCHED_ROOM,
  coalesceBroadcasts,
  SINGLE_ROOM,
  wantsBatches,
} from './broadcast-coalescing.js';
import { type Connection, EventDispatcher, type EventHandlers } from './event-dispatch.js';
import { boundOutgoingQueue } from './outgoing-queue-bound.js';
import { authenticateHandshakes, identityOf } from './socket-auth.js';
import type { SocketMetrics } from './socket-metrics.js';

/** Hooks of the gateway's lifecycle for the features that track connections (presence). */
export interface ConnectionHooks {
  connected(connection: Connection): Promise<void>;
  disconnected(connection: Connection): Promise<void>;
}

export interface SocketGatewayDependencies {
  httpServer: HttpServer;
  /** Publishing connection (fails fast while Redis is down). */
  pubClient: RedisClient;
  /** Dedicated subscriber connection. */
  subClient: RedisClient;
  keyPrefix: string;
  sessions: SessionService;
  /** What the gateway serves, built once the server exists (features broadcast through it). */
  features: (io: QuadServer) => { handlers: EventHandlers; hooks: ConnectionHooks };
  metrics: SocketMetrics;
  logger: Logger;
}

export type QuadServer = Server<Record<string, never>, ServerEvents>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A broadcast packet's data: [event name, first argument, ...]; empty when it has none. */
function broadcastData(packet: unknown): unknown[] {
  const data = isRecord(packet) ? packet.data : undefined;
  return Array.isArray(data) ? data : [];
}

/**
 * Measures what this instance writes to its sockets: one count per broadcast (not per
 * recipient) and, from the `emittedAt` every Quad event carries, how long the event took from
 * its publisher (any service, any instance) to here. The hook is the adapter's encode step,
 * which runs once per broadcast on each instance; test/integration/socket-gateway.test.ts
 * fails if a Socket.IO upgrade stops calling it.
 */
type AdapterFactory = (
  namespace: Parameters<ReturnType<typeof createAdapter>>[0],
) =>
  | ReturnType<ReturnType<typeof createAdapter>>
  | ReturnType<ReturnType<typeof createShardedAdapter>>;

/**
 * The adapter that carries broadcasts between gateway instances: the pub/sub adapter on a single
 * Redis; on a Redis Cluster the sharded one (SPUBLISH/SSUBSCRIBE, Redis 7), whose channels each
 * live on the shard owning their slot, so broadcast load spreads over the shards instead of
 * being copied to every node. In its "dynamic" mode each room with sockets here gets its own
 * channel. The api and the worker publish in the matching protocol (lib/realtime/
 * realtime-emitter.ts). Channels live under the global prefix, which the Redis ACL grants.
 */
function broadcastAdapter(
  pubClient: RedisClient,
  subClient: RedisClient,
  keyPrefix: string,
): AdapterFactory {
  if (isCluster(pubClient)) {
    return createShardedAdapter(pubClient, subClient, {
      channelPrefix: socketChannelKey(keyPrefix),
      subscriptionMode: 'dynamic',
    });
  }
  return createAdapter(pubClient, subClient, { key: socketChannelKey(keyPrefix) });
}

/** The adapter as the gateway uses it: local deliveries coalesced for connections that asked
 *  (broadcast-coalescing.ts), and measured (above). */
function instrumentedAdapter(base: AdapterFactory, metrics: SocketMetrics): AdapterFactory {
  // A function, not an arrow: Socket.IO calls the adapter factory with `new`.
  return function instrumented(namespace) {
    const adapter = coalesceBroadcasts(base(namespace), (size) => metrics.batchSize.observe(size));
    // _encode is internal to socket.io-adapter (TypeScript-private): reached through Reflect
    // and checked at run time instead of cast, so an upgrade that drops it fails here, at
    // start-up, rather than silently leaving the metrics at zero.
    const encode: unknown = Reflect.get(adapter, '_encode');
    if (typeof encode !== 'function') {
      throw new Error('socket.io-adapter has no _encode: the broadcast metrics need a new hook');
    }
    Reflect.set(adapter, '_encode', (packet: unknown, options: unknown): unknown => {
      const [event, payload] = broadcastData(packet);
      if (typeof event === 'string') {
        metrics.eventsSent.inc({ event });
        const emittedAt = isRecord(payload) ? payload.emittedAt : undefined;
        if (typeof emittedAt === 'number') {
          const seconds = Math.max(0, (Date.now() - emittedAt) / 1000);
          metrics.deliverySeconds.observe({ event }, seconds);
        }
      }
      return Reflect.apply(encode, adapter, [packet, options]);
    });
    return adapter;
  };
}

/**
 * The Socket.IO server: authenticated handshakes, cross-instance broadcast through the Redis
 * pub/sub adapter (docs/architecture.md explains the choice over the streams adapter), every
 * client event validated and limited by the dispatcher, and a reason sent before any
 * server-side disconnect.
 */
export function createSocketGateway(deps: SocketGatewayDependencies) {
  const { httpServer, pubClient, subClient, keyPrefix, metrics, logger } = deps;

  const io: QuadServer = new Server(httpServer, {
    adapter: instrumentedAdapter(
      broadcastAdapter(
        tolerantPublisher(pubClient, (error) => {
          metrics.broadcastErrors.inc();
          logger.warn({ err: String(error) }, 'broadcast publish to redis failed');
        }),
        subClient,
        keyPrefix,
      ),
      metrics,
    ),
    serveClient: false,
    maxHttpBufferSize: policy.realtime.maxFrameBytes,
  });

  /** Tells the client why, then closes; the reason is counted. */
  const disconnect = (socket: Socket, code: DisconnectCode, detail: string) => {
    if (!socket.connected) return;
    socket.emit('quad:disconnecting', { code, detail, emittedAt: Date.now() });
    metrics.disconnects.inc({ reason: code });
    socket.disconnect(true);
  };

  const { handlers, hooks } = deps.features(io);
  const dispatcher = new EventDispatcher({
    handlers,
    metrics,
    logger,
    onAbuse: ({ socket, userId }) => {
      logger.warn(
        { userId, socketId: socket.id },
        'disconnecting a connection that keeps violating limits',
      );
      disconnect(socket, 'rate_limited', 'too many refused events on this connection');
    },
  });

  authenticateHandshakes(io, { sessions: deps.sessions, metrics, logger });

  io.on('connection', (socket) => {
    const { userId, sessionId } = identityOf(socket);
    const connection: Connection = { socket, userId, sessionId };
    metrics.connections.inc();
    socket.join([
      userRoom(userId),
      sessionRoom(sessionId),
      wantsBatches(socket) ? BATCHED_ROOM : SINGLE_ROOM,
    ]);
    boundOutgoingQueue(socket, {
      maxFrames: policy.realtime.maxQueuedFrames,
      onOverflow: (queued) => {
        metrics.slowConsumerDisconnects.inc();
        logger.warn(
          { userId, socketId: socket.id, queued },
          'disconnecting a connection that stopped reading (its outgoing queue is full)',
        );
      },
    });
    dispatcher.attach(connection);
    void hooks.connected(connection).catch((error: unknown) => {
      logger.warn({ err: error, userId }, 'connection hook failed');
    });
    socket.on('disconnect', (reason) => {
      metrics.connections.dec();
      if (reason !== 'server namespace disconnect') metrics.disconnects.inc({ reason });
      void hooks.disconnected(connection).catch((error: unknown) => {
        logger.warn({ err: error, userId }, 'disconnection hook failed');
      });
    });
  });

  return { io, disconnect };
}
