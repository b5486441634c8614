import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../lib/observability/logger.js';
import { migrationNames, pendingMigrations, runMigrations } from '../../lib/postgres/migrations.js';
import { createTestDatabase } from '../harness/test-environment.js';

describe('migrations (node-pg-migrate, versioned SQL)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: pg.Pool;
  const logger = createLogger('test', 'silent');

  before(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url });
  });
  after(async () => {
    await pool.end();
    await database.drop();
  });

  it('reports every migration as pending on an empty database', async () => {
    const names = migrationNames();
    assert.ok(names.length > 0);
    assert.deepEqual(await pendingMigrations(pool), names);
  });

  it('applies them once even when two runners start together', async () => {
    const [first, second] = await Promise.all([
      runMigrations(database.url, logger),
      runMigrations(database.url, logger),
    ]);
    assert.deepEqual([...first, ...second].sort(), migrationNames());
    assert.deepEqual(await pendingMigrations(pool), []);
    const rows = await pool.query('SELECT name FROM pgmigrations ORDER BY name');
    assert.deepEqual(
      rows.rows.map((row) => row.name),
      migrationNames(),
    );
  });

  it('is a no-op when re-run', async () => {
    assert.deepEqual(await runMigrations(database.url, logger), []);
  });

  it('created the foundation schema', async () => {
    await pool.query(
      `INSERT INTO institution_settings (key, value) VALUES ('retention.days', '365')`,
    );
    await assert.rejects(
      pool.query(`INSERT INTO institution_settings (key, value) VALUES ('Bad Key', '1')`),
      /check constraint/,
    );
  });
});
