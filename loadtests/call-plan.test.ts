import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planInstitution, type SeedManifest } from '../services/cli/seed-command.js';
import { callClasses, callDeliveries, expectedCallEvents } from './call-plan.js';
import { loadScenarios } from './scenarios.js';

/** A manifest's users and classes as `quad seed` lays them out (the first of a class teaches). */
function manifestOf(users: number, classSize: number): Pick<SeedManifest, 'users' | 'classes'> {
  const plan = planInstitution({
    users,
    classSize,
    announcementSize: 1,
    days: 0,
    classMessagesPerDay: 0,
    directMessagesPerDay: 0,
    concurrency: 1,
  });
  return {
    users: plan.users.map((user, i) => ({ ...user, id: `user-${i}` })),
    classes: plan.classes.map((klass, c) => ({
      id: `class-${c}`,
      title: klass.title,
      teacher: klass.members[0]?.username ?? '',
      memberIds: klass.members.map((member) => `user-${plan.users.indexOf(member)}`),
    })),
  };
}

test('each call class is students of that class: participants, then a listener', () => {
  const manifest = manifestOf(200, 30);
  const classes = callClasses(manifest, 5, 3);
  assert.equal(classes.length, 5);
  const byName = new Map(manifest.users.map((user) => [user.username, user]));
  for (const [c, klass] of classes.entries()) {
    assert.equal(klass.conversationId, `class-${c}`);
    assert.equal(klass.participants.length, 3);
    const everyone = [...klass.participants, klass.listener];
    assert.equal(new Set(everyone).size, 4, 'four different people');
    for (const username of everyone) {
      const user = byName.get(username);
      assert.equal(user?.classIndex, c);
      assert.equal(user?.role, 'student');
    }
  }
});

test('classes too small for a call are passed over, and no more classes than there are', () => {
  // 65 people in classes of 30: the third class is 5 people, a teacher and 4 students.
  const manifest = manifestOf(65, 30);
  assert.deepEqual(
    callClasses(manifest, 10, 4).map((klass) => klass.conversationId),
    ['class-0', 'class-1'],
  );
  assert.equal(callClasses(manifest, 10, 3).length, 3);
  assert.throws(() => callClasses(manifestOf(3, 30), 1, 3), /no class of the seed/);
});

test("the scenarios' call sizes fit their seed's classes", () => {
  const file = loadScenarios();
  const calls = file.scenarios.calls;
  assert.equal(calls.kind, 'calls');
  for (const profile of ['full', 'ci'] as const) {
    const load = calls.kind === 'calls' ? calls[profile] : undefined;
    assert.ok(load, `calls has a ${profile} load`);
    const seed = file.seed[profile];
    const classes = callClasses(
      manifestOf(seed.users, seed.classSize),
      load.calls,
      load.participants,
    );
    assert.ok(classes.length > 0);
  }
});

test('a listener hears start, each join and leave, and the end', () => {
  assert.equal(expectedCallEvents(3), 8);
});

test('deliveries count each event of the call once, from its first arrival', () => {
  const at = 1_000_000;
  const deliveries = callDeliveries(
    [
      { name: 'call:started', callId: 'a', emittedAt: at, arrivedAt: at + 5 },
      {
        name: 'call:participant-joined',
        callId: 'a',
        userId: 'u1',
        emittedAt: at,
        arrivedAt: at + 7,
      },
      // The outbox relay's repeat of the same event.
      {
        name: 'call:participant-joined',
        callId: 'a',
        userId: 'u1',
        emittedAt: at + 900,
        arrivedAt: at + 950,
      },
      {
        name: 'call:participant-joined',
        callId: 'a',
        userId: 'u2',
        emittedAt: at,
        arrivedAt: at + 9,
      },
      // Another call of the same class (an earlier arrival's).
      { name: 'call:ended', callId: 'b', emittedAt: at, arrivedAt: at + 1 },
      { name: 'call:ended', callId: 'a', emittedAt: at, arrivedAt: at + 3 },
    ],
    'a',
  );
  assert.deepEqual(deliveries, [
    { name: 'call:started', latencyMs: 5 },
    { name: 'call:participant-joined', userId: 'u1', latencyMs: 7 },
    { name: 'call:participant-joined', userId: 'u2', latencyMs: 9 },
    { name: 'call:ended', latencyMs: 3 },
  ]);
});
