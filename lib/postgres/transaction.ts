import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';

/** A pool for single statements, or one client inside a transaction: repositories take either. */
export type Queryable = Pool | PoolClient;

/**
 * Runs `work` in one transaction on one pooled client: committed if it resolves, rolled back if
 * it throws (and the error rethrown), so a failure midway leaves no partial state.
 */
export async function inTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A dead connection cannot roll back; PostgreSQL aborts the transaction with it anyway,
    // and the client is then destroyed rather than returned to the pool.
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/** The first row a query found, mapped by `map`; null when it found none. */
export function firstRowOrNull<T extends QueryResultRow, R>(
  result: QueryResult<T>,
  map: (row: T) => R,
): R | null {
  const row = result.rows[0];
  return row === undefined ? null : map(row);
}

/** The row an `INSERT ... RETURNING` produced; its absence is a bug, not a state to handle. */
export function returnedRow<T extends QueryResultRow>(result: QueryResult<T>): T {
  const row = result.rows[0];
  if (row === undefined) throw new Error('INSERT ... RETURNING returned no row');
  return row;
}
