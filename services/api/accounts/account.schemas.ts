import { z } from 'zod';
import {
  apiKeyNameField,
  bioField,
  displayNameField,
  emailField,
  passwordField,
  roleField,
  type UserAccount,
  usernameField,
  uuidField,
} from '../../../lib/accounts/index.js';

/*
 * Request and response schemas of the accounts routes. Requests are strict objects (an unknown
 * field is a 400 naming it); responses are plain objects, so that anything a handler returns
 * beyond them (an email in a public profile, say) is dropped before it is sent.
 */

const timestamp = z.iso.datetime();

export const idParams = z.strictObject({ id: uuidField });

export const loginBody = z
  .strictObject({ username: usernameField, password: passwordField })
  .meta({ id: 'LoginRequest' });

/** Your own account. */
export const meSchema = z
  .object({
    id: z.uuid(),
    username: z.string(),
    email: z.string(),
    displayName: z.string(),
    bio: z.string(),
    role: roleField,
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Me' });

/** Anyone's public profile: no email. */
export const profileSchema = z
  .object({
    id: z.uuid(),
    username: z.string(),
    displayName: z.string(),
    bio: z.string(),
    role: roleField,
    active: z.boolean().meta({ description: 'false once an admin has deactivated the account' }),
  })
  .meta({ id: 'Profile' });

export function toProfile(account: UserAccount): z.input<typeof profileSchema> {
  return { ...account, active: account.deactivatedAt === null };
}

/** An account as admins see it. */
export const userSchema = meSchema
  .extend({ deactivatedAt: timestamp.nullable() })
  .meta({ id: 'User' });

export const sessionSchema = z
  .object({
    id: z.uuid(),
    createdAt: timestamp,
    expiresAt: timestamp,
    lastSeenAt: timestamp.meta({ description: 'Accurate to about a minute' }),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    current: z.boolean().meta({ description: 'The session making this request' }),
  })
  .meta({ id: 'Session' });

export const loginResponse = z
  .object({
    token: z.string().meta({ description: 'Bearer token; shown once, stored only hashed' }),
    session: sessionSchema,
    user: meSchema,
  })
  .meta({ id: 'Login' });

export const sessionListResponse = z.object({ sessions: z.array(sessionSchema) });
export const revokedResponse = z.object({ revoked: z.int().min(0) });

export const profilePatchBody = z
  .strictObject({ displayName: displayNameField.optional(), bio: bioField.optional() })
  .refine((patch) => patch.displayName !== undefined || patch.bio !== undefined, {
    error: 'give at least one of displayName, bio',
  })
  .meta({ id: 'ProfilePatch' });

export const newUserBody = z
  .strictObject({
    username: usernameField,
    email: emailField,
    displayName: displayNameField,
    role: roleField,
    password: passwordField,
  })
  .meta({ id: 'NewUser' });

export const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().meta({ description: 'First characters of the key, to tell keys apart' }),
    userId: z.uuid().meta({ description: 'The account the key acts as' }),
    createdBy: z.uuid(),
    createdAt: timestamp,
    revokedAt: timestamp.nullable(),
    lastUsedAt: timestamp.nullable().meta({ description: 'Accurate to about a minute' }),
  })
  .meta({ id: 'ApiKey' });

export const newApiKeyBody = z
  .strictObject({
    name: apiKeyNameField,
    userId: uuidField.optional().meta({
      description: 'Account the key acts as (a bot account, say); default: yourself',
    }),
  })
  .meta({ id: 'NewApiKey' });

export const createdApiKeySchema = apiKeySchema
  .extend({ key: z.string().meta({ description: 'The key itself: shown once, never again' }) })
  .meta({ id: 'CreatedApiKey' });

export const apiKeyListResponse = z.object({ apiKeys: z.array(apiKeySchema) });
