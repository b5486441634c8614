import assert from 'node:assert/strict';
import { type Credential, callApi, type Reply } from './api-client.js';

/**
 * The "stranger table" every capability's tests keep: each route, called by each kind of caller
 * who must not reach it, answers a bare problem and no data; and the table covers every route
 * the OpenAPI document lists under the capability's tags, so a new route without a row fails.
 */
export interface AccessRow<Who extends string> {
  method: string;
  /** The concrete path called. */
  path: string;
  /** The path template as the OpenAPI document names it. */
  route: string;
  /** Expected status per caller; absent = allowed for that caller (not exercised here). */
  expect: Partial<Record<Who, number>>;
}

/** A problem+json answer that carries no data: only the problem's own fields. */
export function assertBareProblem(reply: Reply, status: number, context: string): void {
  assert.equal(reply.status, status, `${context}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.headers.get('content-type'), 'application/problem+json', context);
  const allowed = new Set(['type', 'status', 'code', 'title', 'detail']);
  for (const key of Object.keys(reply.body)) assert.ok(allowed.has(key), `${context}: ${key}`);
}

/** Calls every row as every listed caller and asserts the bare problem it expects. */
export async function assertAccessTable<Who extends string>(
  baseUrl: string,
  table: readonly AccessRow<Who>[],
  credentials: Record<Who, Credential>,
): Promise<void> {
  for (const row of table) {
    for (const [who, status] of Object.entries(row.expect) as Array<[Who, number]>) {
      // Bodies and queries that are invalid, so a 400 would betray that validation ran before
      // the authorization check (and tell a stranger which parameters the route takes).
      const body = ['POST', 'PATCH'].includes(row.method) ? { unexpected: true } : undefined;
      const path = `${row.path}${row.path.includes('?') ? '&' : '?'}zzz=1`;
      const reply = await callApi(baseUrl, row.method, path, { ...credentials[who], body });
      assertBareProblem(reply, status, `${row.method} ${row.path} as ${who}`);
    }
  }
}

/** The table names exactly the routes the OpenAPI document lists under `tags`. */
export async function assertTableCoversTags<Who extends string>(
  baseUrl: string,
  table: readonly AccessRow<Who>[],
  tags: readonly string[],
): Promise<void> {
  const document = (await callApi(baseUrl, 'GET', '/openapi.json')).body as {
    paths: Record<string, Record<string, { tags: string[] }>>;
  };
  const ownTags = new Set(tags);
  const documented = Object.entries(document.paths)
    .flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, operation]) => operation.tags.some((tag) => ownTags.has(tag)))
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
  const tested = [...new Set(table.map((row) => `${row.method} ${row.route}`))].sort();
  assert.deepEqual(tested, documented);
}
