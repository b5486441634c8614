import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PasswordHasher, type Role, registerAccount } from '../../lib/accounts/index.js';
import {
  ANSWERS_DIRECTORY_VARIABLE,
  type AnswerRecord,
  type RecordedAnswer,
} from './documented-answers.js';

const documentsWritten = new Set<string>();

async function recordAnswer(baseUrl: string, answer: RecordedAnswer): Promise<void> {
  const directory = process.env[ANSWERS_DIRECTORY_VARIABLE];
  if (!directory) return;
  const documentId = `${process.pid}-${createHash('sha256').update(baseUrl).digest('hex').slice(0, 12)}`;
  if (!documentsWritten.has(documentId)) {
    // Once per api and process, right after it answered (so it is up); an answer whose
    // document could not be read is reported as unchecked by the final check, not failed.
    const response = await fetch(`${baseUrl}/api/v1/openapi.json`).catch(() => undefined);
    if (response?.status === 200) {
      writeFileSync(join(directory, `${documentId}.document.json`), await response.text());
      documentsWritten.add(documentId);
    }
  }
  const record: AnswerRecord = { ...answer, documentId };
  appendFileSync(join(directory, `${process.pid}.answers.jsonl`), `${JSON.stringify(record)}\n`);
}

/** The password every test account gets (long enough for the strength rules). */
export const TEST_PASSWORD = 'correct horse battery staple';

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface Credential {
  token?: string;
  apiKey?: string;
}

/** One request to `/api/v1<path>` of a running api, as a client would send it. */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  options: Credential & { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  const reply: Reply = {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
  const code = reply.body.code;
  await recordAnswer(baseUrl, {
    method,
    path,
    status: reply.status,
    ...(reply.status >= 400 && typeof code === 'string' ? { code } : {}),
  });
  return reply;
}

/** Logs in through the API and returns the session token, the session id and the user id. */
export async function loginAs(baseUrl: string, username: string, password = TEST_PASSWORD) {
  const reply = await callApi(baseUrl, 'POST', '/auth/login', { body: { username, password } });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const session = reply.body.session as { id: string };
  const user = reply.body.user as { id: string };
  return { token: String(reply.body.token), sessionId: session.id, userId: user.id };
}

/** Creates an account straight in PostgreSQL, as the admin CLI does. */
export async function createAccount(databaseUrl: string, username: string, role: Role = 'student') {
  const postgres = new pg.Pool({ connectionString: databaseUrl });
  try {
    return await registerAccount(postgres, new PasswordHasher(), {
      username,
      email: `${username}@school.example`,
      displayName: `${username} Example`,
      role,
      password: TEST_PASSWORD,
    });
  } finally {
    await postgres.end();
  }
}

async function createdId(reply: Promise<Reply>, what: string): Promise<string> {
  const { status, body } = await reply;
  assert.equal(status, 201, `${what}: ${JSON.stringify(body)}`);
  return String(body.id);
}

/** Sends a message over HTTP, as a client does (a fresh idempotency key); returns its id. */
export function sendMessage(
  baseUrl: string,
  token: string,
  conversationId: string,
  text: string,
): Promise<string> {
  return createdId(
    callApi(baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
      token,
      body: { body: text, idempotencyKey: crypto.randomUUID() },
    }),
    `send ${text}`,
  );
}

/** Creates a conversation (`body` as POST /conversations takes it); returns its id. */
export function createConversation(baseUrl: string, token: string, body: unknown): Promise<string> {
  return createdId(
    callApi(baseUrl, 'POST', '/conversations', { token, body }),
    'create conversation',
  );
}
