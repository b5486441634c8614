import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  createTestDatabase,
  HARNESS_APPLICATION_NAME,
  sharedServers,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// The harness's test databases against the shared server: dropping one must not kill the
// sessions its test has just closed (their backends may not have read the Terminate yet on a
// loaded machine), and must not hide a session the test never closed.

const SIGTERM_MASK = 1n << BigInt(15 - 1);

/** Whether a SIGTERM waits for delivery to `pid` (Linux /proc): someone tried to end it. */
function sigtermPending(pid: number): boolean {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const pending = [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].reduce(
    (mask, match) => mask | BigInt(`0x${match[1]}`),
    0n,
  );
  return (pending & SIGTERM_MASK) !== 0n;
}

describe('test databases: drop() waits for closing sessions, and names leaked ones', () => {
  let observer: pg.Client;

  const databaseExists = async (url: string) => {
    const name = new URL(url).pathname.slice(1);
    const found = await observer.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return found.rowCount === 1;
  };

  before(async () => {
    observer = new pg.Client({
      connectionString: sharedServers().postgres.url,
      application_name: 'quad-test-observer',
    });
    await observer.connect();
  });
  after(async () => {
    await observer?.end();
  });

  it('a pool ended while its backend is descheduled: drop waits, the session ends cleanly', async () => {
    const database = await createTestDatabase();
    const pool = new pg.Pool({ connectionString: database.url });
    const errors: Error[] = [];
    pool.on('error', (error) => errors.push(error));
    const client = await pool.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
      ?.pid;
    assert.ok(pid);
    client.release();
    const closed = once(client, 'end');

    const resume = () => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Exited already.
      }
    };
    // What a loaded machine does to a backend: it does not run for a while.
    process.kill(pid, 'SIGSTOP');
    try {
      await pool.end();
      const open = await observer.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      assert.equal(open.rowCount, 1, 'pool.end() resolved with its session still open');

      const dropping = database.drop();
      // Resume the backend once the drop has acted on it (signalled it) or is watching it.
      await waitFor('the drop signalling or watching the stalled session', async () => {
        if (sigtermPending(pid)) return true;
        const watching = await observer.query(
          'SELECT 1 FROM pg_stat_activity WHERE application_name = $1',
          [HARNESS_APPLICATION_NAME],
        );
        return (watching.rowCount ?? 0) > 0;
      });
      resume();
      await dropping;
      await closed;
    } finally {
      resume();
    }
    assert.deepEqual(
      errors.map((error) => error.message),
      [],
      'the closing session was not terminated',
    );
    assert.equal(await databaseExists(database.url), false);
  });

  it('a session the test never closed: terminated so the database goes, and named', async () => {
    const database = await createTestDatabase();
    const forgotten = new pg.Client({
      connectionString: database.url,
      application_name: 'forgotten-client',
    });
    const errors: Array<Error & { code?: string }> = [];
    forgotten.on('error', (error) => errors.push(error));
    await forgotten.connect();
    await forgotten.query('SELECT 1');

    await assert.rejects(
      database.drop({ waitMs: 300 }),
      /1 session\(s\) on quad_test_\w+ still open 300 ms after .*application 'forgotten-client', idle, last query: SELECT 1/,
    );
    assert.equal(await databaseExists(database.url), false);
    await waitFor('the leaked client told', async () => errors.length > 0);
    assert.equal(errors[0]?.code, '57P01', 'terminated by an administrator command');
    await forgotten.end();
  });
});
