import {
  AccountConflictError,
  ApiKeyNotFoundError,
  InvalidCredentialsError,
  SelfDeactivationError,
  SessionNotFoundError,
  UserNotFoundError,
  WeakPasswordError,
} from '../../lib/accounts/index.js';
import { type ProblemMapper, validationProblem } from '../../lib/http/error-handler.js';
import { problemFor } from '../../lib/http/problem-codes.js';
import { AccessDeniedError, AuthenticationRequiredError } from './authentication.js';

/*
 * Domain errors and the api's own authentication errors, mapped to problem+json once, here.
 * Codes are stable: clients switch on them. A "not found" never says whether the thing exists
 * for someone else.
 */

const notFound = (detail: string) => ({
  problem: problemFor('not_found', { detail }),
});

export const authenticationProblems: ProblemMapper = (error) => {
  if (error instanceof AuthenticationRequiredError) {
    return {
      problem: problemFor('unauthorized', {
        detail: error.presentedInvalidCredentials
          ? 'The credentials are malformed, unknown, revoked or expired.'
          : 'This route needs a session token (Authorization: Bearer) or an API key (X-Api-Key).',
      }),
      // RFC 6750 section 3: tell the client which scheme to use (and that its token is bad).
      headers: {
        'WWW-Authenticate': error.presentedInvalidCredentials
          ? 'Bearer realm="quad", error="invalid_token"'
          : 'Bearer realm="quad"',
      },
    };
  }
  if (error instanceof AccessDeniedError) {
    return {
      problem: problemFor('forbidden', { detail: error.reason }),
    };
  }
  return undefined;
};

export const accountProblems: ProblemMapper = (error) => {
  if (error instanceof InvalidCredentialsError) {
    return {
      problem: problemFor('unauthorized', { detail: 'Invalid username or password.' }),
      headers: { 'WWW-Authenticate': 'Bearer realm="quad"' },
    };
  }
  if (error instanceof UserNotFoundError) return notFound('No such user.');
  if (error instanceof SessionNotFoundError) return notFound('No such session.');
  if (error instanceof ApiKeyNotFoundError) return notFound('No such API key.');
  if (error instanceof AccountConflictError) {
    return {
      problem: problemFor('conflict', {
        detail: `An account with this ${error.field} already exists.`,
        field: error.field,
      }),
    };
  }
  if (error instanceof SelfDeactivationError) {
    return {
      problem: problemFor('conflict', { detail: 'Admins cannot deactivate their own account.' }),
    };
  }
  if (error instanceof WeakPasswordError) {
    return {
      problem: validationProblem(
        error.problems.map((message) => ({
          in: 'body',
          field: 'password',
          code: 'weak_password',
          message,
        })),
      ),
    };
  }
  return undefined;
};
