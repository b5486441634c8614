/*
 * What can go wrong in the accounts domain, as small named classes. Domain code throws these
 * and never an HTTP status: the api edge maps them to problem+json once
 * (services/api/api-errors.ts), and the CLI maps them to exit codes.
 */

/** Unknown username, wrong password or deactivated account: deliberately indistinguishable. */
export class InvalidCredentialsError extends Error {
  constructor() {
    super('invalid username or password');
    this.name = 'InvalidCredentialsError';
  }
}

export class UserNotFoundError extends Error {
  constructor(readonly userId: string) {
    super(`no user ${userId}`);
    this.name = 'UserNotFoundError';
  }
}

export class SessionNotFoundError extends Error {
  constructor(readonly sessionId: string) {
    super(`no session ${sessionId}`);
    this.name = 'SessionNotFoundError';
  }
}

export class ApiKeyNotFoundError extends Error {
  constructor(readonly apiKeyId: string) {
    super(`no API key ${apiKeyId}`);
    this.name = 'ApiKeyNotFoundError';
  }
}

/** A username or email already belongs to another account. */
export class AccountConflictError extends Error {
  constructor(readonly field: 'username' | 'email') {
    super(`an account with this ${field} already exists`);
    this.name = 'AccountConflictError';
  }
}

/** An admin tried to deactivate their own account: refused so that the last admin cannot lock
 *  everyone out of administration. */
export class SelfDeactivationError extends Error {
  constructor() {
    super('admins cannot deactivate their own account');
    this.name = 'SelfDeactivationError';
  }
}

/** The password fails the strength rules; `problems` says why, in words a person can act on. */
export class WeakPasswordError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`weak password: ${problems.join('; ')}`);
    this.name = 'WeakPasswordError';
  }
}
