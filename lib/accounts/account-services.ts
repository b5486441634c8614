import type { ApiKeyService } from './api-key.service.js';
import type { ProfileService } from './profile.service.js';
import type { SessionService } from './session.service.js';
import type { UserAccountsService } from './user-accounts.service.js';

/** The account services a transport serves (the api's routes, the gateway's handshake). */
export interface AccountServices {
  sessions: SessionService;
  apiKeys: ApiKeyService;
  profiles: ProfileService;
  users: UserAccountsService;
}
