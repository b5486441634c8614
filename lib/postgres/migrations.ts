import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../observability/logger.js';
import type { PostgresPool } from './postgres-pool.js';

/** node-pg-migrate's bookkeeping table. */
export const MIGRATIONS_TABLE = 'pgmigrations';

/**
 * The versioned SQL migrations ship at the project root (`migrations/`), both in the source
 * tree and in the image; found by walking up from this module so it works from `lib/` under
 * tsx and from `dist/lib/` after a build.
 */
export function migrationsDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) {
      return join(dir, 'migrations');
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('migrations/ directory not found above lib/postgres');
    dir = parent;
  }
}

/** Migration names as node-pg-migrate records them: file names without `.sql`. */
export function migrationNames(directory = migrationsDirectory()): string[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => file.slice(0, -'.sql'.length))
    .sort();
}

/**
 * Applies every pending migration, each in its own transaction, under node-pg-migrate's
 * advisory lock so concurrent starters (several replicas, the compose one-shot) do not race.
 * Returns the names applied.
 */
export async function runMigrations(
  connectionString: string,
  logger: Logger,
  directory = migrationsDirectory(),
): Promise<string[]> {
  const applied = await runner({
    databaseUrl: connectionString,
    dir: directory,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    count: Number.POSITIVE_INFINITY,
    checkOrder: true,
    singleTransaction: false,
    // A second starter waits for the first instead of failing, then finds nothing to do.
    advisoryLockMode: 'wait',
    logger: {
      debug: (msg: string) => logger.debug(msg),
      info: (msg: string) => logger.info(msg),
      warn: (msg: string) => logger.warn(msg),
      error: (msg: string) => logger.error(msg),
    },
  });
  return applied.map((m) => m.name);
}

/** Names of migrations present on disk but not yet applied to the database. */
export async function pendingMigrations(
  pool: PostgresPool,
  directory = migrationsDirectory(),
): Promise<string[]> {
  const exists = await pool.query<{ present: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AS present',
    [MIGRATIONS_TABLE],
  );
  const known = migrationNames(directory);
  if (!exists.rows[0]?.present) return known;
  const rows = await pool.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  const applied = new Set(rows.rows.map((row) => row.name));
  return known.filter((name) => !applied.has(name));
}
