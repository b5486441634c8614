import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createLogger } from '../../lib/observability/logger.js';
import { type PollCounts, PollResultsStore } from '../../lib/polls/index.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import {
  type AccessRow,
  assertAccessTable,
  assertTableCoversTags,
} from '../harness/access-table.js';
import { callApi as call, createAccount, loginAs, type Reply } from '../harness/api-client.js';
import type { Person } from '../harness/private-api.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedServers,
  uniqueName,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// Polls in conversations, against a real api process, PostgreSQL and a private Redis pair (private
// so that FLUSHALL and stopping the cache Redis concern this test alone): create, vote, change,
// retract, close; results served from the Redis hash always equal to a GROUP BY over poll_votes,
// under concurrent vote changes, after FLUSHALL and without Redis.

interface PollBody {
  id: string;
  question: string;
  closed: boolean;
  closedAt: string | null;
  options: Array<{ id: string; text: string; votes: number }>;
  totalVotes: number;
  myVote: string | null;
}

const names = ['ann', 'ben', 'cat', 'dan', 'eve'] as const;
type Name = (typeof names)[number];
const VOTERS = 32;

describe('polls: one vote per member, results from Redis always equal to PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let postgres: pg.Pool;
  let state: TestRedisServer;
  let cache: TestRedisServer;
  let cacheClient: Redis;
  let api: ServiceProcess;
  const keyPrefix = `quad:${uniqueName('polls')}:`;
  const people = Object.fromEntries(names.map((name) => [name, { id: '', token: '' }])) as Record<
    Name,
    Person
  >;
  const voters: Person[] = [];
  /** ann's group: ann owner, cat admin, ben, dan and the voters members; eve is a stranger. */
  let conversationId = '';

  const login = async (username: string) => (await loginAs(api.baseUrl, username)).token;

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    postgres = new pg.Pool({ connectionString: database.url, max: 2 });
    state = await startRedisServer('state');
    cache = await startRedisServer('cache', state.passwords);
    for (const name of names) people[name].id = (await createAccount(database.url, name)).id;
    for (let index = 0; index < VOTERS; index++) {
      voters.push({ id: (await createAccount(database.url, `voter${index}`)).id, token: '' });
    }
    api = await startService('api', {
      ...serviceEnvironment('api', database.url, { state: state.port, cache: cache.port }),
      REDIS_PASSWORD: state.passwords.api,
      REDIS_KEY_PREFIX: keyPrefix,
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'login-account': { limit: 1_000, windowMs: 60_000 },
      }),
    });
    for (const name of names) people[name].token = await login(name);
    for (const [index, voter] of voters.entries()) voter.token = await login(`voter${index}`);
    cacheClient = new Redis({
      port: cache.port,
      password: cache.passwords.default,
      lazyConnect: true,
    });
    // The last test stops the cache Redis on purpose; its refused reconnects are expected.
    cacheClient.on('error', () => {});
    await cacheClient.connect();

    const { ann, ben, cat, dan } = people;
    const group = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: {
        kind: 'group',
        title: 'Year 10 tutor group',
        memberIds: [ben.id, dan.id, ...voters.map((voter) => voter.id)],
      },
    });
    assertStatus(group, 201);
    conversationId = String(group.body.id);
    assertStatus(
      await call(api.baseUrl, 'POST', `/conversations/${conversationId}/members`, {
        token: ann.token,
        body: { userId: cat.id, role: 'admin' },
      }),
      200,
    );
  });
  after(async () => {
    cacheClient?.disconnect();
    await api?.stop();
    await postgres?.end();
    await Promise.all([state?.dispose(), cache?.dispose()]);
    await database?.drop();
  });

  const pollsPath = () => `/conversations/${conversationId}/polls`;
  const create = async (who: Person, question: string, options: string[]): Promise<PollBody> => {
    const reply = await call(api.baseUrl, 'POST', pollsPath(), {
      token: who.token,
      body: { question, options },
    });
    assertStatus(reply, 201);
    return reply.body as unknown as PollBody;
  };
  const read = async (who: Person, pollId: string): Promise<PollBody> => {
    const reply = await call(api.baseUrl, 'GET', `${pollsPath()}/${pollId}`, { token: who.token });
    assertStatus(reply, 200);
    return reply.body as unknown as PollBody;
  };
  const vote = (who: Person, pollId: string, optionId: string) =>
    call(api.baseUrl, 'PUT', `${pollsPath()}/${pollId}/vote`, {
      token: who.token,
      body: { optionId },
    });
  const retract = (who: Person, pollId: string) =>
    call(api.baseUrl, 'DELETE', `${pollsPath()}/${pollId}/vote`, { token: who.token });
  const close = (who: Person, pollId: string) =>
    call(api.baseUrl, 'POST', `${pollsPath()}/${pollId}/close`, { token: who.token });
  /** Votes per option text, as a reply shows them. */
  const tally = (poll: PollBody) =>
    Object.fromEntries(poll.options.map((option) => [option.text, option.votes]));

  /** The truth: a GROUP BY over poll_votes (every option, zeros included) and the version. */
  const truth = async (pollId: string) => {
    const counted = await postgres.query<{ option_id: string; votes: number }>(
      `SELECT o.id AS option_id, count(v.user_id)::int AS votes
       FROM poll_options o LEFT JOIN poll_votes v ON v.poll_id = o.poll_id AND v.option_id = o.id
       WHERE o.poll_id = $1 GROUP BY o.id`,
      [pollId],
    );
    const version = await postgres.query<{ version: string }>(
      'SELECT version FROM polls WHERE id = $1',
      [pollId],
    );
    return {
      votes: Object.fromEntries(counted.rows.map((row) => [row.option_id, row.votes])),
      version: Number(version.rows[0]?.version),
    };
  };
  const servedVotes = (poll: PollBody) =>
    Object.fromEntries(poll.options.map((option) => [option.id, option.votes]));
  const hashKey = (pollId: string) => `${keyPrefix}cache:poll-results:{poll:${pollId}}:results`;
  /** The result hash as Redis holds it: votes per option id, and its version. */
  const hash = async (pollId: string) => {
    const { version, ...votes } = await cacheClient.hgetall(hashKey(pollId));
    return {
      version: version === undefined ? undefined : Number(version),
      votes: Object.fromEntries(Object.entries(votes).map(([id, count]) => [id, Number(count)])),
    };
  };
  /** Served results, and the hash they now sit in, equal the GROUP BY at the current version. */
  const assertAgrees = async (pollId: string, context: string) => {
    const expected = await truth(pollId);
    const served = await read(people.ann, pollId);
    assert.deepEqual(servedVotes(served), expected.votes, `${context}: served`);
    assert.equal(
      served.totalVotes,
      Object.values(expected.votes).reduce((sum, count) => sum + count, 0),
      `${context}: total`,
    );
    assert.deepEqual(await hash(pollId), expected, `${context}: the hash in Redis`);
    return expected;
  };

  it('create, vote, change, repeat, retract and close; my vote and the results', async () => {
    const { ann, ben, cat, dan } = people;
    const poll = await create(ann, '  Which day for the museum trip?  ', [
      'Monday',
      'Tuesday',
      ' Wednesday ',
    ]);
    assert.equal(poll.question, 'Which day for the museum trip?');
    assert.deepEqual(tally(poll), { Monday: 0, Tuesday: 0, Wednesday: 0 });
    assert.equal(poll.totalVotes, 0);
    assert.equal(poll.myVote, null);
    assert.equal(poll.closed, false);
    const [monday, tuesday, wednesday] = poll.options.map((option) => option.id) as [
      string,
      string,
      string,
    ];

    const first = await vote(ben, poll.id, monday);
    assertStatus(first, 200);
    assert.equal(first.body.myVote, monday);
    assert.deepEqual(tally(first.body as unknown as PollBody), {
      Monday: 1,
      Tuesday: 0,
      Wednesday: 0,
    });
    // Repeating a vote is idempotent: nothing written, no new version.
    const versionBefore = (await truth(poll.id)).version;
    assertStatus(await vote(ben, poll.id, monday), 200);
    assert.equal((await truth(poll.id)).version, versionBefore);

    assertStatus(await vote(dan, poll.id, tuesday), 200);
    assertStatus(await vote(cat, poll.id, wednesday), 200);
    const changed = await vote(ben, poll.id, tuesday);
    assertStatus(changed, 200);
    assert.deepEqual(tally(changed.body as unknown as PollBody), {
      Monday: 0,
      Tuesday: 2,
      Wednesday: 1,
    });
    assert.equal(changed.body.totalVotes, 3);

    // Everyone sees the same counts and only their own vote.
    assert.equal((await read(ann, poll.id)).myVote, null);
    assert.equal((await read(ben, poll.id)).myVote, tuesday);
    assert.equal((await read(cat, poll.id)).myVote, wednesday);
    assert.deepEqual(tally(await read(ann, poll.id)), { Monday: 0, Tuesday: 2, Wednesday: 1 });

    const retracted = await retract(dan, poll.id);
    assertStatus(retracted, 200);
    assert.equal(retracted.body.myVote, null);
    assert.deepEqual(tally(retracted.body as unknown as PollBody), {
      Monday: 0,
      Tuesday: 1,
      Wednesday: 1,
    });
    assertStatus(await retract(dan, poll.id), 200);
    assert.equal((await read(ann, poll.id)).totalVotes, 2, 'a second retract changes nothing');
    await assertAgrees(poll.id, 'after the flow');

    // Only the creator or an owner or admin closes; a closed poll refuses votes with 409.
    const byMember = await close(ben, poll.id);
    assertStatus(byMember, 403);
    assert.equal(byMember.body.code, 'forbidden');
    const closed = await close(ann, poll.id);
    assertStatus(closed, 200);
    assert.equal(closed.body.closed, true);
    assert.ok(closed.body.closedAt);
    assertStatus(await close(ann, poll.id), 200);
    for (const refused of [await vote(dan, poll.id, monday), await retract(ben, poll.id)]) {
      assertStatus(refused, 409);
      assert.equal(refused.body.code, 'poll_closed');
      assert.equal(refused.headers.get('content-type'), 'application/problem+json');
    }
    const final = await read(ben, poll.id);
    assert.deepEqual(tally(final), { Monday: 0, Tuesday: 1, Wednesday: 1 }, 'results stay');
    assert.equal(final.myVote, tuesday);

    // An admin closes anyone's poll; a member closes their own.
    const byDan = await create(dan, 'Bring lunch?', ['Yes', 'No']);
    assertStatus(await close(cat, byDan.id), 200);
    const danOwn = await create(dan, 'Coach or train?', ['Coach', 'Train']);
    assertStatus(await close(dan, danOwn.id), 200);
  });

  it('lists a conversation’s polls newest first, with results, by cursor', async () => {
    const { ben, cat } = people;
    const group = await call(api.baseUrl, 'POST', '/conversations', {
      token: ben.token,
      body: { kind: 'group', title: 'Chess club', memberIds: [cat.id] },
    });
    assertStatus(group, 201);
    const path = `/conversations/${String(group.body.id)}/polls`;
    const created: PollBody[] = [];
    for (let index = 0; index < 5; index++) {
      const reply = await call(api.baseUrl, 'POST', path, {
        token: ben.token,
        body: { question: `Question ${index}`, options: ['A', 'B'] },
      });
      assertStatus(reply, 201);
      created.push(reply.body as unknown as PollBody);
    }
    const voted = created[3] as PollBody;
    assertStatus(
      await call(api.baseUrl, 'PUT', `${path}/${voted.id}/vote`, {
        token: cat.token,
        body: { optionId: voted.options[1]?.id },
      }),
      200,
    );

    const seen: PollBody[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const query = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await call(api.baseUrl, 'GET', `${path}${query}`, { token: cat.token });
      assertStatus(page, 200);
      seen.push(...(page.body.polls as PollBody[]));
      cursor = page.body.nextCursor as string | undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen.map((poll) => poll.question),
      ['Question 4', 'Question 3', 'Question 2', 'Question 1', 'Question 0'],
    );
    const listed = seen.find((poll) => poll.id === voted.id);
    assert.deepEqual(listed && tally(listed), { A: 0, B: 1 });
    assert.equal(listed?.myVote, voted.options[1]?.id);

    const badCursor = await call(api.baseUrl, 'GET', `${path}?cursor=not-a-cursor`, {
      token: cat.token,
    });
    assertStatus(badCursor, 400);
    assert.equal(fieldCodes(badCursor).cursor, 'invalid_cursor');
    const tooMany = await call(api.baseUrl, 'GET', `${path}?limit=51`, { token: cat.token });
    assertStatus(tooMany, 400);
  });

  it('refuses bad polls and votes with clear problems', async () => {
    const { ann, ben } = people;
    const post = (body: unknown) =>
      call(api.baseUrl, 'POST', pollsPath(), { token: ann.token, body });

    const eleven = await post({
      question: 'Favourite number?',
      options: Array.from({ length: 11 }, (_, index) => `Option ${index}`),
    });
    assertStatus(eleven, 400);
    assert.equal(eleven.body.code, 'validation_failed');
    assert.equal(fieldCodes(eleven).options, 'too_big');
    assert.equal(
      fieldCodes(await post({ question: 'One?', options: ['Only'] })).options,
      'too_small',
    );

    const duplicates = await post({ question: 'Pick one', options: ['Yes', 'No', ' yes '] });
    assertStatus(duplicates, 400);
    assert.equal(fieldCodes(duplicates)['options.2'], 'custom');
    assert.match(JSON.stringify(duplicates.body.errors), /repeats options\.0/);

    const unknown = await post({ question: 'Pick one', options: ['A', 'B'], anonymous: true });
    assertStatus(unknown, 400);
    assert.equal(fieldCodes(unknown).anonymous, 'unknown_field');
    const long = await post({ question: 'q'.repeat(301), options: ['A', 'B'] });
    assert.equal(fieldCodes(long).question, 'too_big');
    const longOption = await post({ question: 'Pick', options: ['A', 'b'.repeat(101)] });
    assert.equal(fieldCodes(longOption)['options.1'], 'too_big');
    const blank = await post({ question: '   ', options: ['A', 'B'] });
    assert.equal(fieldCodes(blank).question, 'too_small');

    // An option of another poll, or of none, is not an option of this one.
    const one = await create(ann, 'Tea or coffee?', ['Tea', 'Coffee']);
    const other = await create(ann, 'Cats or dogs?', ['Cats', 'Dogs']);
    const foreign = await vote(ben, one.id, String(other.options[0]?.id));
    assertStatus(foreign, 404);
    assert.equal(foreign.body.code, 'not_found');
    assert.equal(foreign.body.detail, 'No such option in this poll.');
    assertStatus(await vote(ben, one.id, crypto.randomUUID()), 404);
    assert.equal((await read(ann, one.id)).totalVotes, 0, 'nothing was recorded');
    const notUuid = await vote(ben, one.id, 'tea');
    assertStatus(notUuid, 400);
    assert.ok(fieldCodes(notUuid).optionId);
    const extra = await call(api.baseUrl, 'PUT', `${pollsPath()}/${one.id}/vote`, {
      token: ben.token,
      body: { optionId: one.options[0]?.id, weight: 2 },
    });
    assertStatus(extra, 400);
    assert.equal(fieldCodes(extra).weight, 'unknown_field');

    // A poll of another conversation is not found here, even for a member of both.
    const elsewhere = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'direct', userId: ben.id },
    });
    const elsewherePoll = await call(
      api.baseUrl,
      'POST',
      `/conversations/${String(elsewhere.body.id)}/polls`,
      { token: ann.token, body: { question: 'Private?', options: ['Yes', 'No'] } },
    );
    assertStatus(elsewherePoll, 201);
    const crossed = await call(
      api.baseUrl,
      'GET',
      `${pollsPath()}/${String(elsewherePoll.body.id)}`,
      { token: ann.token },
    );
    assertStatus(crossed, 404);
    assert.equal(crossed.body.detail, 'No such poll.');
  });

  it(`${VOTERS} members changing their votes concurrently: served results equal the GROUP BY`, async () => {
    const poll = await create(people.ann, 'Which project?', [
      'Robots',
      'Rockets',
      'Rivers',
      'Rain',
    ]);
    const optionIds = poll.options.map((option) => option.id);
    await assertAgrees(poll.id, 'warm, before any vote');

    // Every voter changes their vote 12 times (every 5th action a retract), all at once.
    const storm = (rounds: number, salt: number) =>
      Promise.all(
        voters.map(async (voter, index) => {
          for (let round = 0; round < rounds; round++) {
            const pick = (index * 7 + round * 3 + salt) % 5;
            const reply =
              pick === 4
                ? await retract(voter, poll.id)
                : await vote(voter, poll.id, String(optionIds[pick]));
            assertStatus(reply, 200);
          }
        }),
      );
    await storm(12, 0);
    const settled = await assertAgrees(poll.id, 'after the storm');
    assert.ok(settled.version > VOTERS, `version ${settled.version} counts every change`);

    // Warm: a vote moves the hash by its delta (no rebuild in between).
    const voter = voters[0] as Person;
    const mine = (await read(voter, poll.id)).myVote;
    const target = optionIds.find((id) => id !== mine) as string;
    assertStatus(await vote(voter, poll.id, target), 200);
    const moved = await hash(poll.id);
    const now = await truth(poll.id);
    assert.deepEqual(moved, now, 'the delta was applied in Redis');

    // A warm read is answered from the hash: a count planted at the current version shows…
    await cacheClient.hset(hashKey(poll.id), target, 1_000);
    const planted = await read(people.ann, poll.id);
    assert.equal(planted.options.find((option) => option.id === target)?.votes, 1_000);
    // …and a hash older than PostgreSQL is never served: it is rebuilt.
    await cacheClient.hset(hashKey(poll.id), 'version', now.version - 1);
    await assertAgrees(poll.id, 'a stale hash is rebuilt');
  });

  it('FLUSHALL at any moment loses no vote; results come back equal', async () => {
    const poll = await create(people.ann, 'Sports day event?', ['Relay', 'Long jump', 'Sprint']);
    const optionIds = poll.options.map((option) => option.id);
    await assertAgrees(poll.id, 'warm');
    let flushes = 0;
    let voting = true;
    const flushing = (async () => {
      // A flush after every vote the loop sees land, for as long as the votes go on.
      for (let seen = 0; voting; ) {
        const { version } = await truth(poll.id);
        if (version !== seen) {
          seen = version;
          assert.equal(await cacheClient.flushall(), 'OK');
          flushes++;
        }
      }
    })();
    const votes = Promise.all(
      voters.map(async (voter, index) => {
        for (let round = 0; round < 6; round++) {
          const reply = await vote(voter, poll.id, String(optionIds[(index + round) % 3]));
          assertStatus(reply, 200);
          if (round % 2 === 1) await read(voter, poll.id);
        }
      }),
    );
    await votes.finally(() => {
      voting = false;
    });
    await flushing;
    assert.ok(flushes >= 2, `flushed ${flushes} times while the votes went on`);
    const expected = await assertAgrees(poll.id, 'after the flushes');
    assert.equal(
      Object.values(expected.votes).reduce((sum, count) => sum + count, 0),
      VOTERS,
      'one vote per voter',
    );

    // A vote into a flushed cache: the delta has no hash to apply to, and the vote's own answer
    // rebuilds it from PostgreSQL, with the vote.
    assert.equal(await cacheClient.flushall(), 'OK');
    const retracted = await retract(voters[1] as Person, poll.id);
    assertStatus(retracted, 200);
    assert.equal(retracted.body.totalVotes, VOTERS - 1);
    assert.equal((await hash(poll.id)).version, (await truth(poll.id)).version);
    await assertAgrees(poll.id, 'rebuilt after a vote into a cold cache');
  });

  it('with the cache Redis stopped, votes commit and results come from PostgreSQL', async () => {
    const { ann, ben, cat } = people;
    const poll = await create(ann, 'Fire drill at 10 or 11?', ['10', '11']);
    const [ten, eleven] = poll.options.map((option) => option.id) as [string, string];
    assertStatus(await vote(ben, poll.id, ten), 200);
    await read(ann, poll.id);
    await cache.stop();
    try {
      assertStatus(await vote(cat, poll.id, eleven), 200);
      const changed = await vote(ben, poll.id, eleven);
      assertStatus(changed, 200);
      assert.deepEqual(tally(changed.body as unknown as PollBody), { '10': 0, '11': 2 });
      assert.deepEqual(tally(await read(ann, poll.id)), { '10': 0, '11': 2 });
    } finally {
      await cache.restart();
    }
    // Back: the hash is rebuilt and served again, still equal to PostgreSQL.
    await cacheClient.ping();
    await waitFor('the poll results to be cached again', async () => {
      await read(ann, poll.id);
      return (await hash(poll.id)).version !== undefined;
    });
    await assertAgrees(poll.id, 'after the cache Redis came back');
  });

  it('every route, called by a stranger or anonymously, gets 404/401 and never data', async () => {
    const { ann, ben, eve } = people;
    const poll = await create(ann, 'Secret ballot?', ['Yes', 'No']);
    assertStatus(await vote(ben, poll.id, String(poll.options[0]?.id)), 200);
    const pollPath = `${pollsPath()}/${poll.id}`;
    const nobody = crypto.randomUUID();

    type Who = 'anonymous' | 'badToken' | 'stranger';
    const credentials: Record<Who, { token?: string }> = {
      anonymous: {},
      badToken: { token: 'c'.repeat(43) },
      stranger: { token: eve.token },
    };
    const denied = { anonymous: 401, badToken: 401, stranger: 404 };
    const table: AccessRow<Who>[] = [
      {
        method: 'POST',
        path: pollsPath(),
        route: '/conversations/{id}/polls',
        expect: denied,
      },
      { method: 'GET', path: pollsPath(), route: '/conversations/{id}/polls', expect: denied },
      {
        method: 'GET',
        path: pollPath,
        route: '/conversations/{id}/polls/{pollId}',
        expect: denied,
      },
      {
        method: 'PUT',
        path: `${pollPath}/vote`,
        route: '/conversations/{id}/polls/{pollId}/vote',
        expect: denied,
      },
      {
        method: 'DELETE',
        path: `${pollPath}/vote`,
        route: '/conversations/{id}/polls/{pollId}/vote',
        expect: denied,
      },
      {
        method: 'POST',
        path: `${pollPath}/close`,
        route: '/conversations/{id}/polls/{pollId}/close',
        expect: denied,
      },
      // A conversation that does not exist answers exactly as one the caller is not in.
      {
        method: 'GET',
        path: `/conversations/${nobody}/polls/${poll.id}`,
        route: '/conversations/{id}/polls/{pollId}',
        expect: denied,
      },
    ];
    await assertAccessTable(api.baseUrl, table, credentials);

    // Nothing changed: the vote stands, the poll is open, and the stranger created nothing.
    const after = await read(ann, poll.id);
    assert.deepEqual(tally(after), { Yes: 1, No: 0 });
    assert.equal(after.closed, false);
    const count = await postgres.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM polls WHERE created_by = $1',
      [eve.id],
    );
    assert.equal(count.rows[0]?.n, 0);

    await assertTableCoversTags(api.baseUrl, table, ['polls']);
  });
});

describe('poll result hash: a delta only on the version before it, a rebuild never backwards', () => {
  const servers = sharedServers();
  const redis = new Redis({
    port: servers.redisCache.port,
    password: servers.redisCache.passwords.default,
    lazyConnect: true,
  });
  const store = new PollResultsStore({
    redis,
    keyPrefix: `quad:${uniqueName('poll-results')}:`,
    registry: new Registry(),
    logger: createLogger('test', 'silent'),
  });
  const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
  const counts = (version: number, votesA: number, votesB: number): PollCounts => ({
    version,
    votes: new Map([
      [a, votesA],
      [b, votesB],
    ]),
  });
  /** Reads through the store; `rebuilds` counts the times it had to ask "PostgreSQL". */
  let rebuilds = 0;
  const readAt = async (pollId: string, atLeast: number, truth: PollCounts) => {
    const read = await store.counts(pollId, atLeast, [a, b], async () => {
      rebuilds++;
      return truth;
    });
    return [read.get(a), read.get(b)];
  };
  const stored = async (pollId: string) => redis.hgetall(store.key(pollId));

  before(() => redis.connect());
  after(() => redis.disconnect());

  it('applies the delta of N on N-1 only; a gap drops the hash; a missing hash stays missing', async () => {
    const poll = crypto.randomUUID();
    await store.applyVote(poll, 1, null, a);
    assert.deepEqual(await stored(poll), {}, 'a delta never creates a hash');

    rebuilds = 0;
    assert.deepEqual(await readAt(poll, 1, counts(1, 1, 0)), [1, 0]);
    assert.equal(rebuilds, 1);
    await store.applyVote(poll, 2, a, b);
    assert.deepEqual(await stored(poll), { version: '2', [a]: '0', [b]: '1' });
    assert.deepEqual(await readAt(poll, 2, counts(2, 9, 9)), [0, 1], 'a hit, not the loader');
    assert.equal(rebuilds, 1);

    await store.applyVote(poll, 2, a, b);
    assert.deepEqual(await stored(poll), { version: '2', [a]: '0', [b]: '1' }, 'N again: no-op');
    await store.applyVote(poll, 4, null, a);
    assert.deepEqual(await stored(poll), {}, 'version 3 never arrived: dropped');
  });

  it('a rebuild never overwrites a newer hash, and a hash older than asked is not served', async () => {
    const poll = crypto.randomUUID();
    // A slow rebuild: its snapshot is version 4, and it is held until a newer one is stored.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => {};
    const loading = new Promise<void>((resolve) => {
      started = resolve;
    });
    const slow = store.counts(poll, 4, [a, b], async () => {
      started();
      await released;
      return counts(4, 2, 2);
    });
    await loading;
    rebuilds = 0;
    assert.deepEqual(await readAt(poll, 5, counts(5, 3, 2)), [3, 2]);
    release();
    const slowRead = await slow;
    assert.deepEqual([slowRead.get(a), slowRead.get(b)], [2, 2], 'it answers what it counted');
    assert.deepEqual(await stored(poll), { version: '5', [a]: '3', [b]: '2' }, 'but not stored');
    assert.deepEqual(await readAt(poll, 4, counts(4, 9, 9)), [3, 2], 'newer than asked: a hit');
    assert.equal(rebuilds, 1);

    await redis.hset(store.key(poll), 'version', 3);
    assert.deepEqual(await readAt(poll, 4, counts(4, 2, 2)), [2, 2], 'older than asked: rebuilt');
    assert.equal(rebuilds, 2);
    assert.equal((await stored(poll)).version, '4');
    const ttl = await redis.pttl(store.key(poll));
    assert.ok(ttl > 0, `the hash expires (${ttl} ms)`);
  });
});

function assertStatus(reply: Reply, status: number) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
}

/** The field errors of a validation problem, as field → code. */
function fieldCodes(reply: Reply): Record<string, string> {
  const errors = (reply.body.errors ?? []) as Array<{ field: string; code: string }>;
  return Object.fromEntries(errors.map((error) => [error.field, error.code]));
}
