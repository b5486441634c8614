import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPostgresUnavailable } from './service-unavailable.js';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('isPostgresUnavailable', () => {
  it('recognises a database that cannot be reached', () => {
    for (const error of [
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('connection failure', '08006'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated unexpectedly'),
      new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'all failed'),
    ]) {
      assert.ok(isPostgresUnavailable(error), error.message);
    }
  });

  it('leaves our own bugs and data errors alone', () => {
    for (const error of [
      withCode('duplicate key value violates unique constraint', '23505'),
      withCode('relation "users" does not exist', '42P01'),
      new TypeError('x is undefined'),
      'a string',
      undefined,
    ]) {
      assert.ok(!isPostgresUnavailable(error), String(error));
    }
  });
});
