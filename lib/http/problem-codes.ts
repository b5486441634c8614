/*
 * Every stable problem `code` Quad answers with, its HTTP status and title, and its name in a
 * socket ack where the gateway says it differently: the one table that the api's error handler,
 * the socket gateway's acks and the OpenAPI document all read. A code not in this table does
 * not type-check as a Problem's code, and the document lists, for each route and status, the
 * codes of this table it can answer.
 */

interface ProblemCodeEntry {
  status: number;
  title: string;
  /** What it means to a client, for the OpenAPI document. */
  meaning: string;
  /** The socket ack's code, where it is not the same word (the gateway's codes predate this
   *  table and clients switch on them). */
  ack?: string;
}

export const problemCodes = {
  validation_failed: {
    status: 400,
    title: 'Validation Failed',
    meaning: 'the request does not match its schema; `errors` lists every field',
    ack: 'invalid_payload',
  },
  bad_request: {
    status: 400,
    title: 'Bad Request',
    meaning: 'the request is not well-formed HTTP (a path that is not valid percent-encoding)',
  },
  unauthorized: {
    status: 401,
    title: 'Unauthorized',
    meaning: 'missing, malformed, unknown, revoked or expired credentials',
  },
  forbidden: { status: 403, title: 'Forbidden', meaning: 'authenticated, but not allowed' },
  not_found: {
    status: 404,
    title: 'Not Found',
    meaning: 'no such resource, or not yours to see',
  },
  request_timeout: {
    status: 408,
    title: 'Request Timeout',
    meaning: 'the request took too long to arrive',
  },
  conflict: { status: 409, title: 'Conflict', meaning: 'conflicts with the current state' },
  poll_closed: { status: 409, title: 'Conflict', meaning: 'the poll is closed' },
  delivery_not_dead: {
    status: 409,
    title: 'Conflict',
    meaning: 'only a dead delivery can be retried',
  },
  too_many_webhooks: { status: 409, title: 'Conflict', meaning: 'delete a webhook first' },
  payload_too_large: { status: 413, title: 'Payload Too Large', meaning: 'request body too large' },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported Media Type',
    meaning: 'a body in a charset other than UTF-8, or an unknown Content-Encoding',
  },
  rate_limited: {
    status: 429,
    title: 'Too Many Requests',
    meaning: 'rate limited; see Retry-After and RateLimit',
  },
  request_headers_too_large: {
    status: 431,
    title: 'Request Header Fields Too Large',
    meaning: 'request line and headers over 16 KB',
  },
  internal_error: {
    status: 500,
    title: 'Internal Server Error',
    meaning: 'a bug; logged, never expected',
    ack: 'internal',
  },
  service_unavailable: {
    status: 503,
    title: 'Service Unavailable',
    meaning: 'PostgreSQL unreachable; nothing was changed; see Retry-After',
    ack: 'unavailable',
  },
  calls_unavailable: {
    status: 503,
    title: 'Calls Unavailable',
    meaning:
      'the call’s live state (its media key) cannot be reached right now; nothing was changed; see Retry-After',
  },
  presence_unavailable: {
    status: 503,
    title: 'Presence Unavailable',
    meaning: 'presence cannot be read right now; see Retry-After',
  },
} as const satisfies Record<string, ProblemCodeEntry>;

export type ProblemCode = keyof typeof problemCodes;

/** Problems any request can get, whatever its route: from the parser, the body reader, the
 *  credentials check (which runs on public routes too), the rate limits and PostgreSQL. */
export const everyRouteProblems = [
  'validation_failed',
  'bad_request',
  'unauthorized',
  'request_timeout',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'request_headers_too_large',
  'service_unavailable',
] as const satisfies readonly ProblemCode[];

export function isProblemCode(code: string): code is ProblemCode {
  return Object.hasOwn(problemCodes, code);
}

/** The problem for `code`, with its table status and title. */
export function problemFor<C extends ProblemCode>(
  code: C,
  extra: { detail?: string; [extension: string]: unknown } = {},
) {
  const { status, title } = problemCodes[code];
  return { ...extra, status, code, title };
}

type Entry = (typeof problemCodes)[ProblemCode];
type AckName<C extends ProblemCode> = (typeof problemCodes)[C] extends { ack: infer A } ? A : C;
/** A problem code as a socket ack names it. */
export type AckCodeOf<C extends ProblemCode> = C extends ProblemCode ? AckName<C> : never;

export function ackCodeOf<C extends ProblemCode>(code: C): AckCodeOf<C> {
  const entry: Entry = problemCodes[code];
  return ('ack' in entry ? entry.ack : code) as AckCodeOf<C>;
}
