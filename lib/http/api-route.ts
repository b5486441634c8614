import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import { parseRequest, type ValidRequest } from './request-validation.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** OpenAPI security requirements: each object is one accepted way to authenticate, e.g.
 *  `[{ sessionToken: [] }, { apiKey: [] }]` (either); `[]` means the route is public. */
export type SecurityRequirements = ReadonlyArray<Record<string, string[]>>;

/** A schema of named values: path parameters and query strings are always objects. */
export type ObjectSchema = z.ZodType<unknown, Record<string, unknown>>;

/** Everything the OpenAPI document says about a route: the same schemas validate requests. */
export interface RouteSpec {
  method: HttpMethod;
  /** Express-style path relative to the API's base (`/users/:id`). */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: readonly string[];
  security: SecurityRequirements;
  params?: ObjectSchema;
  query?: ObjectSchema;
  body?: z.ZodType;
  success: { status: number; description: string; body?: z.ZodType };
  /** Problem statuses specific to this route (401, 400, 429 and 503 are added where they
   *  apply to every route, see openapi-document.ts). */
  problems: readonly number[];
}

type ResponseOf<R> = R extends z.ZodType ? z.input<R> : undefined;

export interface RouteDefinition<
  P extends ObjectSchema | undefined,
  Q extends ObjectSchema | undefined,
  B extends z.ZodType | undefined,
  R extends z.ZodType | undefined,
> extends Omit<RouteSpec, 'params' | 'query' | 'body' | 'success' | 'problems'> {
  params?: P;
  query?: Q;
  body?: B;
  success: { status: number; description: string; body?: R };
  problems?: readonly number[];
  /** Run in order before validation: authentication and authorization first (a caller without
   *  access learns nothing from validation messages), then rate limits. */
  guards?: readonly RequestHandler[];
  /** Returns the success body (validated input in, domain result out); throws domain errors. */
  handle(
    input: ValidRequest<P, Q, B>,
    req: Request,
    res: Response,
  ): Promise<ResponseOf<R>> | ResponseOf<R>;
}

/** A route ready to mount, with its spec for the OpenAPI document. */
export interface ApiRoute {
  spec: RouteSpec;
  handlers: readonly RequestHandler[];
}

/**
 * Declares a route once: its schemas validate the request (unknown fields refused), shape the
 * response (fields not in the response schema never leave the process) and describe it in the
 * OpenAPI document.
 */
export function defineRoute<
  P extends ObjectSchema | undefined = undefined,
  Q extends ObjectSchema | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  R extends z.ZodType | undefined = undefined,
>(definition: RouteDefinition<P, Q, B, R>): ApiRoute {
  const { guards = [], handle, problems = [], ...spec } = definition;
  const { status, body: responseSchema } = definition.success;
  const handler: RequestHandler = async (req, res) => {
    const input = parseRequest(
      { params: definition.params, query: definition.query, body: definition.body },
      req,
    );
    const result = await handle(input, req, res);
    if (res.headersSent) return;
    if (responseSchema === undefined) {
      res.status(status).end();
      return;
    }
    res.status(status).json(responseSchema.parse(result));
  };
  return { spec: { ...spec, problems }, handlers: [...guards, handler] };
}

export function mountRoutes(router: Router, routes: readonly ApiRoute[]): void {
  for (const route of routes) router[route.spec.method](route.spec.path, ...route.handlers);
}
