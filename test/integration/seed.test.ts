import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { type SeedManifest, seedPassword } from '../../services/cli/seed-command.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import {
  collectOutput,
  type ServiceProcess,
  spawnEntrypoint,
  startService,
} from '../harness/service-process.js';
import { createTestDatabase, serviceEnvironment, uniqueName } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// `quad seed` as an operator runs it (the worker's environment), on a small institution: what
// it creates through the services, that a re-run adds nothing, that a real user's database is
// refused, and that the manifest's password scheme logs a seed user in through the real api.

const small = {
  users: 24,
  classSize: 8,
  announcementSize: 20,
  days: 2,
  classMessagesPerDay: 3,
  directMessagesPerDay: 1,
};
const smallArguments = [
  ['--users', small.users],
  ['--class-size', small.classSize],
  ['--announcement-size', small.announcementSize],
  ['--days', small.days],
  ['--class-messages-per-day', small.classMessagesPerDay],
  ['--direct-messages-per-day', small.directMessagesPerDay],
].flatMap(([flag, value]) => [String(flag), String(value)]);

const classes = small.users / small.classSize;
const directs = classes * (small.classSize - 1);
const expectedMessages =
  classes * small.days * small.classMessagesPerDay +
  3 * small.days +
  directs * small.days * small.directMessagesPerDay;

describe('quad seed: a load-test institution through the services', () => {
  const keyPrefix = `quad:${uniqueName('seed')}:`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let postgres: pg.Pool;
  let workDirectory = '';
  let manifestPath = '';
  let api: ServiceProcess | undefined;

  /** `quad seed` as an operator starts it, with the worker's environment. */
  const startSeed = (databaseUrl: string, prefix: string, manifest: string, extra: string[]) =>
    spawnEntrypoint(
      'services/cli/main.ts',
      {
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        ...serviceEnvironment('worker', databaseUrl),
        REDIS_KEY_PREFIX: prefix,
      },
      ['seed', ...smallArguments, '--manifest', manifest, ...extra],
    );

  const seed = async (...extra: string[]) => {
    const { output, exited } = collectOutput(
      startSeed(database.url, keyPrefix, manifestPath, extra),
    );
    return { status: await exited, output: output() };
  };

  const count = async (sql: string) =>
    Number((await postgres.query<{ count: string }>(sql)).rows[0]?.count);

  const totals = async () => ({
    users: await count('SELECT count(*) FROM users'),
    groups: await count("SELECT count(*) FROM conversations WHERE kind = 'group'"),
    directs: await count("SELECT count(*) FROM conversations WHERE kind = 'direct'"),
    messages: await count('SELECT count(*) FROM messages'),
    receipts: await count('SELECT count(*) FROM conversation_members WHERE last_read_seq > 0'),
  });

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    postgres = new pg.Pool({ connectionString: database.url, max: 2 });
    workDirectory = await mkdtemp(join(tmpdir(), 'quad-seed-'));
    manifestPath = join(workDirectory, 'seed-manifest.json');
  });

  after(async () => {
    await api?.stop();
    await postgres?.end();
    await database?.drop();
    await rm(workDirectory, { recursive: true, force: true });
  });

  it('creates the institution, prints its parameters, and writes a manifest', async () => {
    const first = await seed();
    assert.equal(first.status, 0, first.output);
    assert.match(
      first.output,
      /seeding: 24 users in 3 classes of 8, 3 announcement conversations of 20 members, 21 direct conversations; 2 school days/,
    );
    assert.match(first.output, /messages\s+\[#+\] 66\/66/);
    assert.deepEqual(await totals(), {
      users: small.users + 1,
      groups: classes + 3,
      directs,
      messages: expectedMessages,
      receipts: small.users,
    });
    const members = await postgres.query<{ title: string; members: string }>(
      `SELECT c.title, count(*) AS members FROM conversations c
         JOIN conversation_members m ON m.conversation_id = c.id
        WHERE c.kind = 'group' GROUP BY c.title ORDER BY c.title`,
    );
    assert.deepEqual(
      members.rows.map((row) => [row.title, Number(row.members)]),
      [
        // The seed's admin owns each announcement conversation, beside its 20 members.
        ['Announcements: lower school', 21],
        ['Announcements: upper school', 21],
        ['Announcements: whole school', 21],
        ['Class 1', 8],
        ['Class 2', 8],
        ['Class 3', 8],
      ],
    );
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as SeedManifest;
    assert.equal(manifest.users.length, small.users);
    assert.equal(manifest.classes.length, classes);
    assert.equal(manifest.announcements.length, 3);
    assert.equal(manifest.directs.length, directs);
  });

  it('is idempotent: a second run with the same parameters adds nothing', async () => {
    const before = await totals();
    const again = await seed();
    assert.equal(again.status, 0, again.output);
    assert.match(
      again.output,
      /0 new\), 6 group and 21 direct conversations, 0 new messages, 0 receipts/,
    );
    assert.deepEqual(await totals(), before);
  });

  it("logs a seed user in through the api with the manifest's password scheme", async () => {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as SeedManifest;
    const student = manifest.users.find((user) => user.role === 'student');
    assert.ok(student);
    api = await startService('api', {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: keyPrefix,
    });
    const { token } = await loginAs(
      api.baseUrl,
      student.username,
      seedPassword(manifest.passwordKey, student.username),
    );
    const list = await callApi(api.baseUrl, 'GET', '/conversations', { token });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const ids = (list.body.conversations as Array<{ id: string }>).map((entry) => entry.id);
    assert.ok(ids.includes(manifest.classes[student.classIndex]?.id ?? ''), 'their class');
    assert.ok(
      manifest.directs.some((d) => d.usernames.includes(student.username) && ids.includes(d.id)),
      'a direct conversation',
    );
  });

  it('an interrupted seed keeps its password key, and its re-run finishes the job', async () => {
    const interrupted = await createTestDatabase();
    await runMigrations(interrupted.url, createLogger('test', 'silent'));
    const path = join(workDirectory, 'interrupted.json');
    try {
      const prefix = `quad:${uniqueName('seedi')}:`;
      const child = startSeed(interrupted.url, prefix, path, []);
      const { exited } = collectOutput(child);
      const early = await waitFor('the key kept before any account', async () => {
        const text = await readFile(path, 'utf8').catch(() => undefined);
        return text === undefined ? undefined : (JSON.parse(text) as SeedManifest);
      });
      child.kill('SIGKILL');
      await exited;
      assert.equal(early.complete, false);
      const again = collectOutput(startSeed(interrupted.url, prefix, path, []));
      assert.equal(await again.exited, 0, again.output());
      const finished = JSON.parse(await readFile(path, 'utf8')) as SeedManifest;
      assert.equal(finished.complete, true);
      assert.equal(finished.passwordKey, early.passwordKey);
      assert.equal(finished.users.length, small.users);
    } finally {
      await interrupted.drop();
    }
  });

  it('refuses a database with accounts it did not create, unless --force', async () => {
    await createAccount(database.url, uniqueName('real'));
    const before = await totals();
    const refused = await seed('--users', String(small.users + small.classSize));
    assert.equal(refused.status, 1, refused.output);
    assert.match(refused.output, /1 account\(s\) that the seed did not create/);
    assert.deepEqual(await totals(), before);

    const forced = await seed('--force');
    assert.equal(forced.status, 0, forced.output);
  });
});
