import pg from 'pg';
import type { PostgresSettings } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';

export type PostgresPool = pg.Pool;

/** A pg pool with every statement bounded (policy.postgres) and idle-client errors logged. */
export function createPostgresPool(
  settings: PostgresSettings,
  applicationName: string,
  logger: Logger,
): PostgresPool {
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    application_name: applicationName,
    max: policy.postgres.poolMax,
    idleTimeoutMillis: policy.postgres.idleTimeoutMs,
    connectionTimeoutMillis: policy.postgres.connectTimeoutMs,
    statement_timeout: policy.postgres.statementTimeoutMs,
  });
  // An idle client losing its connection (PostgreSQL restart) emits on the pool; unhandled,
  // that would crash the process.
  pool.on('error', (error) => {
    logger.warn({ err: error.message, postgres: settings.display }, 'idle postgres client failed');
  });
  return pool;
}
