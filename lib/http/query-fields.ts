import { z } from 'zod';

/**
 * An integer in a query string: plain decimal digits only. `Number()` (what z.coerce uses)
 * also reads `0x10`, `+5`, `1e2`, ` 7 ` and `05`; a query that means one thing to one client
 * and another to a proxy or cache is refused instead. At most 9 digits, so it is always a safe
 * integer before the bounds are checked.
 */
export function queryIntegerField(options: { min: number; max: number; default: number }) {
  const { min, max } = options;
  return z
    .string()
    .regex(/^(?:0|[1-9][0-9]{0,8})$/, { error: 'must be a whole number in plain decimal digits' })
    .transform(Number)
    .pipe(
      z
        .int()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    )
    .optional()
    .default(options.default)
    .meta({ description: `${min} to ${max}; default ${options.default}` });
}
