import type { Request } from 'express';
import type { z } from 'zod';

/** Where in the request a problem is. */
export type RequestPart = 'params' | 'query' | 'body';

/** One problem with one field, as clients receive it in a validation_failed problem. */
export interface FieldError {
  in: RequestPart;
  /** Dotted path of the field (`members.0.id`); empty for the part as a whole. */
  field: string;
  /** zod's issue code (`too_big`, `invalid_format`, ...) or `unknown_field`. */
  code: string;
  message: string;
}

/** The request does not match its schemas; mapped once to 400 `validation_failed`. */
export class ValidationError extends Error {
  constructor(readonly errors: readonly FieldError[]) {
    super(`invalid request: ${errors.map((e) => `${e.in}.${e.field} ${e.message}`).join('; ')}`);
    this.name = 'ValidationError';
  }
}

/** zod issues in the words of FieldError; an unknown key becomes one error naming it. */
export function fieldErrors(part: RequestPart, error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        in: part,
        field: [...path, key].join('.'),
        code: 'unknown_field',
        message: 'is not a known field',
      }));
    }
    return [{ in: part, field: path.join('.'), code: issue.code, message: issue.message }];
  });
}

export interface RequestSchemas<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
> {
  params?: P;
  query?: Q;
  body?: B;
}

/** The output type of a schema, or undefined when the part has none. */
export type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface ValidRequest<P, Q, B> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/**
 * Parses params, query and body against their schemas and throws one ValidationError listing
 * every problem in all three. A part without a schema must be empty: unknown fields are refused
 * everywhere, not only where a schema says `.strict()`.
 */
export function parseRequest<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
>(schemas: RequestSchemas<P, Q, B>, req: Request): ValidRequest<P, Q, B> {
  const errors: FieldError[] = [];
  const parse = (part: RequestPart, schema: z.ZodType | undefined, value: unknown): unknown => {
    if (schema === undefined) {
      if (!isEmpty(value)) {
        const keys = typeof value === 'object' && value !== null ? Object.keys(value) : [''];
        for (const key of keys) {
          errors.push({
            in: part,
            field: key,
            code: 'unknown_field',
            message: 'is not a known field',
          });
        }
      }
      return undefined;
    }
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    errors.push(...fieldErrors(part, result.error));
    return undefined;
  };
  const params = parse('params', schemas.params, req.params);
  const query = parse('query', schemas.query, req.query);
  const body = parse('body', schemas.body, req.body);
  if (errors.length > 0) throw new ValidationError(errors);
  // Each value is its schema's output (or undefined where there is no schema), which is what
  // Parsed<> says; TypeScript cannot follow that through the generic helper above.
  return { params, query, body } as ValidRequest<P, Q, B>;
}
