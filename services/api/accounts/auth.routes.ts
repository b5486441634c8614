import type { RequestHandler } from 'express';
import { Counter, type Registry } from 'prom-client';
import {
  InvalidCredentialsError,
  type SessionService,
  usernameField,
  uuidField,
} from '../../../lib/accounts/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import { type RateLimiter, rateLimitMiddleware } from '../../../lib/rate-limit/index.js';
import {
  AuthenticationRequiredError,
  requirePrincipal,
  requireSession,
  security,
} from '../authentication.js';
import {
  idParams,
  loginBody,
  loginResponse,
  revokedResponse,
  sessionListResponse,
} from './account.schemas.js';

/** The session behind a request made with requireSession in front. */
function currentSession(principal: ReturnType<typeof requirePrincipal>) {
  if (principal.credential.kind !== 'session') throw new AuthenticationRequiredError(false);
  return principal.credential;
}

/** Guard: the session named by the path is the caller's (404 otherwise), decided before the
 *  request is validated. An id that is not a UUID passes on to validation: its 400 tells
 *  nothing about anyone's sessions. */
function requireOwnSession(sessions: SessionService): RequestHandler {
  return async (req, _res, next) => {
    const id = req.params.id;
    if (typeof id === 'string' && uuidField.safeParse(id).success) {
      await sessions.requireOwn(requirePrincipal(req).userId, id);
    }
    next();
  };
}

/** The login-account subject: the username as login will see it, or none for a body that
 *  validation is about to refuse anyway (refused before any hashing either way). */
function loginAccountSubject(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('username' in body)) return undefined;
  const parsed = usernameField.safeParse(body.username);
  return parsed.success ? parsed.data : undefined;
}

export function authRoutes(deps: {
  sessions: SessionService;
  rateLimiter: RateLimiter;
  metrics: Registry;
}): ApiRoute[] {
  const { sessions, rateLimiter } = deps;
  const logins = new Counter({
    name: 'auth_logins_total',
    help: 'Login attempts that reached the password check, by outcome (rate-limited ones never do)',
    labelNames: ['result'] as const,
    registers: [deps.metrics],
  });

  return [
    defineRoute({
      method: 'post',
      path: '/auth/login',
      operationId: 'login',
      summary: 'Log in with username and password; returns a session token',
      description:
        'Limited per address (login-ip) and per account (login-account) before the password is checked. Unknown user, wrong password and deactivated account get the same 401.',
      tags: ['auth'],
      security: security.public,
      body: loginBody,
      success: { status: 200, description: 'Logged in', body: loginResponse },
      // Both limits are checked before the argon2id hash: an attacker cannot make Quad burn a
      // core on hashes it would refuse anyway.
      authorize: [],
      limits: [
        rateLimitMiddleware(rateLimiter, { policy: 'login-ip', subject: (req) => req.ip }),
        rateLimitMiddleware(rateLimiter, {
          policy: 'login-account',
          subject: (req) => loginAccountSubject(req.body),
        }),
      ],
      async handle({ body }, req) {
        try {
          const login = await sessions.login({
            username: body.username,
            password: body.password,
            userAgent: req.get('user-agent'),
            ip: req.ip,
          });
          logins.inc({ result: 'success' });
          return {
            token: login.token,
            session: { ...login.session, current: true },
            user: login.user,
          };
        } catch (error) {
          if (error instanceof InvalidCredentialsError) logins.inc({ result: 'failure' });
          throw error;
        }
      },
    }),

    defineRoute({
      method: 'post',
      path: '/auth/logout',
      operationId: 'logout',
      summary: 'End the current session',
      tags: ['auth'],
      security: security.session,
      problems: ['forbidden'],
      success: { status: 204, description: 'Logged out; the token is refused from now on' },
      authorize: [requireSession],
      async handle(_input, req) {
        const principal = requirePrincipal(req);
        await sessions.revoke(principal.userId, currentSession(principal).sessionId);
        return undefined;
      },
    }),

    defineRoute({
      method: 'get',
      path: '/auth/sessions',
      operationId: 'listSessions',
      summary: 'List my live sessions',
      tags: ['auth'],
      security: security.session,
      problems: ['forbidden'],
      success: {
        status: 200,
        description: 'Live sessions, newest first',
        body: sessionListResponse,
      },
      authorize: [requireSession],
      async handle(_input, req) {
        const principal = requirePrincipal(req);
        const current = currentSession(principal).sessionId;
        const list = await sessions.list(principal.userId);
        return {
          sessions: list.map((session) => ({ ...session, current: session.id === current })),
        };
      },
    }),

    defineRoute({
      method: 'delete',
      path: '/auth/sessions/:id',
      operationId: 'revokeSession',
      summary: 'Revoke one of my sessions',
      tags: ['auth'],
      security: security.session,
      params: idParams,
      problems: ['forbidden', 'not_found'],
      success: { status: 204, description: 'Revoked; its token is refused from the next request' },
      authorize: [requireSession, requireOwnSession(sessions)],
      async handle({ params }, req) {
        await sessions.revoke(requirePrincipal(req).userId, params.id);
        return undefined;
      },
    }),

    defineRoute({
      method: 'delete',
      path: '/auth/sessions',
      operationId: 'revokeAllSessions',
      summary: 'Revoke all my sessions, this one included',
      tags: ['auth'],
      security: security.session,
      problems: ['forbidden'],
      success: {
        status: 200,
        description: 'How many sessions were revoked',
        body: revokedResponse,
      },
      authorize: [requireSession],
      async handle(_input, req) {
        return { revoked: await sessions.revokeAll(requirePrincipal(req).userId) };
      },
    }),
  ];
}
