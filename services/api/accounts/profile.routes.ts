import type { RequestHandler } from 'express';
import { type ProfileService, uuidField } from '../../../lib/accounts/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import { requireCredentials, requirePrincipal, security } from '../authentication.js';
import {
  idParams,
  meSchema,
  profilePatchBody,
  profileSchema,
  toProfile,
} from './account.schemas.js';

/** Guard: the account named by the path exists (404 otherwise), decided before the request is
 *  validated, as every route that names a resource does. A warm profile is one cache read, and
 *  the handler's own read of it is then a second hit. */
function requireExistingUser(profiles: ProfileService): RequestHandler {
  return async (req, _res, next) => {
    const id = req.params.id;
    if (typeof id === 'string' && uuidField.safeParse(id).success) await profiles.get(id);
    next();
  };
}

export function profileRoutes(deps: { profiles: ProfileService }): ApiRoute[] {
  const { profiles } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/me',
      operationId: 'getMe',
      summary: 'My account',
      tags: ['profiles'],
      security: security.any,
      success: { status: 200, description: 'My account', body: meSchema },
      authorize: [requireCredentials],
      handle: (_input, req) => profiles.get(requirePrincipal(req).userId),
    }),

    defineRoute({
      method: 'patch',
      path: '/me',
      operationId: 'updateMe',
      summary: 'Update my profile',
      tags: ['profiles'],
      security: security.any,
      body: profilePatchBody,
      success: { status: 200, description: 'The updated account', body: meSchema },
      authorize: [requireCredentials],
      handle: ({ body }, req) => profiles.update(requirePrincipal(req).userId, body),
    }),

    defineRoute({
      method: 'get',
      path: '/users/:id',
      operationId: 'getProfile',
      summary: "Anyone's public profile (cached)",
      description: 'Every account of the institution can see every profile; emails stay private.',
      tags: ['profiles'],
      security: security.any,
      params: idParams,
      problems: ['not_found'],
      success: { status: 200, description: 'The profile', body: profileSchema },
      authorize: [requireCredentials, requireExistingUser(profiles)],
      handle: async ({ params }) => toProfile(await profiles.get(params.id)),
    }),
  ];
}
