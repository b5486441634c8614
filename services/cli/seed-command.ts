import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Role } from '../../lib/accounts/index.js';
import type { Runtime } from '../../lib/runtime/index.js';

export const seedUsage = `  seed [--users N] [--class-size N] [--announcement-size N] [--days N]
       [--class-messages-per-day N] [--direct-messages-per-day N] [--concurrency N]
       [--manifest FILE] [--force]
             create a realistic institution to load-test, through the services: N users
             (default 2000) in classes of ~30 with a group conversation each, a direct
             conversation per classmate pair, three announcement conversations of up to 1000
             members, and a few school days of history. Idempotent: a re-run adds only what
             is missing. Refuses a database with non-seed users unless --force. Writes the
             manifest the load tests log in with (default $QUAD_DATA_DIR/seed-manifest.json,
             else .data/seed-manifest.json). Reads the worker's environment.`;

/** Seed accounts are recognised by this email domain (reserved: it can never be a real one),
 *  so a re-run finds them and a database with anyone else in it is refused. */
export const SEED_EMAIL_DOMAIN = 'loadtest.invalid';
const SEED_USERNAME_PREFIX = 'seed-';
const ANNOUNCEMENT_TITLES = [
  'Announcements: whole school',
  'Announcements: lower school',
  'Announcements: upper school',
];

/**
 * The seed users' passwords: hex(HMAC-SHA256(passwordKey, username)), first 32 characters.
 * Deterministic, so the load runner and the k6 scripts derive each one from the manifest's key
 * (k6/crypto has the same HMAC) instead of carrying 2,000 passwords; random per institution,
 * so a seeded staging deployment does not share passwords with anyone else's.
 */
export function seedPassword(passwordKey: string, username: string): string {
  return createHmac('sha256', passwordKey).update(username).digest('hex').slice(0, 32);
}

export interface SeedParameters {
  users: number;
  classSize: number;
  announcementSize: number;
  /** School days of history. */
  days: number;
  classMessagesPerDay: number;
  directMessagesPerDay: number;
  concurrency: number;
}

export const defaultSeedParameters: SeedParameters = {
  users: 2000,
  classSize: 30,
  announcementSize: 1000,
  days: 15,
  classMessagesPerDay: 20,
  directMessagesPerDay: 1,
  concurrency: 8,
};

/** Upper bounds that keep a seed to minutes and PostgreSQL to a few GB at most. */
const parameterBounds: Record<keyof SeedParameters, [number, number]> = {
  users: [2, 100_000],
  classSize: [2, 500],
  announcementSize: [2, 10_000],
  days: [0, 60],
  classMessagesPerDay: [0, 200],
  directMessagesPerDay: [0, 50],
  concurrency: [1, 64],
};

/** What the load tests need: whom to log in as, and which conversations each one is in. */
export interface SeedManifest {
  version: 1;
  /** false while a seed is under way or was interrupted (it then holds only the key). */
  complete: boolean;
  seededAt: string;
  parameters: SeedParameters;
  passwordKey: string;
  passwordScheme: string;
  /** Every seed user; `classIndex` points into `classes`. */
  users: Array<{ username: string; id: string; role: Role; classIndex: number }>;
  classes: Array<{ id: string; title: string; teacher: string; memberIds: string[] }>;
  announcements: Array<{ id: string; title: string; owner: string; members: string[] }>;
  directs: Array<{ id: string; usernames: [string, string] }>;
}

interface PlannedUser {
  username: string;
  displayName: string;
  role: Role;
  classIndex: number;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** The institution as a pure function of the parameters: the same plan on every run, which is
 *  what makes the seed idempotent (everything is found again by name). */
export function planInstitution(parameters: SeedParameters) {
  const width = String(parameters.users).length;
  const classCount = Math.ceil(parameters.users / parameters.classSize);
  const users: PlannedUser[] = Array.from({ length: parameters.users }, (_, i) => {
    const classIndex = Math.floor(i / parameters.classSize);
    // The first of each class teaches it.
    const role: Role = i % parameters.classSize === 0 ? 'teacher' : 'student';
    return {
      username: `${SEED_USERNAME_PREFIX}${pad(i + 1, width)}`,
      // "#0042", not "0042": a password may not contain a 4-character part of its owner's
      // name, and a bare number would turn up in some of 2,000 hex passwords.
      displayName: `${role === 'teacher' ? 'Teacher' : 'Student'} #${pad(i + 1, width)}`,
      role,
      classIndex,
    };
  });
  const admin: PlannedUser = {
    username: `${SEED_USERNAME_PREFIX}admin`,
    displayName: 'Seed Administrator',
    role: 'admin',
    classIndex: -1,
  };
  const classes = Array.from({ length: classCount }, (_, c) => ({
    title: `Class ${pad(c + 1, String(classCount).length)}`,
    members: users.filter((user) => user.classIndex === c),
  }));
  // Each announcement reaches a different slice of the school (they overlap when it is small).
  const announcementSize = Math.min(parameters.announcementSize, parameters.users);
  const announcements = ANNOUNCEMENT_TITLES.map((title, a) => {
    const start = Math.floor((a * parameters.users) / ANNOUNCEMENT_TITLES.length);
    return {
      title,
      members: Array.from(
        { length: announcementSize },
        (_, i) => users[(start + i) % parameters.users] as PlannedUser,
      ),
    };
  });
  // Neighbours within a class talk directly: one direct conversation per neighbouring pair.
  const directs: Array<[PlannedUser, PlannedUser]> = [];
  for (const { members } of classes) {
    for (let i = 0; i + 1 < members.length; i++) {
      directs.push([members[i] as PlannedUser, members[i + 1] as PlannedUser]);
    }
  }
  return { users, admin, classes, announcements, directs };
}

type Outcome = { ok: true; output: string } | { ok: false; message: string; status: number };

const EX_USAGE = 64;

function parseSeedArguments(
  args: string[],
): { parameters: SeedParameters; manifestPath: string; force: boolean } | string {
  const numeric = Object.keys(defaultSeedParameters) as Array<keyof SeedParameters>;
  const flag = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      options: {
        ...Object.fromEntries(numeric.map((name) => [flag(name), { type: 'string' as const }])),
        manifest: { type: 'string' },
        force: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const parameters = { ...defaultSeedParameters };
  for (const name of numeric) {
    const given = values[flag(name)];
    if (typeof given !== 'string') continue;
    const value = Number(given);
    const [min, max] = parameterBounds[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      return `--${flag(name)} must be a whole number from ${min} to ${max}`;
    }
    parameters[name] = value;
  }
  const dataDirectory = process.env.QUAD_DATA_DIR || '.data';
  const manifest = values.manifest;
  return {
    parameters,
    manifestPath: resolve(
      typeof manifest === 'string' ? manifest : `${dataDirectory}/seed-manifest.json`,
    ),
    force: values.force === true,
  };
}

/** Progress on standard error: one line rewritten on a terminal, a line per tenth otherwise. */
function progress(label: string, total: number) {
  let done = 0;
  let lastTenth = -1;
  const started = Date.now();
  const draw = () => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    return `${label.padEnd(24)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${seconds}s`;
  };
  return {
    tick(count = 1) {
      done += count;
      if (process.stderr.isTTY) process.stderr.write(`\r${draw()}`);
      else {
        const tenth = total === 0 ? 10 : Math.floor((done / total) * 10);
        if (tenth !== lastTenth) process.stderr.write(`${draw()}\n`);
        lastTenth = tenth;
      }
    },
    end() {
      if (process.stderr.isTTY) process.stderr.write(`\r${draw()}\n`);
      else if (lastTenth !== 10) process.stderr.write(`${draw()}\n`);
    },
  };
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
async function eachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

const passwordScheme = 'hex(HMAC-SHA256(passwordKey, username)).slice(0, 32)';

/** Written whole, then renamed: a reader never sees half a manifest. It holds the password key,
 *  so only its owner reads it. */
async function writeManifest(path: string, manifest: SeedManifest): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const scratch = `${path}.tmp`;
  await writeFile(scratch, `${JSON.stringify(manifest)}\n`, { mode: 0o600 });
  await rename(scratch, path);
}

async function readManifest(path: string): Promise<SeedManifest | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as SeedManifest;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
}

const bodies = [
  'Homework for tomorrow: exercises 4 to 9 on page 112.',
  'Does anyone have the notes from this morning?',
  'Reminder: bring your sports kit on Thursday.',
  'The reading for next week is chapter 7.',
  'I uploaded the lab results to the shared folder.',
  'Can we move the group meeting to 3 pm?',
  'Thanks! That helped a lot.',
  'Test on fractions next Monday, revise sections 2.1 to 2.4.',
];

export async function seedCommand(
  args: string[],
  usage: string,
  openRuntime: () => Promise<Runtime>,
): Promise<Outcome> {
  const parsed = parseSeedArguments(args);
  if (typeof parsed === 'string') {
    return { ok: false, message: `${parsed}\n\n${usage}`, status: EX_USAGE };
  }
  const { parameters, manifestPath, force } = parsed;
  const plan = planInstitution(parameters);
  process.stderr.write(
    `seeding: ${parameters.users} users in ${plan.classes.length} classes of ${parameters.classSize}, ` +
      `${plan.announcements.length} announcement conversations of ${plan.announcements[0]?.members.length ?? 0} members, ` +
      `${plan.directs.length} direct conversations; ${parameters.days} school days of history ` +
      `(${parameters.classMessagesPerDay} messages a day per class, ${parameters.directMessagesPerDay} per direct conversation, 1 per announcement conversation); ` +
      `concurrency ${parameters.concurrency}; manifest ${manifestPath}\n`,
  );

  const runtime = await openRuntime();
  try {
    const postgres = runtime.postgres;
    const { accounts, messaging } = runtime.domain();

    // Reads only: the writes below all go through the services.
    const others = await postgres.query<{ count: string }>(
      'SELECT count(*) FROM users WHERE email NOT LIKE $1',
      [`%@${SEED_EMAIL_DOMAIN}`],
    );
    const realUsers = Number(others.rows[0]?.count ?? 0);
    if (realUsers > 0 && !force) {
      return {
        ok: false,
        message: `this database has ${realUsers} account(s) that the seed did not create: seeding would mix load-test people and conversations into a real institution. Use a database of its own, or --force if this one is disposable.`,
        status: 1,
      };
    }

    const existing = await postgres.query<{ username: string; id: string }>(
      'SELECT username, id FROM users WHERE email LIKE $1',
      [`%@${SEED_EMAIL_DOMAIN}`],
    );
    const ids = new Map(existing.rows.map((row) => [row.username, row.id]));
    const previous = await readManifest(manifestPath);
    let passwordKey = previous?.passwordKey ?? process.env.QUAD_SEED_PASSWORD_KEY;
    if (!passwordKey) {
      if (ids.size > 0) {
        return {
          ok: false,
          message: `seed users exist but ${manifestPath} (their password key) is missing: pass --manifest with the earlier file, or set QUAD_SEED_PASSWORD_KEY to its passwordKey`,
          status: 1,
        };
      }
      passwordKey = randomBytes(24).toString('base64url');
    }
    const key = passwordKey;
    // The key is kept before the first account is made with it: an interrupted run's re-run
    // must still know the passwords of the accounts it finds.
    if (!previous) {
      await writeManifest(manifestPath, {
        version: 1,
        complete: false,
        seededAt: new Date().toISOString(),
        parameters,
        passwordKey: key,
        passwordScheme,
        users: [],
        classes: [],
        announcements: [],
        directs: [],
      });
    }

    const wanted = [plan.admin, ...plan.users];
    const missingUsers = wanted.filter((user) => !ids.has(user.username));
    const userBar = progress('users', missingUsers.length);
    await eachConcurrently(missingUsers, parameters.concurrency, async (user) => {
      const account = await accounts.users.create({
        username: user.username,
        email: `${user.username}@${SEED_EMAIL_DOMAIN}`,
        displayName: user.displayName,
        role: user.role,
        password: seedPassword(key, user.username),
      });
      ids.set(user.username, account.id);
      userBar.tick();
    });
    userBar.end();
    const idOf = (user: PlannedUser) => {
      const id = ids.get(user.username);
      if (!id) throw new Error(`seed user ${user.username} was not created`);
      return id;
    };

    // Groups are found again by title among those the seed's people created.
    const groups = await postgres.query<{ id: string; title: string }>(
      `SELECT c.id, c.title FROM conversations c JOIN users u ON u.id = c.created_by
        WHERE c.kind = 'group' AND u.email LIKE $1`,
      [`%@${SEED_EMAIL_DOMAIN}`],
    );
    const groupIds = new Map(groups.rows.map((row) => [row.title, row.id]));
    const groupPlans = [
      ...plan.classes.map((c) => ({
        title: c.title,
        owner: c.members[0] as PlannedUser,
        members: c.members,
      })),
      ...plan.announcements.map((a) => ({ title: a.title, owner: plan.admin, members: a.members })),
    ];
    const groupBar = progress('group conversations', groupPlans.length);
    await eachConcurrently(groupPlans, parameters.concurrency, async (group) => {
      const ownerId = idOf(group.owner);
      const memberIds = group.members.map(idOf);
      const found = groupIds.get(group.title);
      if (!found) {
        const created = await messaging.conversations.create(ownerId, {
          kind: 'group',
          title: group.title,
          memberIds,
        });
        groupIds.set(group.title, created.id);
      } else {
        // A re-run with more users fills the last class up.
        const present = new Set(
          (await messaging.conversations.get(ownerId, found)).members.map((m) => m.userId),
        );
        for (const memberId of memberIds) {
          if (!present.has(memberId)) {
            await messaging.conversations.addMember(ownerId, found, memberId, 'member');
          }
        }
      }
      groupBar.tick();
    });
    groupBar.end();
    const groupIdOf = (title: string) => {
      const id = groupIds.get(title);
      if (!id) throw new Error(`seed conversation ${title} was not created`);
      return id;
    };

    // A direct conversation is found or created by the service itself (one per pair).
    const directIds: string[] = [];
    const directBar = progress('direct conversations', plan.directs.length);
    await eachConcurrently(plan.directs, parameters.concurrency, async ([a, b], index) => {
      const direct = await messaging.conversations.create(idOf(a), {
        kind: 'direct',
        userId: idOf(b),
      });
      directIds[index] = direct.id;
      directBar.tick();
    });
    directBar.end();

    // History: the target count per conversation; what is there already (its highest seq) is
    // skipped, and each send's idempotency key makes an interrupted run's retry harmless.
    const histories = [
      ...plan.classes.map((c) => ({
        id: groupIdOf(c.title),
        senders: c.members,
        count: parameters.days * parameters.classMessagesPerDay,
      })),
      ...plan.announcements.map((a) => ({
        id: groupIdOf(a.title),
        senders: [plan.admin],
        count: parameters.days,
      })),
      ...plan.directs.map((pair, index) => ({
        id: directIds[index] as string,
        senders: pair,
        count: parameters.days * parameters.directMessagesPerDay,
      })),
    ];
    const counts = await postgres.query<{ conversation_id: string; top: string }>(
      'SELECT conversation_id, max(seq) AS top FROM messages WHERE conversation_id = ANY($1::uuid[]) GROUP BY conversation_id',
      [histories.map((h) => h.id)],
    );
    const present = new Map(counts.rows.map((row) => [row.conversation_id, Number(row.top)]));
    const toSend = histories.reduce(
      (sum, h) => sum + Math.max(0, h.count - (present.get(h.id) ?? 0)),
      0,
    );
    const messageBar = progress('messages', toSend);
    const sentTo = new Set<string>();
    await eachConcurrently(histories, parameters.concurrency, async (history) => {
      for (let n = present.get(history.id) ?? 0; n < history.count; n++) {
        const sender = history.senders[n % history.senders.length] as PlannedUser;
        await messaging.messages.send(idOf(sender), history.id, {
          body: bodies[n % bodies.length] as string,
          idempotencyKey: `seed:${history.id}:${n}`,
        });
        sentTo.add(history.id);
        messageBar.tick();
      }
    });
    messageBar.end();

    // Classmates have read most of their class: 0 to 5 unread each, as on a real morning.
    // Only for classes that got new messages now, so a re-run that changed nothing writes
    // nothing (receipts only move forward anyway).
    const UNREAD_SPREAD = 6;
    const readers: Array<{ reader: string; conversationId: string; messageId: string }> = [];
    for (const c of plan.classes) {
      const conversationId = groupIdOf(c.title);
      if (!sentTo.has(conversationId)) continue;
      const tail = await postgres.query<{ id: string; seq: string }>(
        'SELECT id, seq FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2',
        [conversationId, UNREAD_SPREAD],
      );
      c.members.forEach((member, i) => {
        const message = tail.rows[i % UNREAD_SPREAD];
        if (message) readers.push({ reader: idOf(member), conversationId, messageId: message.id });
      });
    }
    const receiptBar = progress('read receipts', readers.length);
    await eachConcurrently(readers, parameters.concurrency, async (read) => {
      await messaging.receipts.markRead(read.reader, read.conversationId, read.messageId);
      receiptBar.tick();
    });
    receiptBar.end();

    const manifest: SeedManifest = {
      version: 1,
      seededAt: new Date().toISOString(),
      parameters,
      complete: true,
      passwordKey: key,
      passwordScheme,
      users: plan.users.map((user) => ({
        username: user.username,
        id: idOf(user),
        role: user.role,
        classIndex: user.classIndex,
      })),
      classes: plan.classes.map((c) => ({
        id: groupIdOf(c.title),
        title: c.title,
        teacher: (c.members[0] as PlannedUser).username,
        memberIds: c.members.map(idOf),
      })),
      announcements: plan.announcements.map((a) => ({
        id: groupIdOf(a.title),
        title: a.title,
        owner: plan.admin.username,
        members: a.members.map((member) => member.username),
      })),
      directs: plan.directs.map(([a, b], index) => ({
        id: directIds[index] as string,
        usernames: [a.username, b.username],
      })),
    };
    await writeManifest(manifestPath, manifest);
    return {
      ok: true,
      output: `seeded: ${plan.users.length + 1} users (${missingUsers.length} new), ${groupPlans.length} group and ${plan.directs.length} direct conversations, ${toSend} new messages, ${readers.length} receipts; manifest ${manifestPath}`,
    };
  } finally {
    await runtime.close();
  }
}
