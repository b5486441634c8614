import { createOpsServer } from '../../lib/http/ops-endpoints.js';
import { closeRedisClient, createRedisClient } from '../../lib/redis/redis-client.js';
import { startServiceRuntime } from '../../lib/runtime/service-runtime.js';
import { createSocketGateway } from './socket-gateway.js';

// Composition root of the socket gateway.
const runtime = startServiceRuntime('socket');
const { config, logger, metrics, ops, shutdown } = runtime;

const subscriber = createRedisClient(
  config.redis.state,
  'subscriber',
  'quad-socket-subscriber',
  logger,
);

// Socket.IO attaches its own upgrade and polling paths to this server.
const httpServer = createOpsServer(ops);

const io = createSocketGateway({
  httpServer,
  pubClient: runtime.redis.state,
  subClient: subscriber,
  keyPrefix: config.redis.keyPrefix,
  metrics,
  logger,
});

shutdown
  .add('disconnect sockets and stop accepting', async () => {
    ops.markDraining();
    // Clients reconnect to another instance; io.close() also closes the HTTP server.
    await io.close();
  })
  .add('close redis and postgres', async () => {
    await closeRedisClient(subscriber);
    await runtime.closeClients();
  });

await runtime.listen(httpServer);
