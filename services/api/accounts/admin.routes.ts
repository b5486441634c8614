import type { ApiKeyService, UserAccountsService } from '../../../lib/accounts/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import {
  requireCredentials,
  requirePrincipal,
  requireRole,
  requireSession,
  security,
} from '../authentication.js';
import {
  apiKeyListResponse,
  createdApiKeySchema,
  idParams,
  newApiKeyBody,
  newUserBody,
  userSchema,
} from './account.schemas.js';

const adminsOnly = 'Admins only.';

export function adminRoutes(deps: {
  users: UserAccountsService;
  apiKeys: ApiKeyService;
}): ApiRoute[] {
  const { users, apiKeys } = deps;
  // Account administration also works with an admin account's API key (an information system
  // syncing pupils); minting and revoking API keys needs a person's login session, so a leaked
  // key cannot make itself more keys.
  const adminWithAnyCredential = [requireCredentials, requireRole('admin')];
  const adminInPerson = [requireSession, requireRole('admin')];

  return [
    defineRoute({
      method: 'post',
      path: '/admin/users',
      operationId: 'createUser',
      summary: 'Create an account',
      description: `${adminsOnly} The password must pass the strength rules (400 weak_password otherwise).`,
      tags: ['accounts'],
      security: security.any,
      body: newUserBody,
      problems: ['forbidden', 'conflict'],
      success: { status: 201, description: 'Created', body: userSchema },
      authorize: adminWithAnyCredential,
      handle: ({ body }) => users.create(body),
    }),

    defineRoute({
      method: 'post',
      path: '/admin/users/:id/deactivate',
      operationId: 'deactivateUser',
      summary: 'Deactivate an account: its sessions and API keys stop working at once',
      description: `${adminsOnly} Idempotent. Admins cannot deactivate themselves (409).`,
      tags: ['accounts'],
      security: security.any,
      params: idParams,
      problems: ['forbidden', 'not_found', 'conflict'],
      success: { status: 200, description: 'The deactivated account', body: userSchema },
      authorize: adminWithAnyCredential,
      handle: ({ params }, req) => users.deactivate(requirePrincipal(req).userId, params.id),
    }),

    defineRoute({
      method: 'post',
      path: '/admin/api-keys',
      operationId: 'createApiKey',
      summary: 'Create an API key (the key is shown in this response only)',
      description: `${adminsOnly} Needs a login session.`,
      tags: ['accounts'],
      security: security.session,
      body: newApiKeyBody,
      problems: ['forbidden', 'not_found'],
      success: { status: 201, description: 'Created', body: createdApiKeySchema },
      authorize: adminInPerson,
      async handle({ body }, req) {
        const admin = requirePrincipal(req).userId;
        const created = await apiKeys.create({
          name: body.name,
          userId: body.userId ?? admin,
          createdBy: admin,
        });
        return { ...created.apiKey, key: created.key };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/admin/api-keys',
      operationId: 'listApiKeys',
      summary: 'List API keys (never the keys themselves)',
      description: `${adminsOnly} Needs a login session.`,
      tags: ['accounts'],
      security: security.session,
      problems: ['forbidden'],
      success: { status: 200, description: 'All keys, newest first', body: apiKeyListResponse },
      authorize: adminInPerson,
      handle: async () => ({ apiKeys: await apiKeys.list() }),
    }),

    defineRoute({
      method: 'delete',
      path: '/admin/api-keys/:id',
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key: refused from the next request on',
      description: `${adminsOnly} Needs a login session. Idempotent.`,
      tags: ['accounts'],
      security: security.session,
      params: idParams,
      problems: ['forbidden', 'not_found'],
      success: { status: 204, description: 'Revoked' },
      authorize: adminInPerson,
      async handle({ params }) {
        await apiKeys.revoke(params.id);
        return undefined;
      },
    }),
  ];
}
