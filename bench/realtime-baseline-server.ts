/**
 * The baseline of `npm run bench:realtime` (forked by bench/realtime.bench.ts, driven over
 * IPC): ONE Socket.IO server with the default in-memory adapter, no Redis adapter, in a
 * process of its own. It is the gateway minus what crossing instances costs: the same
 * socket.io version and server options (serveClient off, the policy's frame limit), the
 * gateway's own handshake authentication (services/socket/socket-auth.ts over the real
 * SessionService, on the same PostgreSQL and cache Redis) and its own `conversation:join`
 * handler and payload schema (conversation-handlers.ts, socket-events.ts); no presence, typing
 * or other live state. Publishing is `io.to(room).emit('message:new', …)` in this process, at
 * the rate the parent asks, the payload stamped with `emittedAt` exactly as
 * lib/realtime/publisher.ts stamps it.
 *
 * Configured like the gateway, from the environment the parent passes (the socket service's).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { loadServiceConfig } from '../lib/config/index.js';
import { createLogger } from '../lib/observability/logger.js';
import { createMetricsRegistry } from '../lib/observability/metrics.js';
import { policy } from '../lib/policy/policy.js';
import { createRateLimiter } from '../lib/rate-limit/index.js';
import {
  conversationRoom,
  type ServerEvents,
  sessionRoom,
  userRoom,
} from '../lib/realtime/index.js';
import { Runtime } from '../lib/runtime/index.js';
import { conversationHandlers } from '../services/socket/conversation-handlers.js';
import { toAckError } from '../services/socket/event-dispatch.js';
import { authenticateHandshakes, identityOf } from '../services/socket/socket-auth.js';
import { clientEventSchemas } from '../services/socket/socket-events.js';
import { socketMetrics } from '../services/socket/socket-metrics.js';
import { publishAtRate, serveRpc, syntheticMessage } from './realtime-load.js';

const config = loadServiceConfig('socket');
const logger = createLogger('bench-baseline', config.logLevel);
const metrics = createMetricsRegistry('bench-baseline');
// Publishing is this process's own io.to(room).emit, so the domain services announce nothing.
const runtime = new Runtime({
  name: 'bench-baseline',
  config,
  logger,
  metrics,
  realtimeEvents: false,
});
const { accounts, messaging } = runtime.domain();
const rateLimiter = createRateLimiter({
  redis: runtime.redis.state,
  keyPrefix: config.redis.keyPrefix,
  policies: config.rateLimits,
  registry: metrics,
  logger,
});
const gatewayMetrics = socketMetrics(metrics);
const { 'conversation:join': join } = conversationHandlers({
  messaging,
  rateLimiter,
  metrics: gatewayMetrics,
});

const httpServer = createServer();
// No `adapter` option: Socket.IO's in-memory adapter, broadcasting to this process's sockets.
const io = new Server<Record<string, never>, ServerEvents>(httpServer, {
  serveClient: false,
  maxHttpBufferSize: policy.realtime.maxFrameBytes,
});
authenticateHandshakes(io, { sessions: accounts.sessions, metrics: gatewayMetrics, logger });
io.on('connection', (socket) => {
  const { userId, sessionId } = identityOf(socket);
  socket.join([userRoom(userId), sessionRoom(sessionId)]);
  socket.on('conversation:join', async (payload: unknown, ack: (answer: unknown) => void) => {
    try {
      const parsed = clientEventSchemas['conversation:join'].parse(payload);
      ack({ ok: true, ...(await join({ socket, userId, sessionId }, parsed)) });
    } catch (error) {
      ack({ ok: false, error: toAckError(error) });
    }
  });
});

serveRpc({
  async listen() {
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    return { port: (httpServer.address() as AddressInfo).port };
  },

  async heap() {
    return { heapUsed: process.memoryUsage().heapUsed };
  },

  async publish(args: {
    rate: number;
    durationMs: number;
    conversationId: string;
    senderId: string;
  }) {
    const room = io.to(conversationRoom(args.conversationId));
    return publishAtRate(args.rate, args.durationMs, (index) => {
      const message = syntheticMessage(args.conversationId, args.senderId, index + 1);
      room.emit('message:new', { message, emittedAt: Date.now() });
    });
  },

  async close() {
    await io.close();
    await runtime.close();
    setImmediate(() => process.exit(0));
    return {};
  },
});
