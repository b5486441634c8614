import { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiObject,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { type ApiRoute, answersConditionally, type RouteSpec } from './api-route.js';
import { everyRouteProblems, type ProblemCode, problemCodes } from './problem-codes.js';

/*
 * The OpenAPI 3.1 document, generated from the route table: the zod schemas that validate
 * requests are the ones documented, so the document cannot drift from the code (zod-openapi
 * renders them through zod 4's own JSON Schema conversion).
 */

const fieldErrorSchema = z
  .object({
    in: z.enum(['params', 'query', 'body']),
    field: z.string().meta({ description: 'Dotted path of the field; empty for the whole part' }),
    code: z.string().meta({ description: 'zod issue code, or unknown_field' }),
    message: z.string(),
  })
  .meta({ id: 'FieldError' });

/** RFC 9457 problem details; `code` is the stable identifier clients switch on. */
export const problemSchema = z
  .looseObject({
    type: z.string(),
    status: z.int(),
    code: z.enum(Object.keys(problemCodes) as [ProblemCode, ...ProblemCode[]]).meta({
      description: 'Stable; each response lists the codes it can carry',
    }),
    title: z.string(),
    detail: z.string().optional(),
    errors: z.array(fieldErrorSchema).optional().meta({ description: 'validation_failed only' }),
  })
  .meta({ id: 'Problem' });

const rateLimitHeaders = z.object({
  'Retry-After': z.string().meta({ description: 'Seconds until the request may be retried' }),
  RateLimit: z.string().meta({ description: 'draft-ietf-httpapi-ratelimit-headers' }),
  'RateLimit-Policy': z.string().meta({ description: 'draft-ietf-httpapi-ratelimit-headers' }),
});

const entityTagHeaders = z.object({
  ETag: z.string().meta({
    description: 'Weak validator of this answer: send it back as If-None-Match to get a 304',
  }),
  'Cache-Control': z.string().meta({ description: 'private, no-cache' }),
});

function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** OpenAPI keys responses by status code as text; HTTP statuses are always 1xx-5xx. */
function statusKey(status: number): `${1 | 2 | 3 | 4 | 5}${string}` {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`not an HTTP status: ${status}`);
  }
  return String(status) as `${1 | 2 | 3 | 4 | 5}${string}`;
}

function responses(spec: RouteSpec): ZodOpenApiResponsesObject {
  const conditional = answersConditionally(spec);
  const result: ZodOpenApiResponsesObject = {
    [statusKey(spec.success.status)]: {
      description: spec.success.description,
      ...(spec.success.body
        ? { content: { 'application/json': { schema: spec.success.body } } }
        : {}),
      ...(conditional ? { headers: entityTagHeaders } : {}),
    },
  };
  if (conditional) {
    result['304'] = {
      description:
        'Not modified: the If-None-Match validator matches the current ETag. No body; keep the copy that carried it.',
      headers: entityTagHeaders,
    };
  }
  // Grouped by status, from the one table: a route cannot document a code with a status other
  // than the one the error handler answers it with.
  const codesByStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set<ProblemCode>([...everyRouteProblems, ...spec.problems])) {
    const { status } = problemCodes[code];
    codesByStatus.set(status, [...(codesByStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...codesByStatus].sort(([a], [b]) => a - b)) {
    result[statusKey(status)] = {
      description: codes.map((code) => `${code}: ${problemCodes[code].meaning}`).join('; '),
      content: {
        'application/problem+json': {
          // The shared Problem, narrowed to this response's codes.
          schema: z.intersection(
            problemSchema,
            z.looseObject({ code: z.enum(codes as [ProblemCode, ...ProblemCode[]]) }),
          ),
        },
      },
      ...(codes.includes('rate_limited') ? { headers: rateLimitHeaders } : {}),
    };
  }
  return result;
}

function operation(spec: RouteSpec): ZodOpenApiOperationObject {
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [...spec.tags],
    security: spec.security.map((requirement) => ({ ...requirement })),
    requestParams: {
      ...(spec.params ? { path: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
    },
    ...(spec.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: spec.body } } } }
      : {}),
    responses: responses(spec),
  };
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  /** Where the routes are mounted, e.g. `/api/v1`. */
  basePath: string;
  securitySchemes: NonNullable<ZodOpenApiObject['components']>['securitySchemes'];
}

/** Builds the document once (at start-up); serve the result as JSON. */
export function buildOpenApiDocument(routes: readonly ApiRoute[], info: OpenApiInfo) {
  const paths: ZodOpenApiPathsObject = {};
  for (const { spec } of routes) {
    const path = openApiPath(spec.path);
    paths[path] = { ...paths[path], [spec.method]: operation(spec) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
    },
    servers: [{ url: info.basePath }],
    paths,
    components: { securitySchemes: info.securitySchemes },
  });
}
