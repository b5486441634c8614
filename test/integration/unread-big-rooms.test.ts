import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { callApi as call } from '../harness/api-client.js';
import { assertListAndUnreadMatch } from '../harness/messaging-truth.js';
import { type Person, type PrivateApi, startPrivateApi } from '../harness/private-api.js';

// Unread counts are derived from each conversation's latest sequence number, so a send costs
// the cache Redis the same in a room of 2 as in a room of 24, and the counts stay exactly what
// PostgreSQL says through own messages, deletes, per-user deletes, late joins and leaves.

const names = Array.from({ length: 24 }, (_, index) => `m${String(index).padStart(2, '0')}`);

describe('unread counts in big rooms', () => {
  let world: PrivateApi<string>;
  let sql: pg.Pool;
  let people: Person[];

  before(async () => {
    world = await startPrivateApi({ names, label: 'big-rooms' });
    sql = new pg.Pool({ connectionString: world.database.url, max: 2 });
    people = names.map((name) => world.people[name] as Person);
  });
  after(async () => {
    await sql?.end();
    await world?.dispose();
  });

  const person = (index: number) => people[index] as Person;
  const get = (who: Person) => (path: string) =>
    call(world.api.baseUrl, 'GET', path, { token: who.token });
  /** Every command the cache Redis has processed (INFO itself counts one, as often each time). */
  const cacheCommands = async () => {
    const stats = await world.cacheAdmin.info('stats');
    return Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? Number.NaN);
  };
  const checkAgainstSql = async (who: readonly Person[], label: string) => {
    for (const member of who) await assertListAndUnreadMatch(sql, member.id, get(member), label);
  };

  it('a send costs the cache Redis the same number of commands in a room of 2 and of 24', async () => {
    const small = await world.group(person(0), [person(1)], 'Two');
    const big = await world.group(person(0), people.slice(1), 'Everyone');
    // Warm: permissions, the conversation, every member's counters.
    for (const id of [small, big]) {
      await world.send(person(0), id, 'warm-up');
      await world.send(person(1), id, 'warm-up');
    }
    await checkAgainstSql(people, 'warm-up');

    const commandsOfSend = async (id: string) => {
      const before = await cacheCommands();
      await world.send(person(1), id, 'measured');
      return (await cacheCommands()) - before;
    };
    const inSmall = await commandsOfSend(small);
    const inBig = await commandsOfSend(big);
    assert.equal(inBig, inSmall, `cache commands of one send: ${inSmall} (2) vs ${inBig} (24)`);
    await checkAgainstSql(people, 'after the measured sends');
  });

  it('exact against PostgreSQL through own messages, deletes, per-user deletes, joins and leaves', async () => {
    const owner = person(0);
    const members = people.slice(1, 12);
    const late = person(12);
    const everyone = [owner, ...members, late];
    const room = await world.group(owner, members, 'Year 9');
    const sent: string[] = [];
    const say = async (who: Person, body: string) => {
      sent.push(await world.send(who, room, body));
    };

    for (let round = 0; round < 3; round++) {
      for (const who of members.slice(0, 4)) await say(who, `round ${round}`);
    }
    await checkAgainstSql(everyone, 'after sends by others and own');

    // A reader catches up; then own messages after the read are not unread for the sender.
    const reader = members[0] as Person;
    const read = await call(world.api.baseUrl, 'POST', `/conversations/${room}/read`, {
      token: reader.token,
      body: { upToMessageId: sent[5] },
    });
    assert.equal(read.status, 200, JSON.stringify(read.body));
    await say(reader, 'my own, after reading');
    await say(members[1] as Person, 'someone else');
    await checkAgainstSql(everyone, 'after a read and own messages');

    // An admin deletes someone's unread message; the author deletes their own.
    const removed = await call(
      world.api.baseUrl,
      'DELETE',
      `/conversations/${room}/messages/${sent[7]}`,
      { token: owner.token },
    );
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    const own = await call(
      world.api.baseUrl,
      'DELETE',
      `/conversations/${room}/messages/${sent[2]}`,
      {
        token: (members[2] as Person).token,
      },
    );
    assert.equal(own.status, 204, JSON.stringify(own.body));
    await checkAgainstSql(everyone, 'after deletes');

    // Deleted for one member; then a newer message is unread for them alone after the delete.
    const hider = members[3] as Person;
    const hidden = await call(world.api.baseUrl, 'DELETE', `/conversations/${room}`, {
      token: hider.token,
    });
    assert.equal(hidden.status, 204, JSON.stringify(hidden.body));
    await say(members[4] as Person, 'after the per-user delete');
    await checkAgainstSql(everyone, 'after a per-user delete');

    // A late joiner, then more sends; a member leaves and the sends go on.
    const added = await call(world.api.baseUrl, 'POST', `/conversations/${room}/members`, {
      token: owner.token,
      body: { userId: late.id, role: 'member' },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    await say(owner, 'welcome');
    await say(late, 'hello');
    const left = await call(world.api.baseUrl, 'POST', `/conversations/${room}/leave`, {
      token: (members[5] as Person).token,
    });
    assert.equal(left.status, 204, JSON.stringify(left.body));
    await say(members[6] as Person, 'after the leave');
    await checkAgainstSql(everyone, 'after a join and a leave');

    // A burst from several senders at once, then everyone checked again, twice (the second
    // time from what the first read cached).
    await Promise.all(members.slice(6, 11).map((who, index) => say(who, `burst ${index}`)));
    await checkAgainstSql(everyone, 'after a concurrent burst');
    await checkAgainstSql(everyone, 'read again, warm');
  });
});
