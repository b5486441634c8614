import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { z } from 'zod';
import { parseRequest, ValidationError } from './request-validation.js';

/** The three parts parseRequest reads, as Express would hand them over. */
function request(parts: { params?: object; query?: object; body?: unknown }): Request {
  return { params: {}, query: {}, ...parts } as Request;
}

function errorsOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    return error.errors.map((e) => `${e.in}.${e.field}:${e.code}`);
  }
  assert.fail('expected a ValidationError');
}

describe('parseRequest', () => {
  const schemas = {
    params: z.strictObject({ id: z.uuid() }),
    query: z.strictObject({ limit: z.coerce.number().int().max(100).optional() }),
    body: z.strictObject({ name: z.string().min(1), tags: z.array(z.string().max(3)).optional() }),
  };

  it('returns the parsed parts', () => {
    const id = crypto.randomUUID();
    const input = parseRequest(
      schemas,
      request({ params: { id }, query: { limit: '20' }, body: { name: 'x' } }),
    );
    assert.deepEqual(input, { params: { id }, query: { limit: 20 }, body: { name: 'x' } });
  });

  it('lists every problem in every part at once, unknown fields by name', () => {
    const errors = errorsOf(() =>
      parseRequest(
        schemas,
        request({
          params: { id: 'nope' },
          query: { limit: '500', sort: 'asc' },
          body: { name: '', tags: ['toolong'], admin: true },
        }),
      ),
    );
    assert.deepEqual(errors, [
      'params.id:invalid_format',
      'query.limit:too_big',
      'query.sort:unknown_field',
      'body.name:too_small',
      'body.tags.0:too_big',
      'body.admin:unknown_field',
    ]);
  });

  it('refuses content in a part that has no schema', () => {
    assert.deepEqual(
      errorsOf(() => parseRequest({}, request({ query: { debug: '1' }, body: { x: 1 } }))),
      ['query.debug:unknown_field', 'body.x:unknown_field'],
    );
    assert.deepEqual(parseRequest({}, request({ body: {} })), {
      params: undefined,
      query: undefined,
      body: undefined,
    });
  });

  it('says so when a body is missing altogether', () => {
    assert.deepEqual(
      errorsOf(() => parseRequest({ body: schemas.body }, request({}))),
      ['body.:invalid_type'],
    );
  });
});
