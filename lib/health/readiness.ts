import { policy } from '../policy/policy.js';
import { pendingMigrations } from '../postgres/migrations.js';
import type { PostgresPool } from '../postgres/postgres-pool.js';
import type { RedisClient } from '../redis/redis-client.js';

/**
 * A dependency check for /readyz. `critical` checks decide between ready and unavailable;
 * the others only between ready and degraded: PostgreSQL is the source of truth, Redis is the
 * speed layer whose loss slows Quad down but does not stop it.
 */
export interface ReadinessCheck {
  name: string;
  critical: boolean;
  run(): Promise<void>;
}

export type ReadinessStatus = 'ready' | 'degraded' | 'unavailable';

export interface ReadinessReport {
  status: ReadinessStatus;
  checks: Record<string, { ok: boolean; critical: boolean; latencyMs: number; error?: string }>;
}

async function withTimeout(work: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function evaluateReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number = policy.readiness.checkTimeoutMs,
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (check) => {
      const started = performance.now();
      let error: string | undefined;
      try {
        await withTimeout(check.run(), timeoutMs);
      } catch (failure) {
        error = failure instanceof Error ? failure.message : String(failure);
      }
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      return { check, error, latencyMs };
    }),
  );
  const report: ReadinessReport = { status: 'ready', checks: {} };
  for (const { check, error, latencyMs } of results) {
    report.checks[check.name] = {
      ok: error === undefined,
      critical: check.critical,
      latencyMs,
      ...(error === undefined ? {} : { error }),
    };
    if (error === undefined) continue;
    if (check.critical) report.status = 'unavailable';
    else if (report.status === 'ready') report.status = 'degraded';
  }
  return report;
}

export function redisCheck(name: string, client: RedisClient): ReadinessCheck {
  return {
    name,
    critical: false,
    async run() {
      if (client.status !== 'ready') throw new Error(`not connected (${client.status})`);
      const reply = await client.ping();
      if (reply !== 'PONG') throw new Error(`unexpected PING reply ${reply}`);
    },
  };
}

export function postgresCheck(pool: PostgresPool): ReadinessCheck {
  return {
    name: 'postgres',
    critical: true,
    async run() {
      await pool.query('SELECT 1');
    },
  };
}

/** Ready only once the schema this build expects is in place. */
export function migrationsCheck(pool: PostgresPool): ReadinessCheck {
  return {
    name: 'migrations',
    critical: true,
    async run() {
      const pending = await pendingMigrations(pool);
      if (pending.length > 0) throw new Error(`pending: ${pending.join(', ')}`);
    },
  };
}
