export type {
  ApiKeyIdentity,
  ApiKeySummary,
  Role,
  SessionIdentity,
  SessionSummary,
  UserAccount,
} from './account.types.js';
export { roles } from './account.types.js';
export type { AccountCaches } from './account-caches.js';
export {
  AccountConflictError,
  ApiKeyNotFoundError,
  InvalidCredentialsError,
  SelfDeactivationError,
  SessionNotFoundError,
  UserNotFoundError,
  WeakPasswordError,
} from './account-errors.js';
export { type AccountEvents, noAccountEvents } from './account-events.js';
export {
  apiKeyNameField,
  bioField,
  displayNameField,
  emailField,
  passwordField,
  roleField,
  usernameField,
  uuidField,
} from './account-fields.js';
export type { AccountServices } from './account-services.js';
export {
  ApiKeyService,
  type AuthenticatedApiKey,
  type NewApiKeyRequest,
} from './api-key.service.js';
export { type Argon2idParameters, PasswordHasher } from './password-hasher.js';
export { passwordProblems } from './password-strength.js';
export { type ProfileChanges, ProfileService } from './profile.service.js';
export {
  type AuthenticatedSession,
  type LoginAttempt,
  type NewLogin,
  SessionService,
} from './session.service.js';
export { type NewAccount, registerAccount, UserAccountsService } from './user-accounts.service.js';
