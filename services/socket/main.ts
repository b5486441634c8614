import { createOpsServer } from '../../lib/http/ops-endpoints.js';
import { startServiceRuntime } from '../../lib/runtime/index.js';
import { conversationHandlers } from './conversation-handlers.js';
import { LiveState } from './live-state.js';
import { recheckSessions } from './socket-auth.js';
import { createSocketGateway } from './socket-gateway.js';
import { socketMetrics } from './socket-metrics.js';
import { recoverAfterSubscriptionGap } from './subscription-recovery.js';

// Composition root of the socket gateway.
const runtime = startServiceRuntime('socket');
const { config, logger, metrics, ops, shutdown } = runtime;

const subscriber = runtime.redisConnection('subscriber');

// Sends over the socket take the same path as over HTTP: PostgreSQL, then the runtime's
// publisher, which reaches the sockets of every instance through Redis.
const { accounts, messaging } = runtime.domain();
const rateLimiter = runtime.rateLimiter();
const gatewayMetrics = socketMetrics(metrics);

// Presence, room presence and typing live in the state Redis, shared by every instance.
const realtimeStores = {
  presence: runtime.presence(),
  rooms: runtime.roomPresence(),
  typing: runtime.typing(),
};
let liveState: LiveState | undefined;

// Socket.IO attaches its own upgrade and polling paths to this server.
const httpServer = createOpsServer(ops);

const { io, disconnect } = createSocketGateway({
  httpServer,
  pubClient: runtime.redis.state,
  subClient: subscriber,
  keyPrefix: config.redis.keyPrefix,
  sessions: accounts.sessions,
  features: (server) => {
    liveState = new LiveState({
      io: server,
      ...realtimeStores,
      conversations: messaging.conversations,
      rateLimiter,
      logger,
    });
    return {
      handlers: {
        ...conversationHandlers({ messaging, rateLimiter, metrics: gatewayMetrics }),
        ...liveState.handlers(),
      },
      hooks: liveState,
    };
  },
  metrics: gatewayMetrics,
  logger,
});
liveState?.start();
recoverAfterSubscriptionGap(subscriber, { io, conversations: messaging.conversations, logger });
const stopSessionRecheck = recheckSessions(io, {
  sessions: accounts.sessions,
  logger,
  disconnect,
});

shutdown
  .add('disconnect sockets and stop accepting', async () => {
    ops.markDraining();
    stopSessionRecheck();
    liveState?.stop();
    // Clients reconnect to another instance (and catch up there); io.close() also closes the
    // HTTP server.
    io.local.emit('quad:disconnecting', {
      code: 'server_shutdown',
      detail: 'this gateway instance is restarting; reconnect',
      emittedAt: Date.now(),
    });
    await io.close();
  })
  .add('close redis and postgres', () => runtime.close());

await runtime.listen(httpServer);
