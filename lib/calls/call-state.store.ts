import { randomBytes } from 'node:crypto';
import { type Entity, EntityId, Repository, Schema } from 'redis-om';
import { policy } from '../policy/policy.js';
import { boundedCommand, type NodeRedisClient } from '../redis/node-redis-client.js';
import type { RedisBreaker } from '../redis/redis-breaker.js';

/**
 * The live state of calls in the state Redis, through redis-om (`CallSession`,
 * `CallParticipant` entities on plain HASHes: no Redis modules, no search), plus the two keys
 * redis-om has no shape for: the set of a call's participants and its media key. Everything
 * here except the media key is rebuilt from PostgreSQL and LiveKit by the reconciler; the media
 * key is never stored anywhere else, so a lost key is replaced by a new one (a rotation).
 *
 * Keys, all with the conversation id as hash tag so one call's keys share a slot:
 *   <prefix>call-session:{<conversationId>}                  HASH   CallSession
 *   <prefix>call-participant:{<conversationId>}:<userId>     HASH   CallParticipant
 *   <prefix>call-participants:{<conversationId>}             SET    user ids
 *   <prefix>call-key:{<conversationId>}                      STRING <keyIndex>.<base64 key>, PX
 *   <prefix>call-rotation:{<conversationId>}                 STRING the pending rotation's
 *                                                                   claimer, PX lease
 * Every call goes through the node-redis client's own breaker, bounded by a command timeout.
 */

export interface CallSessionState {
  conversationId: string;
  callId: string;
  startedAt: Date;
}

export interface CallParticipantState {
  userId: string;
  callId: string;
  joinedAt: Date;
  /** As LiveKit reports it: every published audio track muted, or none published. */
  muted: boolean;
}

export interface CallKey {
  key: string;
  keyIndex: number;
}

const tag = (conversationId: string) => `{${conversationId}}`;

export class CallStateStore {
  readonly #redis: NodeRedisClient;
  readonly #breaker: RedisBreaker;
  readonly #prefix: string;
  readonly #sessions: Repository;
  readonly #participants: Repository;

  constructor(options: { redis: NodeRedisClient; breaker: RedisBreaker; keyPrefix: string }) {
    this.#redis = options.redis;
    this.#breaker = options.breaker;
    this.#prefix = options.keyPrefix;
    const sessionSchema = new Schema(
      `${options.keyPrefix}call-session`,
      {
        conversationId: { type: 'string' },
        callId: { type: 'string' },
        startedAt: { type: 'date' },
      },
      { dataStructure: 'HASH' },
    );
    const participantSchema = new Schema(
      `${options.keyPrefix}call-participant`,
      {
        userId: { type: 'string' },
        callId: { type: 'string' },
        joinedAt: { type: 'date' },
        muted: { type: 'boolean' },
      },
      { dataStructure: 'HASH' },
    );
    this.#sessions = new Repository(sessionSchema, options.redis);
    this.#participants = new Repository(participantSchema, options.redis);
  }

  #run<T>(operation: () => Promise<T>): Promise<T> {
    return this.#breaker.run(() => boundedCommand(operation));
  }

  #participantsKey(conversationId: string) {
    return `${this.#prefix}call-participants:${tag(conversationId)}`;
  }
  #mediaKey(conversationId: string) {
    return `${this.#prefix}call-key:${tag(conversationId)}`;
  }
  #rotationKey(conversationId: string) {
    return `${this.#prefix}call-rotation:${tag(conversationId)}`;
  }
  #participantId(conversationId: string, userId: string) {
    return `${tag(conversationId)}:${userId}`;
  }

  async session(conversationId: string): Promise<CallSessionState | undefined> {
    const entity = await this.#run(() => this.#sessions.fetch(tag(conversationId)));
    const { callId, startedAt } = entity;
    if (typeof callId !== 'string' || !(startedAt instanceof Date)) return undefined;
    return { conversationId, callId, startedAt };
  }

  /**
   * The live calls among `conversationIds` as the live view has them: its call, since when, and
   * how many are in it. node-redis sends the commands issued in one tick together, so a whole
   * conversation list costs one round trip, bounded once by the command timeout.
   */
  async liveCalls(
    conversationIds: readonly string[],
  ): Promise<Map<string, CallSessionState & { participantCount: number }>> {
    const found = new Map<string, CallSessionState & { participantCount: number }>();
    if (conversationIds.length === 0) return found;
    const replies = await this.#run(() =>
      Promise.all(
        conversationIds.map((conversationId) =>
          Promise.all([
            this.#sessions.fetch(tag(conversationId)),
            this.#redis.sCard(this.#participantsKey(conversationId)),
          ]),
        ),
      ),
    );
    replies.forEach(([entity, participantCount], i) => {
      const conversationId = conversationIds[i] as string;
      const { callId, startedAt } = entity;
      if (typeof callId !== 'string' || !(startedAt instanceof Date)) return;
      found.set(conversationId, { conversationId, callId, startedAt, participantCount });
    });
    return found;
  }

  async saveSession(session: CallSessionState): Promise<void> {
    const id = tag(session.conversationId);
    const entity: Entity = { ...session, [EntityId]: id };
    await this.#run(() => this.#sessions.save(entity));
    await this.#run(() => this.#sessions.expire(id, policy.calls.keyTtlMs / 1_000));
  }

  async participants(conversationId: string): Promise<CallParticipantState[]> {
    const userIds = await this.#run(() =>
      this.#redis.sMembers(this.#participantsKey(conversationId)),
    );
    if (userIds.length === 0) return [];
    const ids = userIds.map((userId) => this.#participantId(conversationId, userId));
    const entities = await this.#run(() => this.#participants.fetch(ids));
    const found: CallParticipantState[] = [];
    for (const entity of entities) {
      const { userId, callId, joinedAt, muted } = entity;
      if (typeof userId !== 'string' || typeof callId !== 'string') continue;
      if (!(joinedAt instanceof Date)) continue;
      found.push({ userId, callId, joinedAt, muted: muted === true });
    }
    return found.sort((a, b) => a.joinedAt.getTime() - b.joinedAt.getTime());
  }

  async saveParticipant(conversationId: string, participant: CallParticipantState): Promise<void> {
    const id = this.#participantId(conversationId, participant.userId);
    const entity: Entity = { ...participant, [EntityId]: id };
    await this.#run(() => this.#participants.save(entity));
    await this.#run(() =>
      this.#redis
        .multi()
        .sAdd(this.#participantsKey(conversationId), participant.userId)
        .pExpire(this.#participantsKey(conversationId), policy.calls.keyTtlMs)
        .pExpire(`${this.#prefix}call-participant:${id}`, policy.calls.keyTtlMs)
        .exec(),
    );
  }

  async removeParticipant(conversationId: string, userId: string): Promise<void> {
    await this.#run(() => this.#participants.remove(this.#participantId(conversationId, userId)));
    await this.#run(() => this.#redis.sRem(this.#participantsKey(conversationId), userId));
  }

  /** Everything of the call: the session, participants, key and pending rotation. */
  async clear(conversationId: string): Promise<void> {
    const userIds = await this.#run(() =>
      this.#redis.sMembers(this.#participantsKey(conversationId)),
    );
    if (userIds.length > 0) {
      await this.#run(() =>
        this.#participants.remove(userIds.map((id) => this.#participantId(conversationId, id))),
      );
    }
    await this.#run(() => this.#sessions.remove(tag(conversationId)));
    await this.#run(() =>
      this.#redis.unlink([
        this.#participantsKey(conversationId),
        this.#mediaKey(conversationId),
        this.#rotationKey(conversationId),
      ]),
    );
  }

  async key(conversationId: string): Promise<CallKey | undefined> {
    const stored = await this.#run(() => this.#redis.get(this.#mediaKey(conversationId)));
    return stored === null ? undefined : parseKey(stored);
  }

  /** Stores a fresh random key at `keyIndex` unless one is there (`onlyIfAbsent`): resolves
   *  the key that is current afterwards. */
  async putKey(conversationId: string, keyIndex: number, onlyIfAbsent: boolean): Promise<CallKey> {
    const fresh: CallKey = {
      key: randomBytes(policy.calls.keyBytes).toString('base64'),
      keyIndex,
    };
    const stored = `${fresh.keyIndex}.${fresh.key}`;
    const px = policy.calls.keyTtlMs;
    const reply = await this.#run(() =>
      onlyIfAbsent
        ? this.#redis.set(this.#mediaKey(conversationId), stored, { PX: px, NX: true, GET: true })
        : this.#redis.set(this.#mediaKey(conversationId), stored, { PX: px }),
    );
    if (onlyIfAbsent && typeof reply === 'string') return parseKey(reply) ?? fresh;
    return fresh;
  }

  /** Milliseconds the current key has left before its TTL (-2: none). */
  async keyRemainingMs(conversationId: string): Promise<number> {
    return this.#run(() => this.#redis.pTTL(this.#mediaKey(conversationId)));
  }

  /**
   * True for the first leave of a batch: `claimer` records the pending rotation and runs it
   * when the window closes; later leaves within the window ride along. The record outlives a
   * claimer that dies before rotating: its age is read from its TTL (Redis' clock), and once
   * it is overdue takeOverRotation hands it to someone else.
   */
  async claimRotation(conversationId: string, claimer: string): Promise<boolean> {
    const reply = await this.#run(() =>
      this.#redis.set(this.#rotationKey(conversationId), claimer, {
        PX: policy.calls.rotationLeaseMs,
        NX: true,
      }),
    );
    return reply === 'OK';
  }

  /**
   * Takes over a pending rotation whose claimer has not completed it within
   * policy.calls.rotationTakeoverAfterMs of its claim: true for exactly one of the callers
   * that ask at once (the one whose write replaced the claimer it saw), which then rotates
   * and releases it.
   */
  async takeOverRotation(conversationId: string, taker: string): Promise<boolean> {
    const key = this.#rotationKey(conversationId);
    const [claimer, remainingMs] = await this.#run(() =>
      Promise.all([this.#redis.get(key), this.#redis.pTTL(key)]),
    );
    if (claimer === null || remainingMs < 0) return false;
    const ageMs = policy.calls.rotationLeaseMs - remainingMs;
    if (ageMs < policy.calls.rotationTakeoverAfterMs) return false;
    const replaced = await this.#run(() =>
      this.#redis.set(key, taker, { XX: true, PX: policy.calls.rotationLeaseMs, GET: true }),
    );
    return replaced === claimer;
  }

  async releaseRotation(conversationId: string): Promise<void> {
    await this.#run(() => this.#redis.unlink(this.#rotationKey(conversationId)));
  }
}

function parseKey(stored: string): CallKey | undefined {
  const dot = stored.indexOf('.');
  const keyIndex = Number(stored.slice(0, dot));
  if (dot < 1 || !Number.isInteger(keyIndex)) return undefined;
  return { keyIndex, key: stored.slice(dot + 1) };
}
