import { createServer } from 'node:http';
import { listen } from '../../lib/lifecycle/http-server.js';
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

// Socket.IO handles its own upgrade and polling paths; everything else reaches the ops
// endpoints or a 404.
const httpServer = createServer((req, res) => {
  if (ops.handle(req, res)) return;
  res.writeHead(404, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ status: 404, code: 'not_found', title: 'Not Found' }));
});

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

try {
  await listen(httpServer, config.http.port, config.http.host);
  logger.info(
    { url: `http://${config.http.host}:${config.http.port}` },
    'socket gateway listening',
  );
} catch (error) {
  logger.fatal({ err: error }, 'socket gateway could not listen');
  await shutdown.run('listen failed', 1);
}
