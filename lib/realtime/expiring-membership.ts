import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { encodeSubject } from '../rate-limit/rate-limit-key.js';
import { defineLuaScripts, loadLuaScripts, runLuaScript } from '../redis/lua-scripts.js';
import type { RedisClient } from '../redis/redis-client.js';
import { runBatch } from '../redis/slot-batches.js';

/**
 * The one structure behind presence, room presence and typing: groups of members that live
 * until a deadline on Redis' clock, refreshed by whoever owns them, reported once when they stop.
 *
 *   presence: group = a user,         subject = '' (the user),  member suffix = a connection id
 *   rooms:    group = a conversation, subject = a viewer,       member suffix = a connection id
 *   typing:   group = a conversation, subject = a typist,       member suffix = ''
 *
 * Keys (the `{family-NN}` part is a Redis Cluster hash tag; NN = a hash of the group id modulo
 * policy.presence.indexShards, so every key of one group and its shard's index share a slot):
 *
 *   <prefix><family>:{<family>-NN}:<index>             sorted set: groupId → the group's latest
 *                                                      deadline (ms); "online users", "active
 *                                                      rooms", "conversations with typists"
 *   <prefix><family>:{<family>-NN}:<group>:<groupId>   sorted set: member → deadline
 *   <prefix><family>:{<family>-NN}:last-seen:<groupId> string: ms the group last stopped
 *   <prefix>presence:{presence-NN}:in-call:<userId>    sorted set: conversationId → deadline
 *                                                      (ms) of the user's stay in its call
 *
 * A member is `<byte length of subject>:<subject><suffix>`, so the subject can be read back and
 * matched by prefix without any escaping. Group ids are encoded (encodeSubject) where they
 * become part of a key, and kept as they are inside sorted sets, where any byte is safe.
 *
 * Every script touches the keys of one slot only, passed in KEYS (the ACL grants the services
 * `~<prefix>*`). An index shard and its groups change together atomically, so there is no
 * window where a group is active but missing from its index (that would lose its expiry) or
 * where two gateways both report the same stop. Expiry needs no cleaner: a crashed instance's
 * members just pass their deadline, and every gateway's periodic sweep finds them through the
 * index and reports each stop once (the scripts' header comments say exactly how).
 *
 * Batches (a heartbeat, a presence query, a sweep) are pipelines of single-slot scripts: one
 * round trip on one Redis. On Redis Cluster, ioredis refuses a pipeline whose keys span nodes,
 * so batches go through runBatch (lib/redis/slot-batches.ts), which splits them per slot there
 * (in parallel); the scripts and keys need no change.
 */

export type MembershipFamily = 'presence' | 'rooms' | 'typing';

const keyNames: Record<MembershipFamily, { index: string; group: string }> = {
  presence: { index: 'online', group: 'connections' },
  rooms: { index: 'active', group: 'connections' },
  typing: { index: 'active', group: 'typists' },
};

const scripts = loadLuaScripts(import.meta.url, {
  touch: 'membership-touch-2.lua',
  leave: 'membership-leave-3.lua',
  due: 'membership-due-1.lua',
  expire: 'membership-expire-3.lua',
  live: 'membership-live-1.lua',
  // Variable number of keys: the call passes it first.
  status: 'membership-status.lua',
  count: 'membership-count-1.lua',
});

/** A reply that is not what the script returns: a script/version mismatch, never user input. */
export class UnexpectedReplyError extends Error {
  constructor(script: string, reply: unknown) {
    super(`${script} returned ${JSON.stringify(reply)}`);
    this.name = 'UnexpectedReplyError';
  }
}

function numbers(script: string, reply: unknown, length: number): number[] {
  if (Array.isArray(reply) && reply.length === length && reply.every(Number.isFinite)) {
    return reply as number[];
  }
  throw new UnexpectedReplyError(script, reply);
}

function strings(script: string, reply: unknown): string[] {
  if (Array.isArray(reply) && reply.every((item) => typeof item === 'string')) return reply;
  throw new UnexpectedReplyError(script, reply);
}

export interface MemberRef {
  groupId: string;
  subject: string;
  suffix: string;
}

export interface TouchOutcome {
  /** The subject had no live member in the group before. */
  subjectStarted: boolean;
  /** The group was not active (not in its index) before. */
  groupStarted: boolean;
}

export interface LeaveOutcome {
  /** The subject had a member and has no live one left. */
  subjectStopped: boolean;
  /** The group was active and is not any more. */
  groupStopped: boolean;
  /** Redis' clock at the leave, ms. */
  atMs: number;
}

export interface ExpiryOutcome {
  groupId: string;
  /** Subjects whose last member expired. */
  subjects: string[];
  /** The group had only expired members: it left its index. */
  groupStopped: boolean;
  /** When the group stopped: its last refresh (latest deadline - ttl), ms. */
  lastActiveMs: number;
}

export interface GroupStatus {
  active: boolean;
  /** When the group last stopped (or was last refreshed, if expired but not yet swept), ms;
   *  null while active or when nothing is known. */
  lastActiveMs: number | null;
}

/** `<byte length>:<subject>`: no subject's prefix is a prefix of another subject's members. */
function subjectPrefix(subject: string): string {
  return `${Buffer.byteLength(subject, 'utf8')}:${subject}`;
}

/** A member as stored: the subject's prefix, then the suffix (a connection id, or nothing). */
export function memberOf(subject: string, suffix: string): string {
  return subjectPrefix(subject) + suffix;
}

/** The subject of a member (see subjectPrefix). */
export function subjectOf(member: string): string {
  const colon = member.indexOf(':');
  const length = Number(member.slice(0, colon));
  const rest = member.slice(colon + 1);
  // Fast path: ASCII, where bytes and UTF-16 units coincide.
  if (rest.length === Buffer.byteLength(rest, 'utf8')) return rest.slice(0, length);
  return Buffer.from(rest, 'utf8').subarray(0, length).toString('utf8');
}

export interface ExpiringMembershipOptions {
  redis: RedisClient;
  keyPrefix: string;
  family: MembershipFamily;
  shards: number;
  /** How long a group key outlives its latest deadline (policy.presence.expiredEntryGraceMs). */
  graceMs: number;
}

/** The keys and scripts of one family; every method rejects on Redis errors (callers decide). */
export class ExpiringMembership {
  readonly #redis: RedisClient;
  readonly #family: MembershipFamily;
  readonly #shards: number;
  readonly #graceMs: number;
  /** Per shard: what precedes the encoded group id in its keys, and its index key. */
  readonly #shardHeads: string[];
  readonly #indexKeys: string[];

  constructor(options: ExpiringMembershipOptions) {
    if (!Number.isInteger(options.shards) || options.shards < 1 || options.shards > 1_000) {
      throw new RangeError(`shards must be a whole number from 1 to 1000, got ${options.shards}`);
    }
    this.#redis = options.redis;
    this.#family = options.family;
    this.#shards = options.shards;
    this.#graceMs = options.graceMs;
    const width = String(options.shards - 1).length;
    this.#shardHeads = Array.from(
      { length: options.shards },
      (_, shard) =>
        `${options.keyPrefix}${options.family}:{${options.family}-${String(shard).padStart(width, '0')}}:`,
    );
    this.#indexKeys = this.#shardHeads.map((head) => head + keyNames[options.family].index);
    defineLuaScripts(this.#redis, scripts);
  }

  get redis(): RedisClient {
    return this.#redis;
  }

  shardOf(groupId: string): number {
    return createHash('sha256').update(groupId, 'utf8').digest().readUInt32BE(0) % this.#shards;
  }

  /** A key of one group's own, beside its members in its shard's slot, for what a family
   *  keeps about a group besides its members (presence: the calls a user is in). */
  sideKey(groupId: string, name: string): string {
    if (groupId === '') throw new RangeError(`${this.#family} id must not be empty`);
    const head = this.#shardHeads[this.shardOf(groupId)] as string;
    return `${head}${name}:${encodeSubject(groupId)}`;
  }

  /** The keys of one group: its index shard, its members, its last-seen time. */
  keysOf(groupId: string): { shard: number; index: string; group: string; lastSeen: string } {
    if (groupId === '') throw new RangeError(`${this.#family} id must not be empty`);
    const shard = this.shardOf(groupId);
    const head = this.#shardHeads[shard] as string;
    const encoded = encodeSubject(groupId);
    return {
      shard,
      index: this.#indexKeys[shard] as string,
      group: `${head}${keyNames[this.#family].group}:${encoded}`,
      lastSeen: `${head}last-seen:${encoded}`,
    };
  }

  #queueTouch(target: RedisClient | ChainableCommander, ref: MemberRef, ttlMs: number) {
    const keys = this.keysOf(ref.groupId);
    const prefix = subjectPrefix(ref.subject);
    return runLuaScript(
      target,
      scripts.touch,
      keys.index,
      keys.group,
      ref.groupId,
      prefix + ref.suffix,
      prefix,
      ttlMs,
      this.#graceMs,
    );
  }

  async touch(ref: MemberRef, ttlMs: number): Promise<TouchOutcome> {
    return touchOutcome(await this.#queueTouch(this.#redis, ref, ttlMs));
  }

  /** Touches many members in one pipeline; per member, its outcome or the error. */
  async touchMany(refs: readonly MemberRef[], ttlMs: number): Promise<Array<TouchOutcome | Error>> {
    if (refs.length === 0) return [];
    const results = await runBatch(
      this.#redis,
      refs.map((ref) => ({
        key: this.keysOf(ref.groupId).index,
        queue: (pipeline) => this.#queueTouch(pipeline, ref, ttlMs),
      })),
    );
    return results.map((result) => {
      if ('error' in result) return result.error;
      try {
        return touchOutcome(result.reply);
      } catch (error) {
        return error as Error;
      }
    });
  }

  async leave(ref: MemberRef, lastSeenRetentionMs: number): Promise<LeaveOutcome> {
    const keys = this.keysOf(ref.groupId);
    const prefix = subjectPrefix(ref.subject);
    const reply = await runLuaScript(
      this.#redis,
      scripts.leave,
      keys.index,
      keys.group,
      keys.lastSeen,
      ref.groupId,
      prefix + ref.suffix,
      prefix,
      this.#graceMs,
      lastSeenRetentionMs,
    );
    const [subjectStopped, groupStopped, atMs] = numbers('membership-leave', reply, 3) as [
      number,
      number,
      number,
    ];
    return { subjectStopped: subjectStopped === 1, groupStopped: groupStopped === 1, atMs };
  }

  /** The live members of a group (subjectOf reads a member's subject). */
  async live(groupId: string): Promise<string[]> {
    const reply = await runLuaScript(this.#redis, scripts.live, this.keysOf(groupId).group);
    return strings('membership-live', reply);
  }

  /**
   * Finds the groups whose latest deadline passed and expires them: two round trips (the due
   * groups of every shard, then one expire script per due group). Every gateway may run it at
   * the same time; each stop is reported by exactly one of them. Rejects only if the first
   * step fails; a failed expire of one group is skipped (it stays due for the next sweep).
   */
  async sweep(
    ttlMs: number,
    lastSeenRetentionMs: number,
    batchPerShard: number,
  ): Promise<{ outcomes: ExpiryOutcome[]; errors: number }> {
    const dueReplies = await runBatch(
      this.#redis,
      this.#indexKeys.map((index) => ({
        key: index,
        queue: (pipeline) => runLuaScript(pipeline, scripts.due, index, batchPerShard),
      })),
    );
    let errors = 0;
    const due: string[] = [];
    for (const result of dueReplies) {
      if ('error' in result) errors++;
      else due.push(...strings('membership-due', result.reply));
    }
    if (due.length === 0) return { outcomes: [], errors };
    const expired = await runBatch(
      this.#redis,
      due.map((groupId) => {
        const keys = this.keysOf(groupId);
        return {
          key: keys.index,
          queue: (pipeline) =>
            runLuaScript(
              pipeline,
              scripts.expire,
              keys.index,
              keys.group,
              keys.lastSeen,
              groupId,
              ttlMs,
              lastSeenRetentionMs,
            ),
        };
      }),
    );
    const outcomes: ExpiryOutcome[] = [];
    expired.forEach((result, i) => {
      if ('error' in result) {
        errors++;
        return;
      }
      const reply = result.reply;
      if (!Array.isArray(reply) || reply.length < 2) {
        errors++;
        return;
      }
      const [groupStopped, lastActiveMs, ...subjects] = reply as [number, number, ...string[]];
      if (groupStopped === 1 || subjects.length > 0) {
        outcomes.push({
          groupId: due[i] as string,
          subjects,
          groupStopped: groupStopped === 1,
          lastActiveMs,
        });
      }
    });
    return { outcomes, errors };
  }

  /** Whether each group is active: one script per shard, all in one pipeline (one round trip). */
  async status(groupIds: readonly string[], ttlMs: number): Promise<Map<string, GroupStatus>> {
    const byShard = new Map<number, { ids: string[]; lastSeenKeys: string[] }>();
    for (const groupId of new Set(groupIds)) {
      const { shard, lastSeen } = this.keysOf(groupId);
      const group = byShard.get(shard);
      if (group) {
        group.ids.push(groupId);
        group.lastSeenKeys.push(lastSeen);
      } else {
        byShard.set(shard, { ids: [groupId], lastSeenKeys: [lastSeen] });
      }
    }
    const statuses = new Map<string, GroupStatus>();
    if (byShard.size === 0) return statuses;
    const shards = [...byShard.entries()];
    const results = await runBatch(
      this.#redis,
      shards.map(([shard, { ids, lastSeenKeys }]) => {
        const index = this.#indexKeys[shard] as string;
        return {
          key: index,
          queue: (pipeline) =>
            runLuaScript(
              pipeline,
              scripts.status,
              ids.length + 1,
              index,
              ...lastSeenKeys,
              ttlMs,
              ...ids,
            ),
        };
      }),
    );
    results.forEach((result, i) => {
      if ('error' in result) throw result.error;
      const { ids } = (shards[i] as (typeof shards)[number])[1];
      const pairs = numbers('membership-status', result.reply, ids.length * 2);
      ids.forEach((id, j) => {
        const active = pairs[j * 2] === 1;
        const lastActiveMs = pairs[j * 2 + 1] as number;
        statuses.set(id, {
          active,
          lastActiveMs: active || lastActiveMs < 0 ? null : lastActiveMs,
        });
      });
    });
    return statuses;
  }

  /** Active groups across all shards, now: one pipeline. */
  async countActive(): Promise<number> {
    const results = await runBatch(
      this.#redis,
      this.#indexKeys.map((index) => ({
        key: index,
        queue: (pipeline) => runLuaScript(pipeline, scripts.count, index),
      })),
    );
    let total = 0;
    for (const result of results) {
      if ('error' in result) throw result.error;
      if (typeof result.reply !== 'number') {
        throw new UnexpectedReplyError('membership-count', result.reply);
      }
      total += result.reply;
    }
    return total;
  }
}

function touchOutcome(reply: unknown): TouchOutcome {
  const [subjectStarted, groupStarted] = numbers('membership-touch', reply, 2) as [number, number];
  return { subjectStarted: subjectStarted === 1, groupStarted: groupStarted === 1 };
}

/**
 * The heartbeat in flight on this instance, so that a leave waits for it. A heartbeat sends its
 * list in chunks, one round trip each; a connection that closes meanwhile would be removed by
 * the leave and then added back by a later chunk, leaving a ghost for one TTL (and a spurious
 * "online"). Waiting costs a leave at most one heartbeat's duration, milliseconds.
 */
export class HeartbeatGate {
  #current: Promise<unknown> = Promise.resolve();

  track<T>(heartbeat: Promise<T>): Promise<T> {
    this.#current = heartbeat.catch(() => undefined);
    return heartbeat;
  }

  /** Resolves when the heartbeat in flight (if any) has settled; never rejects. */
  settled(): Promise<unknown> {
    return this.#current;
  }
}
