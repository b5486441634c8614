import type { Request, RequestHandler } from 'express';
import type { AuthenticatedApiKey, AuthenticatedSession, Role } from '../../lib/accounts/index.js';
import type { SecurityRequirements } from '../../lib/http/api-route.js';

/** Who is making a request, and with which credential. An API key acts as an account. */
export interface Principal {
  userId: string;
  role: Role;
  credential:
    | { kind: 'session'; sessionId: string; tokenHash: string }
    | { kind: 'apiKey'; apiKeyId: string; keyHash: string };
}

/** Checks a presented credential; undefined when it proves nothing. */
export interface Authenticator {
  session(token: string): Promise<AuthenticatedSession | undefined>;
  apiKey(key: string): Promise<AuthenticatedApiKey | undefined>;
}

/** No credential, or one that is malformed, unknown, revoked or expired: 401. */
export class AuthenticationRequiredError extends Error {
  constructor(readonly presentedInvalidCredentials: boolean) {
    super(presentedInvalidCredentials ? 'invalid credentials' : 'authentication required');
    this.name = 'AuthenticationRequiredError';
  }
}

/** Authenticated, but this credential or role may not do this: 403. */
export class AccessDeniedError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'AccessDeniedError';
  }
}

/** OpenAPI security schemes of the api, and the requirements routes declare. */
export const securitySchemes = {
  sessionToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'Session token from POST /auth/login: `Authorization: Bearer <token>`',
  },
  apiKey: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Api-Key',
    description: 'Integration key from POST /admin/api-keys; acts as the account it was made for',
  },
} as const;

export const security = {
  public: [],
  /** Only a login session (managing sessions, minting API keys). */
  session: [{ sessionToken: [] }],
  /** A login session or an API key. */
  any: [{ sessionToken: [] }, { apiKey: [] }],
} as const satisfies Record<string, SecurityRequirements>;

// Per-request state kept beside the request rather than on it: no declaration merging into
// Express' types, and nothing left behind once the request is collected.
const principals = new WeakMap<Request, Principal>();
const invalidCredentials = new WeakSet<Request>();

export function principalOf(req: Request): Principal | undefined {
  return principals.get(req);
}

/** For handlers behind requireCredentials: the principal, which is then always there. */
export function requirePrincipal(req: Request): Principal {
  const principal = principals.get(req);
  if (!principal) throw new AuthenticationRequiredError(false);
  return principal;
}

const bearer = /^Bearer ([^\s]+)$/i;

/**
 * Resolves `Authorization: Bearer <session token>` or `X-Api-Key: <key>` into a principal.
 * Never answers by itself: a request without credentials goes on as anonymous, and one with
 * bad credentials is marked so that rejectInvalidCredentials refuses it after the anonymous
 * rate limit has been spent (a flood of made-up tokens is limited like any anonymous traffic).
 * Warm, this is one Redis GET.
 */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return async (req, _res, next) => {
    const authorization = req.get('authorization');
    const apiKey = req.get('x-api-key');
    if (authorization === undefined && apiKey === undefined) {
      next();
      return;
    }
    // Two credentials at once is ambiguous: which one acts? Refuse rather than guess.
    if (authorization !== undefined && apiKey !== undefined) {
      invalidCredentials.add(req);
      next();
      return;
    }
    if (authorization !== undefined) {
      const token = bearer.exec(authorization)?.[1];
      const session = token === undefined ? undefined : await authenticator.session(token);
      if (session) {
        principals.set(req, {
          userId: session.userId,
          role: session.role,
          credential: {
            kind: 'session',
            sessionId: session.sessionId,
            tokenHash: session.tokenHash,
          },
        });
      } else {
        invalidCredentials.add(req);
      }
    } else if (apiKey !== undefined) {
      const key = await authenticator.apiKey(apiKey);
      if (key) {
        principals.set(req, {
          userId: key.userId,
          role: key.role,
          credential: { kind: 'apiKey', apiKeyId: key.apiKeyId, keyHash: key.keyHash },
        });
      } else {
        invalidCredentials.add(req);
      }
    }
    next();
  };
}

/** Refuses a request whose credentials proved nothing, on every route: a client holding a
 *  revoked or expired token learns so at once, even on a public route. */
export const rejectInvalidCredentials: RequestHandler = (req, _res, next) => {
  next(invalidCredentials.has(req) ? new AuthenticationRequiredError(true) : undefined);
};

/** Guard: any valid credential. */
export const requireCredentials: RequestHandler = (req, _res, next) => {
  next(principals.has(req) ? undefined : new AuthenticationRequiredError(false));
};

/** Guard: a login session (not an API key). */
export const requireSession: RequestHandler = (req, _res, next) => {
  const principal = principals.get(req);
  if (!principal) next(new AuthenticationRequiredError(false));
  else if (principal.credential.kind !== 'session') {
    next(new AccessDeniedError('this route needs a login session, not an API key'));
  } else next();
};

/** Guard: one of these roles (after requireCredentials or requireSession). */
export function requireRole(...allowed: Role[]): RequestHandler {
  return (req, _res, next) => {
    const principal = principals.get(req);
    if (!principal) next(new AuthenticationRequiredError(false));
    else if (!allowed.includes(principal.role)) {
      next(new AccessDeniedError(`this route is for: ${allowed.join(', ')}`));
    } else next();
  };
}
