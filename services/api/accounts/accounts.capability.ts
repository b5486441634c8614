import type { Registry } from 'prom-client';
import type { AccountServices } from '../../../lib/accounts/index.js';
import type { RateLimiter } from '../../../lib/rate-limit/index.js';
import type { ApiCapability } from '../api-capability.js';
import { accountProblems } from '../api-errors.js';
import type { Authenticator } from '../authentication.js';
import { adminRoutes } from './admin.routes.js';
import { authRoutes } from './auth.routes.js';
import { profileRoutes } from './profile.routes.js';

/** How the api checks credentials: sessions and API keys of the accounts domain. */
export function accountsAuthenticator(services: AccountServices): Authenticator {
  return {
    session: (token) => services.sessions.authenticate(token),
    apiKey: (key) => services.apiKeys.authenticate(key),
  };
}

/** Accounts, sessions, profiles and API keys (docs/api.md, "Authentication"). */
export function accountsCapability(
  services: AccountServices,
  deps: { rateLimiter: RateLimiter; metrics: Registry },
): ApiCapability {
  return {
    name: 'accounts',
    routes: [
      ...authRoutes({ sessions: services.sessions, ...deps }),
      ...profileRoutes({ profiles: services.profiles }),
      ...adminRoutes({ users: services.users, apiKeys: services.apiKeys }),
    ],
    problems: accountProblems,
  };
}
