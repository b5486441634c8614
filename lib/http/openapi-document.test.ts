import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { type ApiRoute, defineRoute } from './api-route.js';
import { buildOpenApiDocument } from './openapi-document.js';
import { everyRouteProblems, problemCodes } from './problem-codes.js';

const allow: RequestHandler = (_req, _res, next) => next();

function route(overrides: Partial<Parameters<typeof defineRoute>[0]> = {}): ApiRoute {
  return defineRoute({
    method: 'post',
    path: '/polls/:id/vote',
    operationId: 'vote',
    summary: 'Vote',
    tags: ['polls'],
    security: [{ sessionToken: [] }],
    authorize: [allow],
    params: z.strictObject({ id: z.uuid() }),
    problems: ['not_found', 'poll_closed'],
    success: { status: 204, description: 'Voted' },
    handle: () => undefined,
    ...overrides,
  });
}

interface Documented {
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<
          string,
          {
            content?: Record<
              string,
              { schema: { allOf?: Array<{ properties?: { code?: { enum?: string[] } } }> } }
            >;
          }
        >;
      }
    >
  >;
}

function documentedCodes(routes: ApiRoute[]): Record<string, string[]> {
  const built: unknown = buildOpenApiDocument(routes, {
    title: 't',
    version: '1',
    basePath: '/api/v1',
    securitySchemes: { sessionToken: { type: 'http', scheme: 'bearer' } },
  });
  const document = built as Documented;
  const responses = document.paths['/polls/{id}/vote']?.post?.responses ?? {};
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => [
      status,
      response.content?.['application/problem+json']?.schema.allOf?.[1]?.properties?.code?.enum ??
        [],
    ]),
  );
}

describe('the OpenAPI document lists every status and code a route can answer', () => {
  it('takes each code status from the one table, and adds the codes every route can get', () => {
    const codes = documentedCodes([route()]);
    assert.deepEqual(codes['404'], ['not_found']);
    assert.deepEqual(codes['409'], ['poll_closed']);
    assert.deepEqual(codes['204'], []);
    for (const code of everyRouteProblems) {
      const status = String(problemCodes[code].status);
      assert.ok(codes[status]?.includes(code), `${code} under ${status}`);
    }
    // 401 wherever credentials are read: on every route, public ones too.
    assert.deepEqual(documentedCodes([route({ security: [], authorize: [] })])['401'], [
      'unauthorized',
    ]);
    // Nothing a route cannot answer.
    assert.equal(codes['403'], undefined);
    assert.equal(codes['500'], undefined);
  });
});

describe('defineRoute', () => {
  it('runs authorization, then limits, then validation', () => {
    const authorize: RequestHandler = (_req, _res, next) => next();
    const limit: RequestHandler = (_req, _res, next) => next();
    const { handlers } = route({ authorize: [authorize], limits: [limit] });
    assert.equal(handlers[0], authorize);
    assert.equal(handlers[1], limit);
    assert.equal(handlers.length, 3);
  });

  it('refuses a route that needs credentials but authorizes no one', () => {
    assert.throws(() => route({ authorize: [] }), /authorizes no one/);
  });
});
