import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import type { ProblemCode } from './problem-codes.js';
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
  /** Problem codes specific to this route; the codes every route can answer
   *  (everyRouteProblems) are added by the document, and each code's status comes from the
   *  one table (problem-codes.ts). */
  problems: readonly ProblemCode[];
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
  problems?: readonly ProblemCode[];
  /**
   * Who may call: authentication, role, and access to whatever the path names (membership of
   * the conversation, say). defineRoute runs these first, before a byte of the request is
   * validated, so a caller without access learns nothing, not even which parameters the route
   * takes. Required, and not empty unless the route is public: no route is written without
   * saying who may call it.
   */
  authorize: readonly RequestHandler[];
  /** Rate limits: after authorization (only callers who may call spend the budget), before
   *  validation (an invalid request costs as much as a valid one). */
  limits?: readonly RequestHandler[];
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
  const { authorize, limits = [], handle, problems = [], ...spec } = definition;
  if (spec.security.length > 0 && authorize.length === 0) {
    throw new Error(`${spec.operationId} needs credentials but authorizes no one`);
  }
  const { status, body: responseSchema } = definition.success;
  const conditional = answersConditionally(spec);
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
    const text = JSON.stringify(responseSchema.parse(result));
    if (conditional) {
      // Clients re-read lists, pages and profiles all the time: an unchanged answer is a 304
      // without a body. Weak, from the body: whatever changed in it (a message edited, a member
      // added) changes the validator, so no invalidation can be missed. Private: the answer is
      // the caller's, and no-cache makes every reuse a revalidation.
      const etag = entityTag(text);
      res.setHeader('ETag', etag);
      res.setHeader('Cache-Control', 'private, no-cache');
      if (noneMatch(req.headers['if-none-match'], etag)) {
        res.status(304).end();
        return;
      }
    }
    res.status(status).type('application/json').send(text);
  };
  // The order is this function's, not each route's: authorization, limits, validation, handler.
  return { spec: { ...spec, problems }, handlers: [...authorize, ...limits, handler] };
}

/** GET routes with a 200 body answer conditional requests (If-None-Match) with a 304. */
export function answersConditionally(spec: Pick<RouteSpec, 'method' | 'success'>): boolean {
  return spec.method === 'get' && spec.success.status === 200 && spec.success.body !== undefined;
}

/** A weak entity tag of a JSON body (RFC 9110 §8.8.3): 128 bits of its SHA-256. */
function entityTag(text: string): string {
  return `W/"${createHash('sha256').update(text).digest('base64url').slice(0, 22)}"`;
}

/**
 * If-None-Match evaluated as an origin server does (RFC 9110 §13.1.2, weak comparison): true
 * when the list names `etag` (or is `*`). Not Express's req.fresh, which is a cache's view and
 * says "stale" whenever the request carries Cache-Control: no-cache, which fetch() adds to
 * every request that sets If-None-Match itself: a web client would never get a 304.
 */
function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === wanted);
}

export function mountRoutes(router: Router, routes: readonly ApiRoute[]): void {
  for (const route of routes) router[route.spec.method](route.spec.path, ...route.handlers);
}
