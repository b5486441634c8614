import { z } from 'zod';
import { policy } from '../policy/policy.js';
import { textField } from '../text/text-field.js';
import { roles } from './account.types.js';

/*
 * The rules for account fields, as zod schemas shared by every entry point (HTTP bodies, the
 * CLI) and by the OpenAPI document. The database CHECK constraints (migrations/0002) say the
 * same, so no writer can bypass them.
 */

/** Lower-cased before it is checked, so `J.Smith` and `j.smith` are the same account. */
export const usernameField = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{1,31}$/, {
    error:
      '2-32 characters: letters, digits, dot, underscore or hyphen, starting with a letter or digit',
  })
  .meta({ description: 'Login name, case-insensitive (stored lower-case)', example: 'j.smith' });

export const emailField = z
  .email({ error: 'must be an email address' })
  .max(254)
  .meta({ example: 'j.smith@school.example' });

export const displayNameField = textField({ max: 80, kind: 'name' }).meta({
  description: 'Name shown to other people',
  example: 'Jo Smith',
});

export const bioField = textField({ min: 0, max: 500, kind: 'multiline' }).meta({
  description: 'A few words about yourself (line breaks allowed)',
});

export const roleField = z.enum(roles).meta({ description: 'What the account may do' });

/** Only the bounds here; strength (lib/accounts/password-strength.ts) needs the other fields. */
export const passwordField = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(policy.accounts.passwords.maxLength)
  .meta({ format: 'password', description: 'Never stored: only its argon2id hash is' });

/** What an API key is called in lists (a name: no control or bidi characters). */
export const apiKeyNameField = textField({ max: 80, kind: 'name' }).meta({
  example: 'Timetable sync',
});

export const uuidField = z.uuid({ error: 'must be a UUID' });
