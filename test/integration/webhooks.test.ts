import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createLogger } from '../../lib/observability/logger.js';
import type { OutboxEvent } from '../../lib/outbox/outbox.types.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { queuePrefix } from '../../lib/redis/queue-prefix.js';
import {
  DeliveryQueue,
  parseSecretKey,
  verifySignature,
  WEBHOOK_QUEUE,
  WebhookOutboxConsumer,
  WebhookSecretBox,
} from '../../lib/webhooks/index.js';
import {
  type AccessRow,
  assertAccessTable,
  assertTableCoversTags,
} from '../harness/access-table.js';
import { callApi, createAccount, loginAs, type Reply } from '../harness/api-client.js';
import { dumpData } from '../harness/postgres-server.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import {
  collectOutput,
  type ServiceProcess,
  spawnEntrypoint,
  startService,
} from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedServers,
  testWebhookSecretKey,
  uniqueName,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// Outgoing webhooks: a real worker process delivers to real HTTP receivers on 127.0.0.1; deliveries
// are created by the `webhooks` outbox consumer, driven here directly with OutboxEvents (as the
// relay calls it). Attempts and backoff are made small with the documented WEBHOOK_MAX_ATTEMPTS and
// WEBHOOK_BACKOFF_BASE_MS, and the shared Redis is used under a key prefix of this file's own, so
// no other file's worker takes these jobs.

const MAX_ATTEMPTS = 5;

interface Received {
  path: string;
  eventId: string;
  signature: string;
  body: string;
  answered: number;
}

interface Delivery {
  id: string;
  eventId: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
}

/**
 * One receiver, several behaviours by path: /flaky answers 503 to the first three requests of
 * each event and 204 after; /down answers 500 until `downRecovered`; /relay answers 200; /gone
 * always 410; /slow never answers; /redirect answers 302 to `redirectTo`.
 */
function startReceiver() {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const state = { downRecovered: false, redirectTo: '' };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const eventId = String(req.headers['quad-event-id'] ?? '');
      const entry: Received = {
        path: req.url ?? '',
        eventId,
        signature: String(req.headers['quad-signature'] ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
        answered: 0,
      };
      received.push(entry);
      const answer = (status: number) => {
        entry.answered = status;
        res.writeHead(status).end();
      };
      if (entry.path === '/slow') {
        hanging.push(res);
        return;
      }
      if (entry.path === '/flaky') {
        const earlier = received.filter((r) => r.path === '/flaky' && r.eventId === eventId);
        answer(earlier.length <= 3 ? 503 : 204);
        return;
      }
      if (entry.path === '/gone') {
        answer(410);
        return;
      }
      if (entry.path === '/relay') {
        answer(200);
        return;
      }
      if (entry.path === '/redirect') {
        entry.answered = 302;
        res.writeHead(302, { location: state.redirectTo }).end();
        return;
      }
      answer(state.downRecovered ? 200 : 500);
    });
  });
  return {
    server,
    received,
    hanging,
    state,
    async listen(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let eventSequence = 1_000;
/** A well-formed message.created outbox event, as the relay hands it to the consumers. */
const event = (conversationId = randomUUID()): OutboxEvent => {
  const occurredAt = new Date().toISOString();
  const message = {
    id: randomUUID(),
    conversationId,
    seq: 1,
    senderId: randomUUID(),
    body: 'Bring your lab coats tomorrow',
    createdAt: occurredAt,
    editedAt: null,
    deletedAt: null,
  };
  return {
    id: String(eventSequence++),
    type: 'message.created',
    conversationId,
    payload: { message, actorId: message.senderId },
    occurredAt,
  };
};

/**
 * The api and the worker both suites run, with `settings` (which name the key prefix), a
 * PostgreSQL pool and the `webhooks` outbox consumer filling the worker's queue under that
 * prefix. `workerEnvironment` is what `quad jobs` runs with, as an operator would.
 */
async function startWebhookStack(
  databaseUrl: string,
  settings: Record<string, string> & { REDIS_KEY_PREFIX: string },
  maxAttempts: number,
) {
  const workerEnvironment: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    ...serviceEnvironment('worker', databaseUrl),
    ...settings,
  };
  const [api, worker] = await Promise.all([
    startService('api', { ...serviceEnvironment('api', databaseUrl), ...settings }),
    startService('worker', workerEnvironment),
  ]);
  const postgres = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const servers = sharedServers();
  const queueClient = new Redis({
    port: servers.redis.port,
    host: '127.0.0.1',
    username: 'worker',
    password: servers.redis.passwords.worker,
    maxRetriesPerRequest: null,
  });
  const queue = new Queue(WEBHOOK_QUEUE, {
    connection: queueClient,
    prefix: queuePrefix(settings.REDIS_KEY_PREFIX),
  });
  const consumer = new WebhookOutboxConsumer({
    postgres,
    queue: new DeliveryQueue({ queue, maxAttempts }),
  });
  return {
    api,
    worker,
    workerEnvironment,
    postgres,
    consumer,
    async stop() {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      queueClient.disconnect();
      await postgres.end();
      await Promise.all([api.stop(), worker.stop()]);
    },
  };
}

describe('webhooks: signed deliveries, retries, dead letters, admin API', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let postgres: pg.Pool;
  let consumer: WebhookOutboxConsumer;
  let stack: Awaited<ReturnType<typeof startWebhookStack>> | undefined;
  const receiver = startReceiver();
  let receiverUrl = '';
  const keyPrefix = `quad:${uniqueName('wh')}:`;
  const people = {
    admin: { id: '', username: '', token: '' },
    teacher: { id: '', username: '', token: '' },
    student: { id: '', username: '', token: '' },
  };
  /** The worker's environment: `quad jobs` runs with it, as an operator would. */
  let workerEnvironment: Record<string, string> = {};

  const asAdmin = (method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: people.admin.token, body });

  const createWebhook = async (path: string, events = ['message.created']) => {
    const reply = await asAdmin('POST', '/admin/webhooks', {
      url: `${receiverUrl}${path}`,
      events,
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return { id: String(reply.body.id), secret: String(reply.body.secret) };
  };

  const deliveriesOf = async (webhookId: string): Promise<Delivery[]> => {
    const reply = await asAdmin('GET', `/admin/webhooks/${webhookId}/deliveries`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body.deliveries as Delivery[];
  };

  const settled = (webhookId: string, eventId: string, status: string) =>
    waitFor(`delivery of event ${eventId} ${status}`, async () =>
      (await deliveriesOf(webhookId)).find((d) => d.eventId === eventId && d.status === status),
    );

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    receiverUrl = await receiver.listen();
    for (const role of ['admin', 'teacher', 'student'] as const) {
      const account = await createAccount(database.url, uniqueName(role), role);
      people[role].id = account.id;
      people[role].username = account.username;
    }
    const settings = {
      REDIS_KEY_PREFIX: keyPrefix,
      WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      WEBHOOK_BACKOFF_BASE_MS: '20',
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    };
    stack = await startWebhookStack(database.url, settings, MAX_ATTEMPTS);
    ({ api, worker, workerEnvironment, postgres, consumer } = stack);
    for (const role of ['admin', 'teacher', 'student'] as const) {
      people[role].token = (await loginAs(api.baseUrl, people[role].username)).token;
    }
  });

  after(async () => {
    // The hung request first, so the worker's attempt ends and it stops at once.
    await receiver.close();
    await stack?.stop();
    await database?.drop();
  });

  it('admits admins only: strangers 401, students and teachers 403, every route listed', async () => {
    const id = randomUUID();
    const delivery = randomUUID();
    const rows: AccessRow<'stranger' | 'student' | 'teacher'>[] = [
      ['POST', '/admin/webhooks', '/admin/webhooks'],
      ['GET', '/admin/webhooks', '/admin/webhooks'],
      ['GET', `/admin/webhooks/${id}`, '/admin/webhooks/{id}'],
      ['PATCH', `/admin/webhooks/${id}`, '/admin/webhooks/{id}'],
      ['DELETE', `/admin/webhooks/${id}`, '/admin/webhooks/{id}'],
      ['GET', `/admin/webhooks/${id}/deliveries`, '/admin/webhooks/{id}/deliveries'],
      [
        'POST',
        `/admin/webhooks/${id}/deliveries/${delivery}/retry`,
        '/admin/webhooks/{id}/deliveries/{deliveryId}/retry',
      ],
    ].map(([method, path, route]) => ({
      method: String(method),
      path: String(path),
      route: String(route),
      expect: { stranger: 401, student: 403, teacher: 403 },
    }));
    await assertAccessTable(api.baseUrl, rows, {
      stranger: {},
      student: { token: people.student.token },
      teacher: { token: people.teacher.token },
    });
    await assertTableCoversTags(api.baseUrl, rows, ['webhooks']);
  });

  it('registers a webhook, shows its secret once, refuses URLs outside the allow-list', async () => {
    const created = await createWebhook('/registered', ['message.created', 'member.added']);
    assert.match(created.secret, /^whsec_[A-Za-z0-9_-]{43}$/);

    const shown = await asAdmin('GET', `/admin/webhooks/${created.id}`);
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.secret, undefined);
    assert.ok(!JSON.stringify(shown.body).includes(created.secret));
    assert.deepEqual(shown.body.deliveries, {
      pending: 0,
      succeeded: 0,
      dead: 0,
      lastAttempt: null,
    });
    const listed = await asAdmin('GET', '/admin/webhooks');
    assert.ok(!JSON.stringify(listed.body).includes(created.secret));
    assert.ok((listed.body.webhooks as Array<{ id: string }>).some((w) => w.id === created.id));

    const refused = async (url: string, code: string) => {
      const reply: Reply = await asAdmin('POST', '/admin/webhooks', {
        url,
        events: ['message.created'],
      });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      const errors = reply.body.errors as Array<{ field: string; code: string }>;
      assert.deepEqual(
        errors.map((e) => [e.field, e.code]),
        [['url', code]],
      );
    };
    await refused('https://hooks.example.org/quad', 'url_refused');
    await refused('http://169.254.169.254/latest/meta-data', 'url_refused');
    await refused('file:///etc/passwd', 'invalid_format');
    const unknownType = await asAdmin('POST', '/admin/webhooks', {
      url: `${receiverUrl}/x`,
      events: ['no.such.event'],
    });
    assert.equal(unknownType.status, 400);

    const patched = await asAdmin('PATCH', `/admin/webhooks/${created.id}`, {
      events: ['member.added'],
      active: false,
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.events, ['member.added']);
    assert.equal(patched.body.active, false);
    const elsewhere = await asAdmin('PATCH', `/admin/webhooks/${created.id}`, {
      url: 'https://hooks.example.org/',
    });
    assert.equal(elsewhere.status, 400);

    assert.equal((await asAdmin('DELETE', `/admin/webhooks/${created.id}`)).status, 204);
    assert.equal((await asAdmin('GET', `/admin/webhooks/${created.id}`)).status, 404);
    assert.equal((await asAdmin('DELETE', `/admin/webhooks/${created.id}`)).status, 404);
  });

  it('a receiver that fails three times then succeeds gets the event exactly once, signed', async () => {
    const webhook = await createWebhook('/flaky');
    const first = event();
    await consumer.handle([first]);
    const delivered = await settled(webhook.id, first.id, 'succeeded');
    assert.equal(delivered.attempts, 4);
    assert.ok([200, 204].includes(delivered.lastStatusCode ?? 0));

    const requests = receiver.received.filter((r) => r.eventId === first.id);
    assert.deepEqual(
      requests.map((r) => r.answered),
      [503, 503, 503, 204],
    );
    for (const request of requests) {
      assert.ok(
        verifySignature(webhook.secret, request.body, request.signature),
        request.signature,
      );
      assert.ok(!verifySignature('whsec_wrong', request.body, request.signature));
      const body = JSON.parse(request.body) as Record<string, unknown>;
      assert.equal(body.id, first.id);
      assert.equal(body.type, 'message.created');
      assert.equal(body.occurredAt, first.occurredAt);
      assert.deepEqual(body.data, { conversationId: first.conversationId, ...first.payload });
    }
    // Every attempt sent the same bytes.
    assert.equal(new Set(requests.map((r) => r.body)).size, 1);

    // The relay hands the same event over again (a re-run batch): no second delivery. A later
    // event delivered after it proves the queue moved past without sending the first again.
    await consumer.handle([first]);
    const second = event();
    await consumer.handle([second]);
    await settled(webhook.id, second.id, 'succeeded');
    assert.equal(receiver.received.filter((r) => r.eventId === first.id).length, 4);
    const successes = receiver.received.filter((r) => r.eventId === first.id && r.answered < 300);
    assert.equal(successes.length, 1);
    const all = await deliveriesOf(webhook.id);
    assert.equal(all.filter((d) => d.eventId === first.id).length, 1);

    const detail = await asAdmin('GET', `/admin/webhooks/${webhook.id}`);
    const counts = detail.body.deliveries as Record<string, unknown>;
    assert.equal(counts.succeeded, 2);
    assert.equal(counts.dead, 0);
    await asAdmin('PATCH', `/admin/webhooks/${webhook.id}`, { active: false });
  });

  it('a receiver that always fails ends dead after N attempts; a retry delivers it', async () => {
    const webhook = await createWebhook('/down');
    const lost = event();
    await consumer.handle([lost]);
    const dead = await settled(webhook.id, lost.id, 'dead');
    assert.equal(dead.attempts, MAX_ATTEMPTS);
    assert.equal(dead.lastStatusCode, 500);
    assert.equal(dead.lastError, 'HTTP 500');
    assert.equal(receiver.received.filter((r) => r.eventId === lost.id).length, MAX_ATTEMPTS);

    const detail = await asAdmin('GET', `/admin/webhooks/${webhook.id}`);
    const counts = detail.body.deliveries as { dead: number; lastAttempt: { statusCode: number } };
    assert.equal(counts.dead, 1);
    assert.equal(counts.lastAttempt.statusCode, 500);
    const deadOnly = await asAdmin('GET', `/admin/webhooks/${webhook.id}/deliveries?status=dead`);
    assert.deepEqual(
      (deadOnly.body.deliveries as Delivery[]).map((d) => d.id),
      [dead.id],
    );
    const metric = (name: string, labels?: Record<string, string>) =>
      scrapeMetric(worker.baseUrl, name, labels);
    assert.equal(await metric('webhook_delivery_attempts_total', { result: 'dead' }), 1);
    assert.equal(await metric('webhook_dead_letters'), 1);
    assert.ok(
      (await metric('webhook_delivery_duration_seconds_count', { outcome: 'failure' })) >=
        MAX_ATTEMPTS,
    );

    receiver.state.downRecovered = true;
    const retried = await asAdmin(
      'POST',
      `/admin/webhooks/${webhook.id}/deliveries/${dead.id}/retry`,
    );
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    assert.equal(retried.body.status, 'pending');
    const delivered = await settled(webhook.id, lost.id, 'succeeded');
    assert.equal(delivered.attempts, 1);
    assert.equal(delivered.lastStatusCode, 200);
    const toOthers = receiver.received.filter((r) => r.eventId === lost.id);
    assert.equal(toOthers.length, MAX_ATTEMPTS + 1);
    assert.equal(toOthers.filter((r) => r.answered === 200).length, 1);

    const again = await asAdmin(
      'POST',
      `/admin/webhooks/${webhook.id}/deliveries/${dead.id}/retry`,
    );
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'delivery_not_dead');
    const unknown = await asAdmin(
      'POST',
      `/admin/webhooks/${webhook.id}/deliveries/${randomUUID()}/retry`,
    );
    assert.equal(unknown.status, 404);
    await asAdmin('PATCH', `/admin/webhooks/${webhook.id}`, { active: false });
  });

  it('quad jobs lists, retries and drops dead letters', async () => {
    const webhook = await createWebhook('/gone');
    const lost = event();
    await consumer.handle([lost]);
    const dead = await settled(webhook.id, lost.id, 'dead');
    const quad = async (...args: string[]) => {
      const child = spawnEntrypoint('services/cli/main.ts', workerEnvironment, ['jobs', ...args]);
      const { output, exited } = collectOutput(child);
      return { status: await exited, output: output() };
    };

    const listed = await quad('dead');
    assert.equal(listed.status, 0, listed.output);
    const line = listed.output.split('\n').find((l) => l.startsWith(dead.id));
    assert.ok(line, listed.output);
    assert.match(
      line,
      new RegExp(`event=${lost.id}\tmessage.created\tattempts=${MAX_ATTEMPTS}\tlast=410`),
    );

    const retried = await quad('retry', dead.id);
    assert.equal(retried.status, 0, retried.output);
    // Sent again with a fresh budget: five more attempts, then dead again.
    await waitFor('the retried delivery to die again', async () =>
      (await deliveriesOf(webhook.id)).find((d) => d.id === dead.id && d.status === 'dead'),
    );
    assert.equal(receiver.received.filter((r) => r.eventId === lost.id).length, 2 * MAX_ATTEMPTS);

    const dropped = await quad('drop', dead.id);
    assert.equal(dropped.status, 0, dropped.output);
    assert.deepEqual(await deliveriesOf(webhook.id), []);
    const again = await quad('drop', dead.id);
    assert.equal(again.status, 1);
    assert.match(again.output, /not found/);
    const bullmq = await quad('dead', '--queue', 'maintenance');
    assert.equal(bullmq.status, 0, bullmq.output);
    assert.equal((await quad('retry')).status, 64);
    await asAdmin('PATCH', `/admin/webhooks/${webhook.id}`, { active: false });
  });

  it('a message sent through the api reaches the webhook through the outbox relay', async () => {
    const webhook = await createWebhook('/relay', ['message.created', 'member.added']);
    const group = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: people.teacher.token,
      body: { kind: 'group', title: 'Chemistry 9B', memberIds: [people.student.id] },
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    const conversationId = String(group.body.id);
    const sent = await callApi(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
      token: people.teacher.token,
      body: { body: 'Test on Friday', idempotencyKey: randomUUID() },
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));

    const arrived = await waitFor('the relayed message at the receiver', async () =>
      receiver.received.find((r) => {
        if (r.path !== '/relay') return false;
        const body = JSON.parse(r.body) as { data: { message?: { id?: string } } };
        return body.data.message?.id === sent.body.id;
      }),
    );
    assert.ok(verifySignature(webhook.secret, arrived.body, arrived.signature));
    const body = JSON.parse(arrived.body) as Record<string, unknown>;
    assert.equal(body.type, 'message.created');
    assert.equal(body.id, arrived.eventId);
    assert.equal((body.data as { conversationId: string }).conversationId, conversationId);
    const delivery = await settled(webhook.id, arrived.eventId, 'succeeded');
    assert.equal(delivery.attempts, 1);
    assert.equal(
      receiver.received.filter((r) => r.path === '/relay' && r.eventId === arrived.eventId).length,
      1,
    );
    await asAdmin('PATCH', `/admin/webhooks/${webhook.id}`, { active: false });
  });

  it('stores only a sealed secret: a dump of the database holds no secret in clear', async () => {
    const webhook = await createWebhook('/relay', ['member.added']);
    const random = webhook.secret.slice('whsec_'.length);
    const row = await postgres.query<{ secret: string; whole: string }>(
      'SELECT secret, w::text AS whole FROM webhooks w WHERE id = $1',
      [webhook.id],
    );
    const stored = row.rows[0];
    assert.ok(stored);
    assert.match(stored.secret, /^v1\.[0-9a-f]{12}\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
    assert.ok(!stored.whole.includes(random), stored.whole);

    // The whole database as pg_dump writes it: the row is there, its secret is not, and the
    // key (from the env file) is nowhere in it either.
    const dump = await dumpData(database.url);
    assert.ok(dump.includes(webhook.id));
    assert.ok(!dump.includes(random));
    assert.ok(!dump.includes(testWebhookSecretKey));

    // Nothing writes a secret in clear any more: PostgreSQL refuses it.
    await assert.rejects(
      postgres.query('UPDATE webhooks SET secret = $2 WHERE id = $1', [webhook.id, webhook.secret]),
      /webhooks_secret_sealed/,
    );
    await asAdmin('PATCH', `/admin/webhooks/${webhook.id}`, { active: false });
  });

  it('a secret stored in clear before the upgrade is sealed at start-up and still signs', async () => {
    // The state an upgrade finds: a row written in clear before the sealing migration (which
    // leaves existing rows unchecked), and a worker starting with the key.
    const id = randomUUID();
    const legacySecret = `whsec_${randomUUID().replaceAll('-', '')}`;
    const client = await postgres.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE webhooks DROP CONSTRAINT webhooks_secret_sealed');
      await client.query(
        `INSERT INTO webhooks (id, url, secret, event_types, created_by)
         VALUES ($1, $2, $3, '{message.created}', $4)`,
        [id, `${receiverUrl}/relay`, legacySecret, people.admin.id],
      );
      await client.query(
        `ALTER TABLE webhooks ADD CONSTRAINT webhooks_secret_sealed CHECK (secret LIKE 'v1.%') NOT VALID`,
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const upgraded = await startService('worker', workerEnvironment);
    try {
      const sealed = await waitFor('the legacy secret to be sealed', async () => {
        const row = await postgres.query<{ secret: string }>(
          'SELECT secret FROM webhooks WHERE id = $1',
          [id],
        );
        const secret = row.rows[0]?.secret ?? '';
        return secret.startsWith('v1.') ? secret : undefined;
      });
      assert.ok(!sealed.includes(legacySecret.slice('whsec_'.length)));

      const next = event();
      await consumer.handle([next]);
      const arrived = await waitFor('the delivery signed with the legacy secret', async () =>
        receiver.received.find((r) => r.eventId === next.id && r.path === '/relay'),
      );
      assert.ok(verifySignature(legacySecret, arrived.body, arrived.signature));
      await settled(id, next.id, 'succeeded');
    } finally {
      await upgraded.stop();
      await asAdmin('PATCH', `/admin/webhooks/${id}`, { active: false });
    }
  });

  it('never follows a redirect: a 302 towards a host outside the list is a failed attempt', async () => {
    // The target listens on 127.0.0.1 too but is named `localhost`, which the list does not
    // open; it would record anything that reached it.
    const target = startReceiver();
    const targetUrl = await target.listen();
    receiver.state.redirectTo = `${targetUrl.replace('127.0.0.1', 'localhost')}/stolen`;
    try {
      const webhook = await createWebhook('/redirect');
      const bounced = event();
      await consumer.handle([bounced]);
      const dead = await settled(webhook.id, bounced.id, 'dead');
      assert.equal(dead.attempts, MAX_ATTEMPTS);
      assert.equal(dead.lastStatusCode, 302);
      assert.equal(dead.lastError, 'HTTP 302');
      const redirected = receiver.received.filter(
        (r) => r.eventId === bounced.id && r.path === '/redirect',
      );
      assert.equal(redirected.length, MAX_ATTEMPTS);
      assert.deepEqual(target.received, []);
      await asAdmin('PATCH', `/admin/webhooks/${webhook.id}`, { active: false });
    } finally {
      await target.close();
    }
  });

  it('a receiver that hangs does not slow the api', async () => {
    const webhook = await createWebhook('/slow');
    const stuck = event();
    await consumer.handle([stuck]);
    await waitFor('the slow receiver to hold a request', async () =>
      receiver.received.some((r) => r.eventId === stuck.id),
    );
    // While the worker waits on the hung receiver, the api answers sends and admin reads.
    const conversation = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: people.teacher.token,
      body: { kind: 'direct', userId: people.student.id },
    });
    assert.equal(conversation.status, 201, JSON.stringify(conversation.body));
    const sent = await callApi(
      api.baseUrl,
      'POST',
      `/conversations/${String(conversation.body.id)}/messages`,
      {
        token: people.teacher.token,
        body: { body: 'Homework is on page 12', idempotencyKey: randomUUID() },
      },
    );
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const pending = await deliveriesOf(webhook.id);
    assert.equal(pending.find((d) => d.eventId === stuck.id)?.status, 'pending');
    // The relay may already have handed the new message to the hung receiver too.
    assert.ok(receiver.hanging.length >= 1);
  });
});

describe('webhooks without an allow-list: internal addresses are refused', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  let postgres: pg.Pool;
  let consumer: WebhookOutboxConsumer;
  let stack: Awaited<ReturnType<typeof startWebhookStack>> | undefined;
  // Listens on 127.0.0.1 and must never be reached: it records whatever arrives.
  const internal = startReceiver();
  let internalPort = 0;
  const keyPrefix = `quad:${uniqueName('whssrf')}:`;
  let adminToken = '';

  const asAdmin = (method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: adminToken, body });

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    internalPort = Number(new URL(await internal.listen()).port);
    const admin = await createAccount(database.url, uniqueName('admin'), 'admin');
    // WEBHOOK_ALLOWED_HOSTS unset: the default an institution deploys with.
    const settings = {
      REDIS_KEY_PREFIX: keyPrefix,
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_BACKOFF_BASE_MS: '20',
    };
    stack = await startWebhookStack(database.url, settings, 3);
    ({ api, postgres, consumer } = stack);
    adminToken = (await loginAs(api.baseUrl, admin.username)).token;
  });

  after(async () => {
    await internal.close();
    await stack?.stop();
    await database?.drop();
  });

  it('refuses internal address literals at registration with a 400 naming the URL', async () => {
    for (const url of [
      `http://127.0.0.1:${internalPort}/x`,
      'http://[::1]/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.8/x',
      'http://0/x',
    ]) {
      const reply = await asAdmin('POST', '/admin/webhooks', { url, events: ['message.created'] });
      assert.equal(reply.status, 400, `${url}: ${JSON.stringify(reply.body)}`);
      const errors = reply.body.errors as Array<{ field: string; code: string }>;
      assert.deepEqual(
        errors.map((e) => [e.field, e.code]),
        [['url', 'url_refused']],
      );
    }
    assert.deepEqual(internal.received, []);
  });

  it('refuses a name that resolves to loopback when connecting, before any request', async () => {
    // `localhost` is a name: accepted at registration, refused on the address it resolves to.
    const created = await asAdmin('POST', '/admin/webhooks', {
      url: `http://localhost:${internalPort}/relay`,
      events: ['message.created'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const webhookId = String(created.body.id);
    const probe = event();
    await consumer.handle([probe]);
    const dead = await waitFor('the delivery to localhost to be refused', async () => {
      const reply = await asAdmin('GET', `/admin/webhooks/${webhookId}/deliveries`);
      return (reply.body.deliveries as Delivery[]).find(
        (d) => d.eventId === probe.id && d.status === 'dead',
      );
    });
    // Refused at once (no retries: a rebinding name gets no second chance), no status code.
    assert.equal(dead.attempts, 1);
    assert.equal(dead.lastStatusCode, null);
    assert.match(
      dead.lastError ?? '',
      /^URL refused: localhost resolves to (127\.0\.0\.1|::1), an internal address/,
    );
    assert.deepEqual(internal.received, []);
  });

  it('a key rotation re-seals every secret with the new key at the worker start-up', async () => {
    const created = await asAdmin('POST', '/admin/webhooks', {
      url: 'https://hooks.school.example/rotated',
      events: ['member.added'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = String(created.body.id);
    const secret = String(created.body.secret);
    const storedSecret = async () =>
      (await postgres.query<{ secret: string }>('SELECT secret FROM webhooks WHERE id = $1', [id]))
        .rows[0]?.secret ?? '';
    const oldKey = parseSecretKey(testWebhookSecretKey);
    assert.ok(oldKey);
    const newKey = randomBytes(32);
    const oldBox = new WebhookSecretBox({ current: oldKey, previous: undefined });
    const newBox = new WebhookSecretBox({ current: newKey, previous: undefined });
    assert.ok(oldBox.isCurrent(await storedSecret()));

    const rotated = await startService('worker', {
      LOG_LEVEL: 'warn',
      ...serviceEnvironment('worker', database.url),
      REDIS_KEY_PREFIX: `quad:${uniqueName('whrot')}:`,
      WEBHOOK_SECRET_KEY: newKey.toString('hex'),
      WEBHOOK_SECRET_KEY_PREVIOUS: testWebhookSecretKey,
    });
    try {
      const resealed = await waitFor('the secret sealed with the new key', async () => {
        const stored = await storedSecret();
        return newBox.isCurrent(stored) ? stored : undefined;
      });
      assert.equal(newBox.open(resealed, id), secret);
      assert.throws(() => oldBox.open(resealed, id), /neither WEBHOOK_SECRET_KEY/);
    } finally {
      await rotated.stop();
    }
  });
});
