import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import { type Problem, sendProblem } from './problem.js';
import { problemFor } from './problem-codes.js';
import { type FieldError, ValidationError } from './request-validation.js';
import { isPostgresUnavailable } from './service-unavailable.js';

/** A problem to answer with, and headers that go with it (WWW-Authenticate, Retry-After). */
export interface MappedProblem {
  problem: Problem;
  headers?: Record<string, string>;
}

/** Maps the errors one capability knows (its domain errors) to problems; undefined for the
 *  rest. Each capability contributes one at the edge, so domain code never speaks HTTP. */
export type ProblemMapper = (error: unknown) => MappedProblem | undefined;

/** 400 validation_failed listing every field error. */
export function validationProblem(errors: readonly FieldError[]): Problem {
  return problemFor('validation_failed', {
    detail:
      errors.length === 1
        ? 'One field is invalid; see errors.'
        : `${errors.length} fields are invalid; see errors.`,
    errors,
  });
}

/** 400 validation_failed for a `cursor` query parameter that `list` did not hand out. */
export function invalidCursorProblem(list: string): Problem {
  return validationProblem([
    { in: 'query', field: 'cursor', code: 'invalid_cursor', message: `is not a cursor of ${list}` },
  ]);
}

/** body-parser's and the router's errors carry a `type` and a 4xx `status`. */
function bodyParserProblem(error: unknown): Problem | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, status } = error as { type?: unknown; status?: unknown };
  if (type === 'entity.parse.failed') {
    return validationProblem([
      { in: 'body', field: '', code: 'invalid_json', message: 'is not valid JSON' },
    ]);
  }
  if (type === 'entity.too.large') {
    return problemFor('payload_too_large', {
      detail: `Request bodies are limited to ${policy.http.maxJsonBodyBytes} bytes.`,
    });
  }
  const detail = error instanceof Error ? error.message : undefined;
  // A charset other than UTF-8, or a Content-Encoding the reader does not know.
  if (status === 415) return problemFor('unsupported_media_type', { detail });
  // Anything else the client got wrong (a path that is not valid percent-encoding, an aborted
  // body): a 400 with one code, so that every status the api answers is in the table.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return problemFor('bad_request', { detail });
  }
  return undefined;
}

/**
 * The api's one place where errors become responses (RFC 9457 problem+json with a stable
 * `code`): validation errors, the capabilities' domain errors (through `mappers`), malformed
 * bodies, PostgreSQL being unreachable (503 service_unavailable: retry later), and anything
 * else as a logged 500 that reveals nothing.
 */
export function problemErrorHandler(options: {
  logger: Logger;
  mappers: readonly ProblemMapper[];
}): ErrorRequestHandler {
  const { logger, mappers } = options;
  // Express recognises error handlers by their four parameters.
  return (error: unknown, req, res, _next) => {
    let mapped: MappedProblem | undefined;
    if (error instanceof ValidationError) {
      mapped = { problem: validationProblem(error.errors) };
    }
    for (const mapper of mappers) {
      if (mapped) break;
      mapped = mapper(error);
    }
    if (!mapped) {
      const problem = bodyParserProblem(error);
      if (problem) mapped = { problem };
    }
    if (!mapped && isPostgresUnavailable(error)) {
      logger.warn(
        { err: error instanceof Error ? error.message : String(error), path: req.path },
        'request failed: postgres unavailable',
      );
      mapped = {
        problem: problemFor('service_unavailable', {
          detail: 'The database cannot be reached; nothing was changed. Retry shortly.',
        }),
        headers: { 'Retry-After': String(policy.http.unavailableRetryAfterSeconds) },
      };
    }
    if (!mapped) {
      logger.error({ err: error, method: req.method, path: req.path }, 'unhandled request error');
      mapped = { problem: problemFor('internal_error') };
    }
    for (const [name, value] of Object.entries(mapped.headers ?? {})) res.setHeader(name, value);
    sendProblem(res, mapped.problem);
  };
}
