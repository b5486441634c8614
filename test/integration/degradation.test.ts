import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createLogger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import {
  callApi,
  createAccount,
  createConversation,
  loginAs,
  type Reply,
  sendMessage,
} from '../harness/api-client.js';
import {
  asMessageTruth,
  asPollTruth,
  asReceiptsTruth,
  assertListAndUnreadMatch,
  historyTruth,
  pollTruth,
  receiptsTruth,
} from '../harness/messaging-truth.js';
import {
  createDatabase,
  startPostgresServer,
  type TestPostgresServer,
} from '../harness/postgres-server.js';
import { generousRateLimits, type RedisPair, startRedisPair } from '../harness/private-servers.js';
import {
  getOperations,
  type ReadCall,
  type ReadWorld,
  type RecordedAnswer,
  readCalls,
  recordAnswers,
} from '../harness/read-surface.js';
import type { TestRedisServer } from '../harness/redis-server.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import { waitFor } from '../harness/wait-for.js';

// Graceful degradation, against a real api process with its own PostgreSQL and its own Redis pair,
// because this file stops and restarts all three: with Redis gone every read still answers, from
// PostgreSQL, with the same body; writes commit; /readyz says degraded; Redis is used again when it
// returns. With PostgreSQL gone, writes answer 503 and leave nothing behind; the api serves again
// when it returns. No restart of the api anywhere.

const names = ['ann', 'ben', 'cat', 'root'] as const;
type Name = (typeof names)[number];

async function readyz(baseUrl: string) {
  const response = await fetch(`${baseUrl}/readyz`);
  return {
    status: response.status,
    body: (await response.json()) as {
      status: string;
      checks: Record<string, { ok: boolean }>;
    },
  };
}

function assertStatus(reply: Reply, status: number, context: string) {
  assert.equal(reply.status, status, `${context}: ${JSON.stringify(reply.body)}`);
}

/** Every recorded read answers as it did in `baseline` (same status, same normalised body). */
function assertSameAnswers(
  baseline: ReadonlyMap<string, RecordedAnswer>,
  now: ReadonlyMap<string, RecordedAnswer>,
  when: string,
) {
  assert.deepEqual([...now.keys()].sort(), [...baseline.keys()].sort(), `${when}: the same reads`);
  for (const [call, answer] of baseline) {
    assert.deepEqual(now.get(call), answer, `${when}: ${call}`);
  }
}

describe('graceful degradation: Redis down, PostgreSQL down (private servers)', () => {
  let postgres: TestPostgresServer;
  let pair: RedisPair;
  let state: TestRedisServer;
  let cache: TestRedisServer;
  let api: ServiceProcess;
  let sql: pg.Pool;
  let databaseUrl: string;
  const ids = {} as Record<Name, string>;
  const tokens = {} as Record<Name, string>;
  /** Conversation ids: group, direct ann–ben, direct ann–cat (ann deleted it once), direct
   *  ben–cat (ben deleted it, nothing newer). */
  const chats = { group: '', annBen: '', annCat: '', benCat: '' };
  let world: ReadWorld<Name>;
  let calls: Array<ReadCall<Name>>;
  let baseline: Map<string, RecordedAnswer>;
  let loggedOutToken = '';
  const webhooks: string[] = [];
  /** Polls by conversation, with their option ids. */
  const polls: Array<{ conversationId: string; id: string; options: string[] }> = [];

  const call = (who: Name, method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: tokens[who], body });
  const send = (who: Name, conversationId: string, text: string) =>
    sendMessage(api.baseUrl, tokens[who], conversationId, text);
  const create = (who: Name, body: unknown) => createConversation(api.baseUrl, tokens[who], body);
  const createPoll = async (who: Name, conversationId: string, options: string[]) => {
    const reply = await call(who, 'POST', `/conversations/${conversationId}/polls`, {
      question: `${options.join(' or ')}?`,
      options,
    });
    assertStatus(reply, 201, 'create poll');
    const poll = {
      conversationId,
      id: String(reply.body.id),
      options: (reply.body.options as Array<{ id: string }>).map((option) => option.id),
    };
    polls.push(poll);
    return poll;
  };
  const vote = (who: Name, poll: { conversationId: string; id: string }, optionId?: string) =>
    call(who, 'PUT', `/conversations/${poll.conversationId}/polls/${poll.id}/vote`, { optionId });
  const ok = async (who: Name, method: string, path: string, status: number, body?: unknown) =>
    assertStatus(await call(who, method, path, body), status, `${who} ${method} ${path}`);

  /** Every person's list, unread counts, receipts and first pages equal a recompute from
   *  PostgreSQL. */
  const assertServedEqualsPostgres = async (when: string) => {
    for (const who of names) {
      await assertListAndUnreadMatch(
        sql,
        ids[who],
        (path) => call(who, 'GET', path),
        `${when}: ${who}`,
      );
    }
    for (const conversation of world.conversations) {
      const receipts = await receiptsTruth(sql, conversation.id);
      for (const who of conversation.members) {
        const history = await call(who, 'GET', `/conversations/${conversation.id}/messages`);
        assert.deepEqual(
          asMessageTruth(history.body.messages as Array<Record<string, unknown>>),
          await historyTruth(sql, conversation.id, ids[who], 50),
          `${when}: ${who}'s first page of ${conversation.id}`,
        );
        const served = await call(who, 'GET', `/conversations/${conversation.id}/receipts`);
        assert.deepEqual(
          asReceiptsTruth(served.body.receipts as Array<Record<string, unknown>>),
          receipts,
          `${when}: receipts of ${conversation.id}`,
        );
      }
    }
    for (const poll of polls) {
      const conversation = world.conversations.find((c) => c.id === poll.conversationId);
      for (const who of conversation?.members ?? []) {
        const served = await call(
          who,
          'GET',
          `/conversations/${poll.conversationId}/polls/${poll.id}`,
        );
        assertStatus(served, 200, `${when}: poll ${poll.id}`);
        assert.deepEqual(
          asPollTruth(served.body),
          await pollTruth(sql, poll.id, ids[who]),
          `${when}: ${who}'s view of poll ${poll.id}`,
        );
      }
    }
  };

  /** The cache answers again: cache hits grow and the breaker reads closed. */
  const waitForCacheInUse = (when: string) =>
    waitFor(
      `${when}: cache hits growing and the breaker closed`,
      async () => {
        const hits = await scrapeMetric(api.baseUrl, 'cache_requests_total', { result: 'hit' });
        await call('ann', 'GET', '/me');
        await call('ann', 'GET', '/me');
        const after = await scrapeMetric(api.baseUrl, 'cache_requests_total', { result: 'hit' });
        const breaker = await scrapeMetric(api.baseUrl, 'redis_breaker_state', { redis: 'cache' });
        return after > hits && breaker === 0;
      },
      30_000,
    );

  before(async () => {
    postgres = await startPostgresServer();
    databaseUrl = await createDatabase(postgres.url('postgres'), 'quad');
    await runMigrations(databaseUrl, createLogger('test', 'silent'));
    sql = new pg.Pool({ connectionString: databaseUrl });
    // PostgreSQL is stopped on purpose below: an idle client losing its connection is expected.
    sql.on('error', () => {});
    pair = await startRedisPair();
    ({ state, cache } = pair);
    for (const name of names) {
      ids[name] = (
        await createAccount(databaseUrl, name, name === 'root' ? 'admin' : 'student')
      ).id;
    }
    api = await startService(
      'api',
      pair.environment('api', databaseUrl, { RATE_LIMITS: generousRateLimits }),
    );
    await waitFor('api ready', async () => (await readyz(api.baseUrl)).body.status === 'ready');
    for (const name of names) tokens[name] = (await loginAs(api.baseUrl, name)).token;
  });
  after(async () => {
    await api?.stop();
    await sql?.end();
    await Promise.all([pair?.dispose(), postgres?.dispose()]);
  });

  it('seeds conversations, messages, receipts and per-user deletes; every read answers 2xx', async () => {
    chats.group = await create('ann', {
      kind: 'group',
      title: 'Physics 4B',
      memberIds: [ids.ben, ids.cat],
    });
    chats.annBen = await create('ann', { kind: 'direct', userId: ids.ben });
    chats.annCat = await create('ann', { kind: 'direct', userId: ids.cat });
    chats.benCat = await create('ben', { kind: 'direct', userId: ids.cat });

    await send('ann', chats.group, 'g1');
    const g2 = await send('ben', chats.group, 'g2');
    const g3 = await send('cat', chats.group, 'g3');
    const g4 = await send('ann', chats.group, 'g4');
    await ok('ann', 'PATCH', `/conversations/${chats.group}/messages/${g4}`, 200, {
      body: 'g4, edited',
    });
    await ok('ben', 'DELETE', `/conversations/${chats.group}/messages/${g2}`, 204);
    for (let index = 1; index <= 5; index++) {
      await send(index % 2 === 0 ? 'ann' : 'ben', chats.annBen, `d${index}`);
    }
    await send('cat', chats.annCat, 'e1 (ann deletes this for herself)');
    await ok('ann', 'DELETE', `/conversations/${chats.annCat}`, 204);
    await send('cat', chats.annCat, 'e2 (ann sees only this)');
    await send('ben', chats.benCat, 'f1');
    await send('cat', chats.benCat, 'f2');
    await ok('ben', 'DELETE', `/conversations/${chats.benCat}`, 204);

    await ok('ben', 'POST', `/conversations/${chats.group}/read`, 200, { upToMessageId: g3 });
    await ok('cat', 'POST', `/conversations/${chats.group}/read`, 200, { upToMessageId: g4 });
    const history = await call('ann', 'GET', `/conversations/${chats.annBen}/messages?limit=3`);
    const third = (history.body.messages as Array<{ id: string }>)[2]?.id;
    await ok('ann', 'POST', `/conversations/${chats.annBen}/read`, 200, { upToMessageId: third });

    const trip = await createPoll('ann', chats.group, ['Museum', 'Zoo', 'Planetarium']);
    assertStatus(await vote('ben', trip, trip.options[0]), 200, 'vote');
    assertStatus(await vote('cat', trip, trip.options[1]), 200, 'vote');
    assertStatus(await vote('ben', trip, trip.options[1]), 200, 'change vote');
    await createPoll('cat', chats.group, ['Monday', 'Friday']);
    const quiz = await createPoll('ben', chats.group, ['Easy', 'Hard']);
    assertStatus(await vote('ann', quiz, quiz.options[1]), 200, 'vote');
    const lunch = await createPoll('ben', chats.annBen, ['Yes', 'No']);
    assertStatus(await vote('ann', lunch, lunch.options[0]), 200, 'vote');
    await ok('ben', 'POST', `/conversations/${chats.annBen}/polls/${lunch.id}/close`, 200);

    const webhook = await call('root', 'POST', '/admin/webhooks', {
      url: 'https://hooks.school.example/quad',
      events: ['message.created', 'receipt.advanced'],
    });
    assertStatus(webhook, 201, 'create webhook');
    webhooks.push(String(webhook.body.id));

    // A second session for ben, logged out: its token must stay refused whatever Redis does.
    loggedOutToken = (await loginAs(api.baseUrl, 'ben')).token;
    assertStatus(
      await callApi(api.baseUrl, 'POST', '/auth/logout', { token: loggedOutToken }),
      204,
      'logout',
    );

    world = {
      people: names,
      admin: 'root',
      userIds: ids,
      conversations: [
        { id: chats.group, members: ['ann', 'ben', 'cat'] },
        { id: chats.annBen, members: ['ann', 'ben'] },
        { id: chats.annCat, members: ['ann', 'cat'] },
        { id: chats.benCat, members: ['ben', 'cat'] },
      ],
      conversationChildren: { pollId: polls },
      pathValues: { 'webhooks/{id}': webhooks },
      // Words of the seeded messages (and of those sent later), for /search.
      queryValues: { q: ['edited', 'sees', 'while'] },
    };
    const operations = await getOperations(api.baseUrl);
    const templates = operations.map((operation) => operation.template);
    for (const known of ['/conversations/{id}/messages', '/me/unread', '/users/{id}']) {
      assert.ok(templates.includes(known), `${known} among ${templates.join(' ')}`);
    }
    calls = readCalls(operations, world, 'test/integration/degradation.test.ts');
    // Twice: the first pass fills the cache, the second is what a warm api answers.
    await recordAnswers(api.baseUrl, calls, tokens);
    baseline = await recordAnswers(api.baseUrl, calls, tokens);
    for (const [read, answer] of baseline) {
      assert.ok(answer.status >= 200 && answer.status < 300, `${read}: ${answer.status}`);
    }
    assert.ok(
      [...baseline.keys()].some((read) => read.includes('cursor=')),
      'a second page was read',
    );
    assert.ok((await scrapeMetric(api.baseUrl, 'cache_requests_total', { result: 'hit' })) > 0);
    await assertServedEqualsPostgres('seeded');
  });

  it('both Redis stopped: every read answers as before, from PostgreSQL, and costs Redis nothing', async () => {
    await Promise.all([state.stop(), cache.stop()]);
    const degraded = await waitFor('degraded', async () => {
      const result = await readyz(api.baseUrl);
      return result.body.status === 'degraded' ? result : undefined;
    });
    assert.equal(degraded.status, 200, 'degraded still serves');
    assert.equal(degraded.body.checks.redis?.ok, false);
    assert.equal(degraded.body.checks['redis-cache']?.ok, false);
    assert.equal(degraded.body.checks.postgres?.ok, true);

    assertSameAnswers(baseline, await recordAnswers(api.baseUrl, calls, tokens), 'Redis down');

    // The breaker refuses at once rather than asking a client that is not connected.
    assert.equal(await scrapeMetric(api.baseUrl, 'redis_breaker_state', { redis: 'cache' }), 2);
    const refusedBefore = await scrapeMetric(api.baseUrl, 'redis_breaker_rejections_total', {
      redis: 'cache',
    });
    await recordAnswers(api.baseUrl, calls, tokens);
    const refused =
      (await scrapeMetric(api.baseUrl, 'redis_breaker_rejections_total', { redis: 'cache' })) -
      refusedBefore;
    assert.ok(refused >= calls.length, `${refused} calls refused for ${calls.length} reads`);

    // Sessions are checked against PostgreSQL: a logged-out one stays logged out.
    assertStatus(
      await callApi(api.baseUrl, 'GET', '/me', { token: loggedOutToken }),
      401,
      'logged-out token while Redis is down',
    );
    await assertServedEqualsPostgres('Redis down');
  });

  it('both Redis stopped: login, logout and writes commit, visible through reads and in SQL', async () => {
    const fresh = await loginAs(api.baseUrl, 'ann');
    const me = await callApi(api.baseUrl, 'GET', '/me', { token: fresh.token });
    assertStatus(me, 200, 'a session opened while Redis is down');
    assertStatus(
      await callApi(api.baseUrl, 'POST', '/auth/logout', { token: fresh.token }),
      204,
      'logout',
    );
    assertStatus(await callApi(api.baseUrl, 'GET', '/me', { token: fresh.token }), 401, 'after');

    const key = crypto.randomUUID();
    const sent = await call('ben', 'POST', `/conversations/${chats.annBen}/messages`, {
      body: 'sent while Redis is down',
      idempotencyKey: key,
    });
    assertStatus(sent, 201, 'send');
    const stored = await sql.query(
      'SELECT id FROM messages WHERE sender_id = $1 AND idempotency_key = $2',
      [ids.ben, key],
    );
    assert.equal(stored.rows[0]?.id, sent.body.id);
    const history = await call('ann', 'GET', `/conversations/${chats.annBen}/messages`);
    assert.equal((history.body.messages as Array<{ id: string }>)[0]?.id, sent.body.id);
    const unread = await call('ann', 'GET', '/me/unread');
    assert.ok(
      (unread.body.conversations as Array<{ conversationId: string; unreadCount: number }>).some(
        (entry) => entry.conversationId === chats.annBen && entry.unreadCount > 0,
      ),
    );

    const read = await call('ann', 'POST', `/conversations/${chats.annBen}/read`, {
      upToMessageId: sent.body.id,
    });
    assertStatus(read, 200, 'mark read');
    const receipt = await sql.query(
      'SELECT last_read_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
      [chats.annBen, ids.ann],
    );
    assert.equal(Number(receipt.rows[0]?.last_read_seq), read.body.lastReadSeq);

    const club = await create('cat', { kind: 'group', title: 'Outage club', memberIds: [ids.ann] });
    const members = await sql.query(
      'SELECT user_id FROM conversation_members WHERE conversation_id = $1 ORDER BY user_id',
      [club],
    );
    assert.deepEqual(
      members.rows.map((row) => row.user_id),
      [ids.ann, ids.cat].sort(),
    );
    const annList = await call('ann', 'GET', '/conversations');
    assert.ok(
      (annList.body.conversations as Array<{ id: string }>).some((item) => item.id === club),
    );
    await send('ann', club, 'hello from the outage');
    world.conversations = [...world.conversations, { id: club, members: ['ann', 'cat'] }];

    const trip = polls[0] as (typeof polls)[number];
    const voted = await vote('ann', trip, trip.options[2]);
    assertStatus(voted, 200, 'vote while Redis is down');
    const tally = await pollTruth(sql, trip.id, ids.ann);
    assert.deepEqual(asPollTruth(voted.body), tally);
    assert.equal(tally.myVote, trip.options[2]);
    const retracted = await call(
      'cat',
      'DELETE',
      `/conversations/${trip.conversationId}/polls/${trip.id}/vote`,
    );
    assertStatus(retracted, 200, 'retract while Redis is down');
    const poll = await createPoll('cat', club, ['Tea', 'Coffee']);
    assertStatus(await vote('ann', poll, poll.options[1]), 200, 'vote in a new poll');

    const renamed = await call('ann', 'PATCH', '/me', { displayName: 'Ann During Outage' });
    assertStatus(renamed, 200, 'edit profile');
    const seenByBen = await call('ben', 'GET', `/users/${ids.ann}`);
    assert.equal(seenByBen.body.displayName, 'Ann During Outage');
    const row = await sql.query('SELECT display_name FROM users WHERE id = $1', [ids.ann]);
    assert.equal(row.rows[0]?.display_name, 'Ann During Outage');

    await assertServedEqualsPostgres('writes while Redis is down');
    const ready = await readyz(api.baseUrl);
    assert.deepEqual([ready.status, ready.body.status], [200, 'degraded']);
  });

  it('Redis back: used again without a restart, and what it serves is right', async () => {
    await Promise.all([state.restart(), cache.restart()]);
    await waitFor('ready', async () => (await readyz(api.baseUrl)).body.status === 'ready', 30_000);
    await waitForCacheInUse('Redis back');
    // Twice: the first pass refills the cache, the second is served from it.
    await assertServedEqualsPostgres('Redis back, refilling');
    await assertServedEqualsPostgres('Redis back, warm');
    assert.equal(api.child.exitCode, null, 'never restarted');
    assertStatus(
      await callApi(api.baseUrl, 'GET', '/me', { token: loggedOutToken }),
      401,
      'logged-out token once Redis is back',
    );
  });

  it('only the cache Redis stopped: reads answer as before, writes commit, then it is used again', async () => {
    calls = readCalls(
      await getOperations(api.baseUrl),
      world,
      'test/integration/degradation.test.ts',
    );
    await recordAnswers(api.baseUrl, calls, tokens);
    baseline = await recordAnswers(api.baseUrl, calls, tokens);

    await cache.stop();
    const degraded = await waitFor('degraded', async () => {
      const result = await readyz(api.baseUrl);
      return result.body.status === 'degraded' ? result : undefined;
    });
    assert.equal(degraded.status, 200);
    assert.equal(degraded.body.checks.redis?.ok, true, 'the state Redis is still there');
    assert.equal(degraded.body.checks['redis-cache']?.ok, false);
    assertSameAnswers(baseline, await recordAnswers(api.baseUrl, calls, tokens), 'cache down');

    const sent = await send('cat', chats.group, 'sent while the cache is down');
    const history = await call('ben', 'GET', `/conversations/${chats.group}/messages`);
    assert.equal((history.body.messages as Array<{ id: string }>)[0]?.id, sent);
    await ok('ben', 'POST', `/conversations/${chats.group}/read`, 200, { upToMessageId: sent });
    const trip = polls[0] as (typeof polls)[number];
    assertStatus(await vote('cat', trip, trip.options[0]), 200, 'vote while the cache is down');
    await assertServedEqualsPostgres('cache down');

    await cache.restart();
    await waitForCacheInUse('cache back');
    await assertServedEqualsPostgres('cache back, refilling');
    await assertServedEqualsPostgres('cache back, warm');
    assert.equal((await readyz(api.baseUrl)).body.status, 'ready');
  });

  it('state Redis hung: once the breaker opens, rate-limit checks stop waiting on it', async () => {
    const connection = {
      port: state.port,
      username: 'default',
      password: state.passwords.default,
    };
    const admin = new Redis(connection);
    // MONITOR reports each command as Redis runs it, so also those a pause held back; only the
    // rate-limit scripts count here (the presence sweep runs its own scripts meanwhile). Its
    // connection is made here, not by admin.monitor(): a command line that arrives with
    // MONITOR's OK makes ioredis emit 'error', admin.monitor() then rejects and keeps the
    // connection it opened, which nothing closes and which reconnects, unhandled, once this
    // file's Redis is disposed. This one is closed below whatever happens, and its listener
    // absorbs those early lines (they predate the pause and are not counted anyway).
    const monitor = new Redis({ ...connection, monitor: true });
    monitor.on('error', () => {});
    let monitoring = false;
    monitor.once('monitoring', () => {
      monitoring = true;
    });
    const rateLimitScripts: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (/^eval/i.test(String(args[0])) && String(args[3]).includes(':rl:')) {
        rateLimitScripts.push(String(args[3]));
      }
    });
    try {
      await waitFor('the MONITOR connection', async () => monitoring);
      assert.equal(await admin.ping(), 'PONG');
      const refusedBefore = await scrapeMetric(api.baseUrl, 'redis_breaker_rejections_total', {
        redis: 'state',
      });
      // Up, but answering nobody for longer than the requests below take.
      await admin.call('CLIENT', 'PAUSE', '8000', 'ALL');
      const requests = 20;
      for (let index = 0; index < requests; index++) await ok('ann', 'GET', '/me', 200);
      assert.equal(
        await scrapeMetric(api.baseUrl, 'redis_breaker_state', { redis: 'state' }),
        2,
        'the state Redis breaker is open',
      );
      const refused =
        (await scrapeMetric(api.baseUrl, 'redis_breaker_rejections_total', { redis: 'state' })) -
        refusedBefore;
      assert.equal(await admin.ping(), 'PONG', 'the pause is over');
      await waitFor('the held-back commands to run', async () => {
        await admin.ping();
        return rateLimitScripts.length >= policy.redisBreaker.consecutiveFailures;
      });
      // The checks that opened the breaker (each waited out the command timeout), and at most
      // a probe after a cooldown; none of the other requests' checks.
      assert.ok(
        rateLimitScripts.length <= policy.redisBreaker.consecutiveFailures + 1,
        `${rateLimitScripts.length} rate-limit checks of ${requests} requests reached the hung Redis`,
      );
      assert.ok(refused >= requests - rateLimitScripts.length, `${refused} checks refused`);
    } finally {
      admin.disconnect();
      monitor.disconnect();
    }
    await waitFor('the state breaker to close', async () => {
      await call('ann', 'GET', '/me');
      return (await scrapeMetric(api.baseUrl, 'redis_breaker_state', { redis: 'state' })) === 0;
    });
  });

  it('cache Redis hung while writes commit: once it answers again, nothing stale is served', async () => {
    // Warm every entry the writes below make stale.
    await assertServedEqualsPostgres('before the hang');
    await assertServedEqualsPostgres('warm before the hang');
    for (const who of names) await ok(who, 'GET', `/users/${ids.ann}`, 200);
    const device = (await loginAs(api.baseUrl, 'cat')).token;
    assertStatus(await callApi(api.baseUrl, 'GET', '/me', { token: device }), 200, 'warm session');
    // A search cached before the hang, for a word only a message sent during it contains.
    const word = `hangword${Date.now().toString(36)}`;
    const searchWord = () => call('ann', 'GET', `/search?q=${word}`);
    assert.deepEqual((await searchWord()).body.results, [], 'nothing found before the hang');
    const admin = new Redis({
      port: cache.port,
      username: 'default',
      password: cache.passwords.default,
    });
    try {
      // Up and keeping its data, but answering nobody: unlike a restart, nothing is wiped.
      await admin.call('CLIENT', 'PAUSE', '6000', 'ALL');
      await waitFor('the breaker to open', async () => {
        await call('ann', 'GET', '/me');
        return (await scrapeMetric(api.baseUrl, 'redis_breaker_state', { redis: 'cache' })) === 2;
      });
      // Writes while the breaker refuses every cache call: their invalidations never reach
      // Redis, and they all commit.
      await send('ben', chats.annBen, `sent while the cache hangs: ${word}`);
      const newest = await send('cat', chats.group, 'also sent while the cache hangs');
      await ok('ann', 'POST', `/conversations/${chats.group}/read`, 200, { upToMessageId: newest });
      await ok('cat', 'DELETE', `/conversations/${chats.annCat}`, 204);
      await ok('ann', 'PATCH', '/me', 200, { displayName: 'Ann After The Hang' });
      assertStatus(
        await callApi(api.baseUrl, 'POST', '/auth/logout', { token: device }),
        204,
        'logout while the cache hangs',
      );
      const trip = polls[0] as (typeof polls)[number];
      assertStatus(await vote('ben', trip, trip.options[2]), 200, 'vote while the cache hangs');
      assert.equal(await admin.ping(), 'PONG', 'the pause is over');
    } finally {
      admin.disconnect();
    }
    await waitForCacheInUse('cache answering again');
    await assertServedEqualsPostgres('after the hang');
    for (const who of names) {
      const profile = await call(who, 'GET', `/users/${ids.ann}`);
      assert.equal(profile.body.displayName, 'Ann After The Hang', `${who} sees the new name`);
    }
    assertStatus(
      await callApi(api.baseUrl, 'GET', '/me', { token: device }),
      401,
      'a session logged out while the cache hung stays logged out',
    );
    const found = (await searchWord()).body.results as Array<{ message: { body: string } }>;
    assert.deepEqual(
      found.map((result) => result.message.body),
      [`sent while the cache hangs: ${word}`],
      'a search cached before the hang finds the message sent during it',
    );
  });

  it('PostgreSQL down: writes answer 503 and leave nothing; it serves again once PostgreSQL is back', async () => {
    // Warm sessions: requests authenticate from Redis, so what fails is the write itself.
    for (const who of names) await ok(who, 'GET', '/me', 200);
    const countRows = async () => {
      const counts = await sql.query<{ messages: number; conversations: number }>(
        `SELECT (SELECT count(*)::int FROM messages) AS messages,
                (SELECT count(*)::int FROM conversations) AS conversations`,
      );
      return counts.rows[0];
    };
    const trip = polls[0] as (typeof polls)[number];
    const votesBefore = await pollTruth(sql, trip.id, ids.ann);
    const before = await countRows();
    const receiptBefore = await receiptsTruth(sql, chats.group);
    const latest = await call('cat', 'GET', `/conversations/${chats.group}/messages?limit=1`);
    const latestId = (latest.body.messages as Array<{ id: string }>)[0]?.id;

    await postgres.stop();
    const unavailable = await waitFor('unavailable', async () => {
      const result = await readyz(api.baseUrl);
      return result.body.status === 'unavailable' ? result : undefined;
    });
    assert.equal(unavailable.status, 503);

    const key = crypto.randomUUID();
    const writes: Array<[Name, string, string, unknown]> = [
      [
        'ben',
        'POST',
        `/conversations/${chats.group}/messages`,
        { body: 'lost?', idempotencyKey: key },
      ],
      [
        'ann',
        'POST',
        '/conversations',
        { kind: 'group', title: 'Never made', memberIds: [ids.ben] },
      ],
      ['ann', 'POST', `/conversations/${chats.group}/read`, { upToMessageId: latestId }],
      ['ann', 'PATCH', '/me', { displayName: 'Ann Without Postgres' }],
      [
        'ann',
        'PUT',
        `/conversations/${chats.group}/polls/${trip.id}/vote`,
        { optionId: trip.options[0] },
      ],
    ];
    for (const [who, method, path, body] of writes) {
      const reply = await call(who, method, path, body);
      assertStatus(reply, 503, `${method} ${path} while PostgreSQL is down`);
      assert.equal(reply.headers.get('content-type'), 'application/problem+json');
      assert.equal(reply.body.code, 'service_unavailable');
      assert.ok(reply.headers.get('retry-after'), 'tells the client when to retry');
    }
    // Cold caches: the session itself cannot be checked. Still 503, never a 401 that would
    // send every client back to the login screen during a database outage.
    const admin = new Redis({
      port: cache.port,
      username: 'default',
      password: cache.passwords.default,
    });
    try {
      assert.equal(await admin.flushall(), 'OK');
    } finally {
      admin.disconnect();
    }
    for (const [who, method, path, body] of writes) {
      const reply = await call(who, method, path, body);
      assertStatus(reply, 503, `${method} ${path} with cold caches while PostgreSQL is down`);
      assert.equal(reply.body.code, 'service_unavailable');
    }

    await postgres.restart();
    await waitFor('ready again', async () => {
      const result = await readyz(api.baseUrl);
      // Thrown, so that a timeout says which check is still failing.
      if (result.body.status !== 'ready') throw new Error(JSON.stringify(result.body));
      return true;
    });
    assert.deepEqual(await countRows(), before, 'no message, no conversation');
    const lost = await sql.query(
      'SELECT count(*)::int AS n FROM messages WHERE sender_id = $1 AND idempotency_key = $2',
      [ids.ben, key],
    );
    assert.equal(lost.rows[0]?.n, 0);
    const memberless = await sql.query(
      `SELECT count(*)::int AS n FROM conversations c
       WHERE NOT EXISTS (SELECT 1 FROM conversation_members m WHERE m.conversation_id = c.id)`,
    );
    assert.equal(memberless.rows[0]?.n, 0, 'no half-created conversation');
    const never = await sql.query(
      "SELECT count(*)::int AS n FROM conversations WHERE title = 'Never made'",
    );
    assert.equal(never.rows[0]?.n, 0);
    assert.deepEqual(await receiptsTruth(sql, chats.group), receiptBefore);
    assert.deepEqual(await pollTruth(sql, trip.id, ids.ann), votesBefore, 'no vote');
    const name = await sql.query('SELECT display_name FROM users WHERE id = $1', [ids.ann]);
    assert.equal(name.rows[0]?.display_name, 'Ann After The Hang');

    // Served again, same process: the retried send commits exactly once.
    const retried = await call('ben', 'POST', `/conversations/${chats.group}/messages`, {
      body: 'lost?',
      idempotencyKey: key,
    });
    assertStatus(retried, 201, 'retry after PostgreSQL is back');
    const once = await sql.query(
      'SELECT count(*)::int AS n FROM messages WHERE sender_id = $1 AND idempotency_key = $2',
      [ids.ben, key],
    );
    assert.equal(once.rows[0]?.n, 1);
    await create('ann', { kind: 'group', title: 'Made after all', memberIds: [ids.ben] });
    await ok('ann', 'PATCH', '/me', 200, { displayName: 'Ann Again' });
    await assertServedEqualsPostgres('PostgreSQL back');
    assert.equal(api.child.exitCode, null, 'never restarted');
  });
});
