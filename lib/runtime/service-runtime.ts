import type { Server } from 'node:http';
import { loadOrExit, loadServiceConfig, type ServiceName } from '../config/index.js';
import {
  migrationsCheck,
  postgresCheck,
  type ReadinessCheck,
  redisCheck,
} from '../health/readiness.js';
import { createOpsEndpoints, type OpsEndpoints } from '../http/ops-endpoints.js';
import { listen } from '../lifecycle/http-server.js';
import { Shutdown } from '../lifecycle/shutdown.js';
import { createLogger } from '../observability/logger.js';
import { createMetricsRegistry } from '../observability/metrics.js';
import { isTracingStarted, shutdownTracing } from '../observability/trace-context.js';
import { Runtime } from './runtime.js';

/** A service process' runtime: its clients and parts (Runtime), plus what a long-running
 *  service adds around them: the operational endpoints and the shutdown coordinator. */
export class ServiceRuntime extends Runtime {
  readonly service: ServiceName;
  readonly ops: OpsEndpoints;
  readonly shutdown: Shutdown;

  constructor(
    service: ServiceName,
    extraChecks: (runtime: Runtime) => ReadinessCheck[],
    parts: Pick<Runtime, 'config' | 'logger' | 'metrics'>,
  ) {
    super({ name: service, ...parts });
    this.service = service;
    this.ops = createOpsEndpoints({
      service,
      registry: this.metrics,
      checks: [
        postgresCheck(this.postgres),
        migrationsCheck(this.postgres),
        redisCheck('redis', this.redis.state),
        redisCheck('redis-cache', this.redis.cache),
        ...extraChecks(this),
      ],
    });
    this.shutdown = new Shutdown(this.logger).listen();
  }

  /** Closes the runtime's clients, then exports the spans still buffered (so the last
   *  requests' traces survive a restart). */
  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await shutdownTracing();
    }
  }

  /** Binds `server` to the configured host and port; if that fails (port taken), logs why and
   *  shuts down with exit status 1. */
  async listen(server: Server, fields: Record<string, unknown> = {}): Promise<void> {
    const { host, port } = this.config.http;
    try {
      await listen(server, port, host);
      this.logger.info({ url: `http://${host}:${port}`, ...fields }, `${this.service} listening`);
    } catch (error) {
      this.logger.fatal({ err: error, host, port }, `${this.service} could not listen`);
      await this.shutdown.run('listen failed', 1);
    }
  }
}

/**
 * The start of every service's composition root: validate the configuration (exit 78 listing
 * every problem), then create the logger, metrics, PostgreSQL pool, both Redis command
 * clients, the operational endpoints and the shutdown coordinator. Everything else (breakers,
 * publisher, stores, domain services) the root asks the runtime for. Called only from
 * services' main.ts.
 */
export function startServiceRuntime(
  service: ServiceName,
  extraChecks: (runtime: Runtime) => ReadinessCheck[] = () => [],
): ServiceRuntime {
  const config = loadOrExit(() => loadServiceConfig(service));
  const logger = createLogger(service, config.logLevel);
  const metrics = createMetricsRegistry(service);
  const runtime = new ServiceRuntime(service, extraChecks, { config, logger, metrics });
  logger.info(
    {
      profile: config.profile,
      postgres: config.postgres.display,
      redis: config.redis.state.display,
      redisCache: config.redis.cache.display,
      tracing: isTracingStarted(),
    },
    'configuration loaded',
  );
  return runtime;
}
