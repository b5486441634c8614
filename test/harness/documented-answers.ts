import { everyRouteProblems } from '../../lib/http/problem-codes.js';

/*
 * Checks answers of a running api against its own OpenAPI document: the status must be one the
 * route documents, and a problem's `code` one the document lists for that status. The api's
 * hostile-input test checks every answer it gets this way, and test/run.ts checks every answer
 * the integration suite received through the harness's API client (see recordAnswer).
 */

/** Set by test/run.ts: where every answer callApi receives is recorded, with the OpenAPI
 *  document of the api that gave it, for the run's final check against that document. */
export const ANSWERS_DIRECTORY_VARIABLE = 'QUAD_TEST_ANSWERS_DIR';

export interface RecordedAnswer {
  method: string;
  /** The path below /api/v1, as sent (query included). */
  path: string;
  status: number;
  /** The problem's `code`, when the answer is a problem. */
  code?: string;
}

export interface AnswerRecord extends RecordedAnswer {
  /** Names the document file (`<documentId>.document.json`) of the api that answered. */
  documentId: string;
}

interface SchemaNode {
  $ref?: string;
  allOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  enum?: unknown[];
}

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: SchemaNode }> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}

/** The code enum a problem response documents (the Problem, narrowed by an allOf member). */
function documentedCodes(schema: SchemaNode | undefined): string[] | undefined {
  if (!schema) return undefined;
  const own = schema.properties?.code?.enum;
  if (own) return own.map(String);
  for (const member of schema.allOf ?? []) {
    const codes = documentedCodes(member);
    if (codes) return codes;
  }
  return undefined;
}

/** The documented path template a concrete path falls under; literal segments win over
 *  parameters (`/notifications/read-all` over `/notifications/{id}`). */
export function matchRoute(document: OpenApiDocument, path: string): string | undefined {
  // Express routes `/a/b/` as `/a/b` (non-strict routing), and so does this.
  const segments = (path.split('?')[0] ?? '').replace(/(.)\/$/, '$1').split('/');
  let best: { template: string; literals: number } | undefined;
  for (const template of Object.keys(document.paths)) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    let literals = 0;
    const matches = parts.every((part, index) => {
      if (/^\{[^}]+\}$/.test(part)) return (segments[index] ?? '') !== '';
      literals += 1;
      return part === segments[index];
    });
    if (matches && (!best || literals > best.literals)) best = { template, literals };
  }
  return best?.template;
}

/** Why an answer is not documented, or undefined when it is. */
export function undocumentedAnswer(
  document: OpenApiDocument,
  answer: RecordedAnswer,
): string | undefined {
  const method = answer.method.toLowerCase();
  const template = matchRoute(document, answer.path);
  const operation = template === undefined ? undefined : document.paths[template]?.[method];
  const where = `${answer.method.toUpperCase()} ${template ?? answer.path}`;
  const what = `${answer.status}${answer.code ? ` ${answer.code}` : ''}`;
  if (!operation) {
    // No such route: the router's 404, or whatever every request can get before routing.
    const allowed = new Set<string>(['not_found', ...everyRouteProblems]);
    if (answer.code !== undefined && allowed.has(answer.code)) return undefined;
    return `${where} (no documented route) answered ${what}`;
  }
  const response = operation.responses[String(answer.status)];
  if (!response) return `${where} answered ${what}: status not documented`;
  if (answer.code === undefined) {
    if (answer.status >= 400) return `${where} answered ${what} without a problem code`;
    return undefined;
  }
  const codes = documentedCodes(response.content?.['application/problem+json']?.schema);
  if (!codes) return `${where} answered ${what}: the document lists no problem codes for it`;
  if (!codes.includes(answer.code)) {
    return `${where} answered ${what}: code not documented (documented: ${codes.join(', ')})`;
  }
  return undefined;
}
