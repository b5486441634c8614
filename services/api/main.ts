import { createServer } from 'node:http';
import { closeHttpServer, listen } from '../../lib/lifecycle/http-server.js';
import { startServiceRuntime } from '../../lib/runtime/service-runtime.js';
import { readPackageVersion } from '../../lib/runtime/version.js';
import { createApiApp } from './api-app.js';

// Composition root of the api service: the only place that reads configuration and creates
// clients for it.
const runtime = startServiceRuntime('api');
const { config, logger, metrics, ops, shutdown } = runtime;

const app = createApiApp({ logger, metrics, ops, version: readPackageVersion() });
const server = createServer(app);

shutdown
  .add('stop accepting and drain http requests', () => {
    ops.markDraining();
    return closeHttpServer(server);
  })
  .add('close redis and postgres', () => runtime.closeClients());

try {
  await listen(server, config.http.port, config.http.host);
  logger.info({ url: `http://${config.http.host}:${config.http.port}` }, 'api listening');
} catch (error) {
  logger.fatal({ err: error }, 'api could not listen');
  await shutdown.run('listen failed', 1);
}
