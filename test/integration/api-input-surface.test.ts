import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import {
  type Credential,
  callApi,
  createAccount,
  loginAs,
  type Reply,
  TEST_PASSWORD,
} from '../harness/api-client.js';
import {
  matchRoute,
  type OpenApiDocument,
  undocumentedAnswer,
} from '../harness/documented-answers.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import { createTestDatabase, serviceEnvironment, uniqueName } from '../harness/test-environment.js';

// The api's whole input surface, walked from its own OpenAPI document so that a new route is
// covered the day it is added: every string field of every route gets strings PostgreSQL cannot
// store (NUL, every C0 control, lone surrogates) and other hostile text, and no answer may be a
// 5xx; every route is also called anonymously, as a stranger, with a body in a charset other
// than UTF-8, with an unknown Content-Encoding, with a malformed path, and with loose numbers,
// and every answer's status and problem code must be in the document.

/** One call of a route: its path parameters, query and body, and who makes it. */
interface Call {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  as: Credential;
}

interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  schema?: JsonSchema;
}

interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

interface Document extends OpenApiDocument {
  paths: Record<string, Record<string, Operation & OpenApiDocument['paths'][string][string]>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/** A string field of a route: where it is, and its path inside the body. */
type StringField =
  | { in: 'path' | 'query'; name: string }
  | { in: 'body'; path: Array<string | number> };

const controls = Array.from({ length: 32 }, (_, code) => String.fromCharCode(code));
/** Strings no field may answer with a 5xx: each C0 control (NUL first), DEL and a C1 control,
 *  lone surrogates, bidi overrides, and text that is merely unusual (emoji, combining marks,
 *  quotes, long, empty, blank). */
const hostileStrings = [
  ...controls.map((control) => `a${control}b`),
  'a\u007fb',
  'a\u0085b',
  '\ud800',
  'x\udfffy',
  'gnp\u202Eexe',
  '\u2066isolated\u2069',
  '😀',
  'e\u0301\u0301\u0301',
  "'; DROP TABLE users; --",
  '%00',
  '',
  '   ',
  'x'.repeat(5_000),
];

/** Percent-encodes like encodeURIComponent, but a lone surrogate (which that refuses) goes as
 *  the bytes a careless client would send: its CESU-8 form, which is not UTF-8. */
function encodeComponent(value: string): string {
  return Array.from(value, (char) => {
    try {
      return encodeURIComponent(char);
    } catch {
      const code = char.charCodeAt(0);
      const bytes = [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)];
      return bytes.map((byte) => `%${byte.toString(16).toUpperCase()}`).join('');
    }
  }).join('');
}

function fillPath(template: string, params: Record<string, string>, raw = false): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params[name];
    assert.ok(value !== undefined, `no value for path parameter ${name} of ${template}`);
    return raw ? value : encodeComponent(value);
  });
}

function queryString(query: Record<string, string>): string {
  const pairs = Object.entries(query).map(
    ([name, value]) => `${encodeComponent(name)}=${encodeComponent(value)}`,
  );
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** One HTTP request as bytes on the wire: fetch() refuses a body on GET, and header limits are
 *  the server's to enforce, not the client's. */
function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawAnswer> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: Number(port), method: method.toUpperCase(), path, headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') answerHeaders.set(name, value);
          }
          resolve({ status: res.statusCode ?? 0, headers: answerHeaders, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Every string field an operation documents, in its parameters and its JSON body. */
function stringFields(document: Document, operation: Operation): StringField[] {
  const fields: StringField[] = [];
  for (const parameter of operation.parameters ?? []) {
    if ((parameter.in === 'path' || parameter.in === 'query') && isString(parameter.schema)) {
      fields.push({ in: parameter.in, name: parameter.name });
    }
  }
  const seen = new Set<string>();
  const walk = (schema: JsonSchema | undefined, path: Array<string | number>) => {
    if (!schema) return;
    if (schema.$ref) {
      walk(document.components?.schemas?.[schema.$ref.split('/').at(-1) ?? ''], path);
      return;
    }
    for (const variant of [
      ...(schema.oneOf ?? []),
      ...(schema.anyOf ?? []),
      ...(schema.allOf ?? []),
    ]) {
      walk(variant, path);
    }
    if (isString(schema)) {
      const key = JSON.stringify(path);
      if (!seen.has(key)) fields.push({ in: 'body', path });
      seen.add(key);
    }
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      walk(property, [...path, name]);
    }
    if (schema.items) walk(schema.items, [...path, 0]);
  };
  walk(operation.requestBody?.content['application/json']?.schema, []);
  return fields;
}

function isString(schema: JsonSchema | undefined): boolean {
  if (!schema) return false;
  return schema.type === 'string' || (Array.isArray(schema.type) && schema.type.includes('string'));
}

/** A copy of `body` with the value at `path` replaced (objects and arrays made as needed). */
function withValue(body: unknown, path: Array<string | number>, value: string): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (typeof head === 'number') {
    const array = Array.isArray(body) ? [...body] : [];
    array[head] = withValue(array[head], rest, value);
    return array;
  }
  const object =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? { ...(body as Record<string, unknown>) }
      : {};
  object[head] = withValue(object[head], rest, value);
  return object;
}

describe('api input surface: every route of the OpenAPI document, hostile input', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  let document: Document;
  const people: Record<'ada' | 'ann' | 'ben' | 'sue', { token: string; id: string }> = {
    ada: { token: '', id: '' },
    ann: { token: '', id: '' },
    ben: { token: '', id: '' },
    sue: { token: '', id: '' },
  };
  let groupId = '';
  let messageId = '';
  let pollId = '';
  let optionId = '';
  let webhookId = '';
  let spareWebhookId: string = crypto.randomUUID();
  /** Every answer that is not documented, or is a 5xx, as "what was sent: what came back". */
  const failures: string[] = [];

  const as = (who: keyof typeof people): Credential => ({ token: people[who].token });

  async function ok(method: string, path: string, call: Credential & { body?: unknown }) {
    const reply = await callApi(api.baseUrl, method, path, call);
    assert.ok(
      reply.status < 300,
      `${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`,
    );
    return reply.body;
  }

  async function newGroup(memberIds: string[] = [people.ben.id]) {
    const body = await ok('POST', '/conversations', {
      ...as('ann'),
      body: { kind: 'group', title: 'Scratch', memberIds },
    });
    return String(body.id);
  }

  async function newSession(username: string) {
    return loginAs(api.baseUrl, username);
  }

  /** A valid call of each operation. Destructive ones make what they destroy, so that every
   *  call finds its resource. A route without a row fails the coverage test below. */
  const fixtures: Record<string, () => Promise<Call>> = {
    index: async () => ({ as: {} }),
    openApiDocument: async () => ({ as: {} }),
    login: async () => ({ body: { username: 'ann', password: TEST_PASSWORD }, as: {} }),
    logout: async () => ({ as: { token: (await newSession('vic')).token } }),
    listSessions: async () => ({ as: as('ben') }),
    // vic's sessions only: an empty id is `DELETE /auth/sessions/`, which Express routes to
    // "revoke all my sessions".
    revokeSession: async () => {
      const session = await newSession('vic');
      return { params: { id: session.sessionId }, as: { token: session.token } };
    },
    revokeAllSessions: async () => ({ as: { token: (await newSession('vic')).token } }),
    getMe: async () => ({ as: as('ben') }),
    updateMe: async () => ({ body: { displayName: 'Ben B', bio: 'Hello\nthere' }, as: as('ben') }),
    getProfile: async () => ({ params: { id: people.ann.id }, as: as('ben') }),
    createUser: async () => ({
      body: {
        username: uniqueName('u').toLowerCase(),
        email: `${uniqueName('u')}@school.example`,
        displayName: 'New Person',
        role: 'student',
        password: TEST_PASSWORD,
      },
      as: as('ada'),
    }),
    deactivateUser: async () => {
      const username = uniqueName('gone').toLowerCase();
      const created = await ok('POST', '/admin/users', {
        ...as('ada'),
        body: {
          username,
          email: `${username}@school.example`,
          displayName: 'Leaving',
          role: 'student',
          password: TEST_PASSWORD,
        },
      });
      return { params: { id: String(created.id) }, as: as('ada') };
    },
    createApiKey: async () => ({ body: { name: 'Timetable sync' }, as: as('ada') }),
    listApiKeys: async () => ({ as: as('ada') }),
    revokeApiKey: async () => {
      const created = await ok('POST', '/admin/api-keys', { ...as('ada'), body: { name: 'k' } });
      return { params: { id: String(created.id) }, as: as('ada') };
    },
    createConversation: async () => ({
      body: { kind: 'group', title: 'Maths', memberIds: [people.ben.id] },
      as: as('ann'),
    }),
    listConversations: async () => ({ as: as('ben') }),
    listMyUnreadCounts: async () => ({ as: as('ben') }),
    getConversation: async () => ({ params: { id: groupId }, as: as('ben') }),
    deleteConversationForMe: async () => ({ params: { id: await newGroup() }, as: as('ann') }),
    addConversationMember: async () => ({
      params: { id: await newGroup([]) },
      body: { userId: people.ben.id, role: 'member' },
      as: as('ann'),
    }),
    removeConversationMember: async () => ({
      params: { id: await newGroup(), userId: people.ben.id },
      as: as('ann'),
    }),
    leaveConversation: async () => ({ params: { id: await newGroup() }, as: as('ben') }),
    markConversationRead: async () => ({
      params: { id: groupId },
      body: { upToMessageId: messageId },
      as: as('ben'),
    }),
    listReadReceipts: async () => ({ params: { id: groupId }, as: as('ben') }),
    sendMessage: async () => ({
      params: { id: groupId },
      body: { body: 'Hello', idempotencyKey: crypto.randomUUID() },
      as: as('ann'),
    }),
    listMessages: async () => ({ params: { id: groupId }, query: { limit: '5' }, as: as('ben') }),
    editMessage: async () => ({
      params: { id: groupId, messageId },
      body: { body: 'Edited' },
      as: as('ann'),
    }),
    deleteMessage: async () => {
      const sent = await ok('POST', `/conversations/${groupId}/messages`, {
        ...as('ann'),
        body: { body: 'to delete', idempotencyKey: crypto.randomUUID() },
      });
      return { params: { id: groupId, messageId: String(sent.id) }, as: as('ann') };
    },
    createPoll: async () => ({
      params: { id: groupId },
      body: { question: 'Lunch?', options: ['Yes', 'No'] },
      as: as('ann'),
    }),
    listPolls: async () => ({ params: { id: groupId }, query: { limit: '5' }, as: as('ben') }),
    getPoll: async () => ({ params: { id: groupId, pollId }, as: as('ben') }),
    votePoll: async () => ({ params: { id: groupId, pollId }, body: { optionId }, as: as('ben') }),
    retractPollVote: async () => ({ params: { id: groupId, pollId }, as: as('ben') }),
    closePoll: async () => {
      const poll = await ok('POST', `/conversations/${groupId}/polls`, {
        ...as('ann'),
        body: { question: 'Close me?', options: ['a', 'b'] },
      });
      return { params: { id: groupId, pollId: String(poll.id) }, as: as('ann') };
    },
    searchMessages: async () => ({
      query: { q: 'hello', conversationId: groupId, limit: '5' },
      as: as('ben'),
    }),
    listNotifications: async () => ({ query: { limit: '5' }, as: as('ben') }),
    countUnreadNotifications: async () => ({ as: as('ben') }),
    readAllNotifications: async () => ({ as: as('ben') }),
    readNotification: async () => ({ params: { id: crypto.randomUUID() }, as: as('ben') }),
    queryPresence: async () => ({ body: { userIds: [people.ann.id] }, as: as('ben') }),
    createWebhook: async () => ({
      body: { url: 'http://127.0.0.1:9/hook', events: ['message.created'] },
      as: as('ada'),
    }),
    listWebhooks: async () => ({ as: as('ada') }),
    getWebhook: async () => ({ params: { id: webhookId }, as: as('ada') }),
    updateWebhook: async () => ({
      params: { id: webhookId },
      body: { url: 'http://127.0.0.1:9/other', active: true },
      as: as('ada'),
    }),
    deleteWebhook: async () => {
      // Webhooks are capped: reuse the spare until a call really deleted it.
      const spare = await callApi(
        api.baseUrl,
        'GET',
        `/admin/webhooks/${spareWebhookId}`,
        as('ada'),
      );
      if (spare.status !== 200) {
        const created = await ok('POST', '/admin/webhooks', {
          ...as('ada'),
          body: { url: 'http://127.0.0.1:9/gone', events: ['message.created'] },
        });
        spareWebhookId = String(created.id);
      }
      return { params: { id: spareWebhookId }, as: as('ada') };
    },
    listWebhookDeliveries: async () => ({
      params: { id: webhookId },
      query: { limit: '5' },
      as: as('ada'),
    }),
    retryWebhookDelivery: async () => ({
      params: { id: webhookId, deliveryId: crypto.randomUUID() },
      as: as('ada'),
    }),
  };

  const operations = () =>
    Object.entries(document.paths).flatMap(([template, item]) =>
      Object.entries(item).map(([method, operation]) => ({ template, method, operation })),
    );

  /** Sends one call and records it as a failure if it is a 5xx or not documented. */
  async function send(
    method: string,
    template: string,
    call: Call,
    options: { rawPath?: string; headers?: Record<string, string>; rawBody?: string } = {},
  ): Promise<Reply> {
    const path = `${options.rawPath ?? fillPath(template, call.params ?? {})}${queryString(call.query ?? {})}`;
    const headers: Record<string, string> = { ...options.headers };
    if (call.as.token) headers.authorization = `Bearer ${call.as.token}`;
    if (call.as.apiKey) headers['x-api-key'] = call.as.apiKey;
    let body: string | undefined = options.rawBody;
    if (body === undefined && call.body !== undefined) body = JSON.stringify(call.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const response = await rawRequest(api.baseUrl, method, `/api/v1${path}`, headers, body);
    const { text } = response;
    const parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    const code = typeof parsed.code === 'string' ? parsed.code : undefined;
    const sent = `${method.toUpperCase()} ${path.slice(0, 120)} ${body?.slice(0, 120) ?? ''}`;
    if (response.status >= 500) failures.push(`${sent}: ${response.status} ${text.slice(0, 200)}`);
    const undocumented = undocumentedAnswer(document, {
      method,
      path,
      status: response.status,
      ...(response.status >= 400 && code ? { code } : {}),
    });
    if (undocumented) failures.push(`${sent}: ${undocumented}`);
    return { status: response.status, headers: response.headers, body: parsed };
  }

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    await createAccount(database.url, 'ada', 'admin');
    await createAccount(database.url, 'ann', 'teacher');
    for (const name of ['ben', 'sue', 'vic']) await createAccount(database.url, name);
    const generous = { limit: 1_000_000, windowMs: 60_000, algorithm: 'gcra' };
    api = await startService('api', {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: `quad:${uniqueName('surface')}:`,
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      RATE_LIMITS: JSON.stringify({
        'api-user': generous,
        'api-anonymous': generous,
        'api-key': generous,
        'login-ip': generous,
        'login-account': generous,
        'message-send': generous,
      }),
    });
    for (const name of ['ada', 'ann', 'ben', 'sue'] as const) {
      const { token } = await loginAs(api.baseUrl, name);
      const me = await ok('GET', '/me', { token });
      people[name] = { token, id: String(me.id) };
    }
    groupId = await newGroup();
    const sent = await ok('POST', `/conversations/${groupId}/messages`, {
      ...as('ann'),
      body: { body: 'hello world', idempotencyKey: crypto.randomUUID() },
    });
    messageId = String(sent.id);
    const poll = await ok('POST', `/conversations/${groupId}/polls`, {
      ...as('ann'),
      body: { question: 'Trip?', options: ['Museum', 'Park'] },
    });
    pollId = String(poll.id);
    optionId = String((poll.options as Array<{ id: string }>)[0]?.id);
    const webhook = await ok('POST', '/admin/webhooks', {
      ...as('ada'),
      body: { url: 'http://127.0.0.1:9/hook', events: ['message.created'] },
    });
    webhookId = String(webhook.id);
    const served: unknown = await ok('GET', '/openapi.json', {});
    document = served as Document;
  });
  after(async () => {
    await api?.stop();
    await database?.drop();
  });

  it('has a valid call for every route the document lists (a new route needs one here)', () => {
    const documented = operations()
      .map(({ operation }) => operation.operationId)
      .sort();
    assert.deepEqual(Object.keys(fixtures).sort(), documented);
  });

  it('answers every valid call with a documented status', async () => {
    // These name a thing that cannot be made through the api alone (a notification, a dead
    // delivery): their valid call is answered 404.
    const notFoundByDesign = new Set(['readNotification', 'retryWebhookDelivery']);
    for (const { template, method, operation } of operations()) {
      const fixture = fixtures[operation.operationId];
      assert.ok(fixture, operation.operationId);
      const reply = await send(method, template, await fixture());
      const expected = notFoundByDesign.has(operation.operationId) ? 404 : reply.status;
      assert.equal(reply.status, expected, operation.operationId);
      if (!notFoundByDesign.has(operation.operationId)) {
        assert.ok(reply.status < 300, `${operation.operationId}: ${JSON.stringify(reply.body)}`);
      }
    }
    assert.deepEqual(failures.splice(0), []);
  });

  it('never answers a 5xx to any string in any string field, and documents every answer', async () => {
    let sent = 0;
    for (const { template, method, operation } of operations()) {
      const fixture = fixtures[operation.operationId];
      assert.ok(fixture, operation.operationId);
      for (const field of stringFields(document, operation)) {
        for (const hostile of hostileStrings) {
          const call = await fixture();
          if (field.in === 'body') call.body = withValue(call.body, field.path, hostile);
          else if (field.in === 'path') call.params = { ...call.params, [field.name]: hostile };
          else call.query = { ...call.query, [field.name]: hostile };
          await send(method, template, call);
          sent += 1;
        }
      }
    }
    // The walk really reached the free-text fields, not only UUIDs.
    assert.ok(sent > 1_000, `only ${sent} requests`);
    assert.deepEqual(failures.splice(0), []);
  });

  it('refuses text PostgreSQL cannot store with 400 naming the field', async () => {
    const nul = await callApi(api.baseUrl, 'POST', `/conversations/${groupId}/messages`, {
      ...as('ann'),
      body: { body: 'a\u0000b', idempotencyKey: crypto.randomUUID() },
    });
    assert.equal(nul.status, 400);
    assert.deepEqual(
      (nul.body.errors as Array<{ field: string }>).map((error) => error.field),
      ['body'],
    );
    const search = await callApi(api.baseUrl, 'GET', '/search?q=a%00b', as('ben'));
    assert.equal(search.status, 400, JSON.stringify(search.body));
    const bidiName = await callApi(api.baseUrl, 'PATCH', '/me', {
      ...as('ben'),
      body: { displayName: 'gnp\u202Eexe' },
    });
    assert.equal(bidiName.status, 400);
    // Right-to-left text is welcome in messages; only names refuse the controls.
    const rtl = await callApi(api.baseUrl, 'POST', `/conversations/${groupId}/messages`, {
      ...as('ann'),
      body: { body: 'שלום \u202Bעולם\u202C', idempotencyKey: crypto.randomUUID() },
    });
    assert.equal(rtl.status, 201, JSON.stringify(rtl.body));
  });

  it('answers hostile requests to every route with documented problems', async () => {
    for (const { template, method, operation } of operations()) {
      const fixture = fixtures[operation.operationId];
      assert.ok(fixture, operation.operationId);
      const call = await fixture();
      const context = `${method.toUpperCase()} ${template}`;
      // Anonymous and as a stranger, with a parameter no route takes.
      await send(method, template, { ...call, as: {}, query: { ...call.query, zzz: '1' } });
      await send(method, template, { ...call, as: as('sue'), query: { ...call.query, zzz: '1' } });
      await send(method, template, { ...call, as: { token: 'not-a-token' } });
      // A body in a charset other than UTF-8, and an encoding nobody knows.
      const latin1 = await send(method, template, call, {
        headers: { 'content-type': 'application/json; charset=latin1' },
        rawBody: '{}',
      });
      assert.equal(latin1.status, 415, `${context}: ${JSON.stringify(latin1.body)}`);
      assert.equal(latin1.body.code, 'unsupported_media_type');
      const encoded = await send(method, template, call, {
        headers: { 'content-encoding': 'bogus' },
        rawBody: '{}',
      });
      assert.equal(encoded.status, 415, `${context}: ${JSON.stringify(encoded.body)}`);
      // A path parameter that is not valid percent-encoding.
      if (template.includes('{')) {
        const malformed = await send(method, template, call, {
          rawPath: fillPath(
            template,
            Object.fromEntries(Object.keys(call.params ?? {}).map((name) => [name, '%ZZ'])),
            true,
          ),
        });
        assert.equal(malformed.status, 400, `${context}: ${JSON.stringify(malformed.body)}`);
      }
    }
    assert.deepEqual(failures.splice(0), []);
  });

  it('accepts only plain decimal digits as query integers', async () => {
    const withLimit = operations().filter(({ operation }) =>
      (operation.parameters ?? []).some((p) => p.in === 'query' && p.name === 'limit'),
    );
    assert.ok(withLimit.length >= 5, `${withLimit.length} routes take a limit`);
    for (const { template, method, operation } of withLimit) {
      const fixture = fixtures[operation.operationId];
      assert.ok(fixture, operation.operationId);
      for (const loose of ['0x10', '+5', '05', '1e2', ' 7', '5.0', '-1', '99999999999999999999']) {
        const call = await fixture();
        const reply = await send(method, template, {
          ...call,
          query: { ...call.query, limit: loose },
        });
        assert.equal(reply.status, 400, `${operation.operationId} limit=${loose}`);
      }
      const call = await fixture();
      const plain = await send(method, template, { ...call, query: { ...call.query, limit: '7' } });
      assert.equal(plain.status, 200, `${operation.operationId}: ${JSON.stringify(plain.body)}`);
    }
    assert.deepEqual(failures.splice(0), []);
  });

  it('answers oversized headers with a problem, like every other error', async () => {
    const reply = await rawRequest(api.baseUrl, 'GET', `/api/v1/search?q=${'a'.repeat(70_000)}`, {
      authorization: `Bearer ${people.ben.token}`,
    });
    assert.equal(reply.status, 431);
    assert.equal(reply.headers.get('content-type'), 'application/problem+json');
    const problem = JSON.parse(reply.text) as Record<string, unknown>;
    assert.equal(problem.code, 'request_headers_too_large');
    assert.equal(problem.status, 431);
    const undocumented = undocumentedAnswer(document, {
      method: 'GET',
      path: '/search',
      status: 431,
      code: 'request_headers_too_large',
    });
    assert.equal(undocumented, undefined);
    // The api is still there.
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', as('ben'))).status, 200);
  });

  it('asks a stranger to authorize before it validates: 404, not a 400 about the query', async () => {
    const reply = await callApi(api.baseUrl, 'GET', `/conversations/${groupId}?zzz=1`, as('sue'));
    assert.equal(reply.status, 404, JSON.stringify(reply.body));
  });

  it('gives every message representation its seq', async () => {
    const first = await ok('POST', `/conversations/${groupId}/messages`, {
      ...as('ann'),
      body: { body: 'numbered one', idempotencyKey: crypto.randomUUID() },
    });
    const second = await ok('POST', `/conversations/${groupId}/messages`, {
      ...as('ann'),
      body: { body: 'numbered two', idempotencyKey: crypto.randomUUID() },
    });
    assert.equal(typeof first.seq, 'number');
    assert.equal(second.seq, Number(first.seq) + 1);
    const edited = await ok('PATCH', `/conversations/${groupId}/messages/${String(second.id)}`, {
      ...as('ann'),
      body: { body: 'numbered two, edited' },
    });
    assert.equal(edited.seq, second.seq);
    const history = await ok('GET', `/conversations/${groupId}/messages?limit=2`, as('ben'));
    assert.deepEqual(
      (history.messages as Array<{ seq: number }>).map((message) => message.seq),
      [second.seq, first.seq],
    );
    const list = await ok('GET', '/conversations', as('ben'));
    const mine = (list.conversations as Array<{ id: string; lastMessage: { seq: number } }>).find(
      (conversation) => conversation.id === groupId,
    );
    assert.equal(mine?.lastMessage.seq, second.seq);
    const found = await ok('GET', `/search?q=numbered&conversationId=${groupId}`, as('ben'));
    const seqs = (found.results as Array<{ message: { seq: number } }>).map((r) => r.message.seq);
    assert.deepEqual(seqs.sort(), [first.seq, second.seq].sort());
    // And the document says so.
    const schemas = (document.components?.schemas ?? {}) as Record<string, { required?: string[] }>;
    assert.ok(schemas.Message?.required?.includes('seq'));
    assert.ok(matchRoute(document, `/conversations/${groupId}/messages`));
  });
});
