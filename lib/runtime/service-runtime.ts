import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import {
  loadOrExit,
  loadServiceConfig,
  type ServiceConfig,
  type ServiceName,
} from '../config/index.js';
import {
  migrationsCheck,
  postgresCheck,
  type ReadinessCheck,
  redisCheck,
} from '../health/readiness.js';
import { createOpsEndpoints, type OpsEndpoints } from '../http/ops-endpoints.js';
import { listen } from '../lifecycle/http-server.js';
import { Shutdown } from '../lifecycle/shutdown.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetricsRegistry } from '../observability/metrics.js';
import { createPostgresPool, type PostgresPool } from '../postgres/postgres-pool.js';
import { closeRedisClient, createRedisClient } from '../redis/redis-client.js';

/** What every service's composition root starts from. */
export interface ServiceRuntime {
  config: ServiceConfig;
  logger: Logger;
  metrics: Registry;
  postgres: PostgresPool;
  redis: { state: Redis; cache: Redis };
  ops: OpsEndpoints;
  shutdown: Shutdown;
  /** Closes the clients above; the composition root registers it as its last shutdown step,
   *  after its own draining steps. */
  closeClients(): Promise<void>;
  /** Binds `server` to the configured host and port; if that fails (port taken), logs why and
   *  shuts down with exit status 1. */
  listen(server: Server, fields?: Record<string, unknown>): Promise<void>;
}

/**
 * The common half of every composition root: validate the configuration (exit 78 listing every
 * problem), then create the logger, metrics, PostgreSQL pool, both Redis clients, the
 * operational endpoints and the shutdown coordinator. Called only from services' main.ts.
 */
export function startServiceRuntime(
  service: ServiceName,
  extraChecks: (runtime: { redis: ServiceRuntime['redis'] }) => ReadinessCheck[] = () => [],
): ServiceRuntime {
  const config = loadOrExit(() => loadServiceConfig(service));
  const logger = createLogger(service, config.logLevel);
  const metrics = createMetricsRegistry(service);
  const postgres = createPostgresPool(config.postgres, `quad-${service}`, logger);
  const redis = {
    state: createRedisClient(config.redis.state, 'command', `quad-${service}`, logger),
    cache: createRedisClient(config.redis.cache, 'command', `quad-${service}-cache`, logger),
  };
  const ops = createOpsEndpoints({
    service,
    registry: metrics,
    checks: [
      postgresCheck(postgres),
      migrationsCheck(postgres),
      redisCheck('redis', redis.state),
      redisCheck('redis-cache', redis.cache),
      ...extraChecks({ redis }),
    ],
  });
  const shutdown = new Shutdown(logger).listen();
  logger.info(
    {
      profile: config.profile,
      postgres: config.postgres.display,
      redis: config.redis.state.display,
      redisCache: config.redis.cache.display,
    },
    'configuration loaded',
  );
  return {
    config,
    logger,
    metrics,
    postgres,
    redis,
    ops,
    shutdown,
    async closeClients() {
      await Promise.all([
        closeRedisClient(redis.state),
        closeRedisClient(redis.cache),
        postgres.end(),
      ]);
    },
    async listen(server, fields = {}) {
      const { host, port } = config.http;
      try {
        await listen(server, port, host);
        logger.info({ url: `http://${host}:${port}`, ...fields }, `${service} listening`);
      } catch (error) {
        logger.fatal({ err: error, host, port }, `${service} could not listen`);
        await shutdown.run('listen failed', 1);
      }
    },
  };
}
