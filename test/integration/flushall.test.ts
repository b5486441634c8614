import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { callApi, createAccount, loginAs, type Reply } from '../harness/api-client.js';
import {
  asMessageTruth,
  asPollTruth,
  asReceiptsTruth,
  assertListAndUnreadMatch,
  historyTruth,
  pollTruth,
  receiptsTruth,
} from '../harness/messaging-truth.js';
import { type PrivateServers, startPrivateServers } from '../harness/private-servers.js';
import {
  getOperations,
  type ReadWorld,
  readCalls,
  recordAnswers,
} from '../harness/read-surface.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';

// Regenerable from PostgreSQL: FLUSHALL of both Redis instances in the middle of concurrent
// activity loses nothing. Six people send, read, edit, delete, delete conversations for themselves,
// vote, log in and out, all at once, through a real api process; both Redis are flushed twice while
// they do; then every value the api serves is checked against PostgreSQL. Private Redis servers:
// node --test may run files in parallel, and a FLUSHALL of the shared ones would wipe other files'
// state.

const names = ['ada', 'bob', 'cyd', 'dee', 'eli', 'fox'] as const;
type Name = (typeof names)[number];

/** Operations per person; two FLUSHALLs land at a third and two thirds of all of them. */
const OPERATIONS_EACH = 45;
/** Printed, so a failing run can be replayed with the same choices. */
const SEED = Number(process.env.FLUSHALL_TEST_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small deterministic generator, so one seed replays one workload. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    pick<T>(items: readonly T[]): T {
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}

interface Person {
  id: string;
  /** The token this person acts with. */
  current: string;
  /** Tokens never logged out (the current one included). */
  live: string[];
  loggedOut: string[];
  /** My messages I can still see, not deleted: candidates for edit and delete. */
  mine: Array<{ conversationId: string; id: string }>;
}

interface Chat {
  id: string;
  members: Name[];
}

interface Poll {
  conversationId: string;
  id: string;
  options: string[];
}

function assertStatus(reply: Reply, status: number, context: string) {
  assert.equal(reply.status, status, `${context}: ${JSON.stringify(reply.body)}`);
}

describe('FLUSHALL in the middle of activity loses nothing (private Redis pair)', () => {
  let servers: PrivateServers;
  let admins: Redis[] = [];
  let api: ServiceProcess;
  let sql: pg.Pool;
  const people = {} as Record<Name, Person>;
  const chats: Chat[] = [];
  const polls: Poll[] = [];

  const call = (who: Name, method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: people[who].current, body });
  const createChat = async (who: Name, body: unknown, members: Name[]) => {
    const reply = await call(who, 'POST', '/conversations', body);
    assertStatus(reply, 201, `${who} creates a conversation`);
    chats.push({ id: String(reply.body.id), members });
    return String(reply.body.id);
  };
  const createPoll = async (who: Name, conversationId: string, options: string[]) => {
    const reply = await call(who, 'POST', `/conversations/${conversationId}/polls`, {
      question: `${options.join(' or ')}?`,
      options,
    });
    assertStatus(reply, 201, 'create poll');
    polls.push({
      conversationId,
      id: String(reply.body.id),
      options: (reply.body.options as Array<{ id: string }>).map((option) => option.id),
    });
  };

  /** FLUSHALL on both instances, as the Redis admin (the services' users may not). Returns
   *  how many keys were wiped, so the test can show there was something to lose. */
  const flushBoth = async () => {
    let wiped = 0;
    for (const admin of admins) {
      wiped += await admin.dbsize();
      assert.equal(await admin.flushall(), 'OK');
    }
    return wiped;
  };

  /** One person's share of the activity: OPERATIONS_EACH operations, each checked. */
  const act = async (who: Name, random: ReturnType<typeof generator>, tick: () => void) => {
    const me = people[who];
    for (let step = 0; step < OPERATIONS_EACH; step++) {
      const myChats = chats.filter((chat) => chat.members.includes(who));
      const chat = random.pick(myChats);
      const roll = random.next();
      const context = `${who} step ${step} (seed ${SEED})`;
      if (roll < 0.3) {
        const reply = await call(who, 'POST', `/conversations/${chat.id}/messages`, {
          body: `${who} says ${step}`,
          idempotencyKey: crypto.randomUUID(),
        });
        assertStatus(reply, 201, `${context}: send`);
        me.mine.push({ conversationId: chat.id, id: String(reply.body.id) });
      } else if (roll < 0.48) {
        const history = await call(who, 'GET', `/conversations/${chat.id}/messages?limit=5`);
        assertStatus(history, 200, `${context}: history`);
        const newest = (history.body.messages as Array<{ id: string }>)[0];
        if (newest) {
          const read = await call(who, 'POST', `/conversations/${chat.id}/read`, {
            upToMessageId: newest.id,
          });
          assertStatus(read, 200, `${context}: mark read`);
        }
      } else if (roll < 0.56) {
        assertStatus(await call(who, 'GET', '/conversations'), 200, `${context}: list`);
        assertStatus(await call(who, 'GET', '/me/unread'), 200, `${context}: unread`);
      } else if (roll < 0.64 && me.mine.length > 0) {
        const message = random.pick(me.mine);
        const reply = await call(
          who,
          'PATCH',
          `/conversations/${message.conversationId}/messages/${message.id}`,
          { body: `${who} edited at ${step}` },
        );
        assertStatus(reply, 200, `${context}: edit`);
      } else if (roll < 0.69 && me.mine.length > 0) {
        const message = random.pick(me.mine);
        const reply = await call(
          who,
          'DELETE',
          `/conversations/${message.conversationId}/messages/${message.id}`,
        );
        assertStatus(reply, 204, `${context}: delete message`);
        me.mine = me.mine.filter((candidate) => candidate.id !== message.id);
      } else if (roll < 0.73) {
        assertStatus(
          await call(who, 'DELETE', `/conversations/${chat.id}`),
          204,
          `${context}: delete conversation for me`,
        );
        // What I sent there is hidden from me now: I can no longer edit or delete it.
        me.mine = me.mine.filter((message) => message.conversationId !== chat.id);
      } else if (roll < 0.8) {
        assertStatus(await call(who, 'POST', '/auth/logout'), 204, `${context}: logout`);
        me.loggedOut.push(me.current);
        me.live = me.live.filter((token) => token !== me.current);
        me.current = (await loginAs(api.baseUrl, who)).token;
        me.live.push(me.current);
      } else if (roll < 0.83) {
        // A second device: both sessions stay live.
        me.live.push((await loginAs(api.baseUrl, who)).token);
      } else if (roll < 0.95) {
        const myPolls = polls.filter((poll) =>
          myChats.some((mine) => mine.id === poll.conversationId),
        );
        const poll = random.pick(myPolls);
        const path = `/conversations/${poll.conversationId}/polls/${poll.id}/vote`;
        const reply =
          random.next() < 0.25
            ? await call(who, 'DELETE', path)
            : await call(who, 'PUT', path, { optionId: random.pick(poll.options) });
        assertStatus(reply, 200, `${context}: vote`);
      } else {
        const others = names.filter((name) => name !== who && random.next() < 0.5);
        await createChat(
          who,
          {
            kind: 'group',
            title: `${who}'s group ${step}`,
            memberIds: others.map((name) => people[name].id),
          },
          [who, ...others],
        );
      }
      tick();
    }
  };

  /** Every value the api serves, checked against PostgreSQL. */
  const assertEverythingMatchesPostgres = async (when: string) => {
    for (const who of names) {
      const me = people[who];
      for (const token of [...me.live, ...me.loggedOut]) {
        const live = await sql.query(
          `SELECT 1 FROM sessions
           WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()`,
          [createHash('sha256').update(token).digest()],
        );
        const expected = me.live.includes(token);
        assert.equal(
          live.rowCount === 1,
          expected,
          `${when}: ${who}'s bookkeeping agrees with SQL`,
        );
        const reply = await callApi(api.baseUrl, 'GET', '/me', { token });
        assert.equal(reply.status, expected ? 200 : 401, `${when}: ${who}'s token`);
        if (expected) assert.equal(reply.body.id, me.id);
      }
      const sessions = await call(who, 'GET', '/auth/sessions');
      const liveIds = await sql.query<{ id: string }>(
        `SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
         ORDER BY id`,
        [me.id],
      );
      assert.deepEqual(
        (sessions.body.sessions as Array<{ id: string }>).map((session) => session.id).sort(),
        liveIds.rows.map((row) => row.id),
        `${when}: ${who}'s sessions`,
      );
      assert.equal(liveIds.rowCount, me.live.length);

      await assertListAndUnreadMatch(
        sql,
        me.id,
        (path) => call(who, 'GET', path),
        `${when}: ${who}`,
      );
    }

    const memberships = await sql.query<{ conversation_id: string; user_id: string }>(
      'SELECT conversation_id, user_id FROM conversation_members ORDER BY conversation_id',
    );
    const nameOf = new Map(names.map((name) => [people[name].id, name]));
    const receiptsSeen = new Map<string, Awaited<ReturnType<typeof receiptsTruth>>>();
    for (const row of memberships.rows) {
      const who = nameOf.get(row.user_id) as Name;
      const history = await call(who, 'GET', `/conversations/${row.conversation_id}/messages`);
      assertStatus(history, 200, `${when}: history`);
      assert.deepEqual(
        asMessageTruth(history.body.messages as Array<Record<string, unknown>>),
        await historyTruth(sql, row.conversation_id, row.user_id, 50),
        `${when}: ${who}'s first page of ${row.conversation_id}`,
      );
      let receipts = receiptsSeen.get(row.conversation_id);
      if (!receipts) {
        receipts = await receiptsTruth(sql, row.conversation_id);
        receiptsSeen.set(row.conversation_id, receipts);
      }
      const served = await call(who, 'GET', `/conversations/${row.conversation_id}/receipts`);
      assert.deepEqual(
        asReceiptsTruth(served.body.receipts as Array<Record<string, unknown>>),
        receipts,
        `${when}: receipts of ${row.conversation_id} as ${who} sees them`,
      );
    }

    for (const poll of polls) {
      const chat = chats.find((candidate) => candidate.id === poll.conversationId);
      for (const who of chat?.members ?? []) {
        const served = await call(
          who,
          'GET',
          `/conversations/${poll.conversationId}/polls/${poll.id}`,
        );
        assertStatus(served, 200, `${when}: poll`);
        assert.deepEqual(
          asPollTruth(served.body),
          await pollTruth(sql, poll.id, people[who].id),
          `${when}: ${who}'s view of poll ${poll.id}`,
        );
      }
    }
  };

  before(async () => {
    servers = await startPrivateServers();
    const { database } = servers;
    sql = new pg.Pool({ connectionString: database.url });
    admins = [servers.state, servers.cache].map(
      (server) =>
        new Redis({
          port: server.port,
          username: 'default',
          password: server.passwords.default,
        }),
    );
    for (const name of names) {
      const id = (await createAccount(database.url, name)).id;
      people[name] = { id, current: '', live: [], loggedOut: [], mine: [] };
    }
    api = await startService(
      'api',
      servers.environment('api', {
        RATE_LIMITS: JSON.stringify({
          'login-ip': { limit: 10_000, windowMs: 60_000 },
          'login-account': { limit: 10_000, windowMs: 60_000 },
          'message-send': { limit: 10_000, windowMs: 10_000 },
          'api-user': { limit: 100_000, windowMs: 60_000 },
        }),
      }),
    );
    for (const name of names) {
      const token = (await loginAs(api.baseUrl, name)).token;
      people[name].current = token;
      people[name].live.push(token);
    }
  });
  after(async () => {
    for (const admin of admins) admin.disconnect();
    await api?.stop();
    await sql?.end();
    await servers?.dispose();
  });

  it('concurrent activity with two FLUSHALLs in its middle; then every value equals PostgreSQL', async () => {
    console.log(`flushall workload seed ${SEED} (set FLUSHALL_TEST_SEED to replay it)`);
    const id = (name: Name) => people[name].id;
    const everyone = await createChat(
      'ada',
      { kind: 'group', title: 'Everyone', memberIds: names.slice(1).map(id) },
      [...names],
    );
    const lab = await createChat(
      'cyd',
      { kind: 'group', title: 'Lab', memberIds: [id('ada'), id('eli')] },
      ['cyd', 'ada', 'eli'],
    );
    for (const [index, name] of names.entries()) {
      const next = names[(index + 1) % names.length] as Name;
      await createChat(name, { kind: 'direct', userId: id(next) }, [name, next]);
    }
    await createPoll('ada', everyone, ['Mon', 'Wed', 'Fri']);
    await createPoll('eli', lab, ['Red', 'Blue']);
    const firstDirect = chats[2] as Chat;
    await createPoll('ada', firstDirect.id, ['Yes', 'No']);

    const total = names.length * OPERATIONS_EACH;
    let done = 0;
    const flushes: Array<Promise<{ at: number; wiped: number }>> = [];
    const tick = () => {
      done++;
      if (done === Math.floor(total / 3) || done === Math.floor((2 * total) / 3)) {
        const at = done;
        // Not awaited: the others go on acting while both Redis are emptied.
        flushes.push(flushBoth().then((wiped) => ({ at, wiped })));
      }
    };
    await Promise.all(names.map((name, index) => act(name, generator(SEED * 31 + index), tick)));
    const flushed = await Promise.all(flushes);
    assert.equal(flushed.length, 2, 'two FLUSHALLs happened');
    for (const flush of flushed) {
      assert.ok(flush.at < total, 'in the middle of the activity');
      assert.ok(flush.wiped > 0, `the FLUSHALL at operation ${flush.at} wiped keys`);
    }

    // What is left in Redis after the activity (partly rebuilt since the flushes) must agree
    // with PostgreSQL; then once more from an empty Redis, and once more warm.
    await assertEverythingMatchesPostgres('after the activity');
    await flushBoth();
    await assertEverythingMatchesPostgres('after a quiet FLUSHALL');
    await assertEverythingMatchesPostgres('warm again');
  });

  it('every read the api offers answers the same before and after a FLUSHALL', async () => {
    const world: ReadWorld<Name> = {
      people: names,
      admin: 'ada',
      userIds: Object.fromEntries(names.map((name) => [name, people[name].id])) as Record<
        Name,
        string
      >,
      conversations: chats,
      conversationChildren: { pollId: polls },
      pathValues: {},
      // Words of the workload's messages, for /search.
      queryValues: { q: ['says', 'edited'] },
    };
    const operations = (await getOperations(api.baseUrl)).filter(
      // ada is no admin: the admin routes are the degradation test's to walk.
      (operation) => !operation.template.startsWith('/admin'),
    );
    const calls = readCalls(operations, world, 'test/integration/flushall.test.ts');
    const tokens = Object.fromEntries(names.map((name) => [name, people[name].current])) as Record<
      Name,
      string
    >;
    const before = await recordAnswers(api.baseUrl, calls, tokens);
    assert.ok((await flushBoth()) > 0);
    const after = await recordAnswers(api.baseUrl, calls, tokens);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    for (const [read, answer] of before) {
      assert.deepEqual(after.get(read), answer, read);
    }
  });
});
