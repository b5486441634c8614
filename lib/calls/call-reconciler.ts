import { type ParticipantInfo, ParticipantInfo_State, TrackType } from 'livekit-server-sdk';
import type { Pool } from 'pg';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import { type CallRow, callRepository as calls } from './call.repository.js';
import type { CallService } from './call.service.js';
import type { CallStateStore } from './call-state.store.js';
import { type LiveKit, roomOfCall } from './livekit.js';

/**
 * The worker's safety net for calls: every policy.calls.reconcileIntervalMs it compares each
 * live call in PostgreSQL with what LiveKit itself lists (listParticipants), and with the live
 * view in Redis. Whoever LiveKit lists but no webhook reported joins; whoever is recorded but
 * gone from LiveKit leaves (and the key rotates); a call nobody joined within a token's
 * lifetime, or whose room is gone, ends. A Redis flushed or restarted is rebuilt (session and
 * participants from PostgreSQL and LiveKit; a lost media key is replaced by a rotation, pushed
 * to the participants), and a rotation claimed by a process that died inside the batching
 * window is completed. Only PostgreSQL is read when no call is live.
 */
export class CallReconciler {
  readonly #postgres: Pool;
  readonly #livekit: LiveKit;
  readonly #calls: CallService;
  readonly #store: CallStateStore;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** When applied webhook event ids were last pruned (ms since the epoch). */
  #prunedAt = 0;

  constructor(options: {
    postgres: Pool;
    livekit: LiveKit;
    calls: CallService;
    store: CallStateStore;
    logger: Logger;
  }) {
    this.#postgres = options.postgres;
    this.#livekit = options.livekit;
    this.#calls = options.calls;
    this.#store = options.store;
    this.#logger = options.logger.child({ component: 'call-reconciler' });
  }

  start(): void {
    const tick = () => {
      this.#running = this.reconcileAll()
        .catch((error: unknown) =>
          this.#logger.warn(
            { err: String(error) },
            'call reconciliation failed; next round retries',
          ),
        )
        .finally(() => {
          this.#running = undefined;
          if (this.#timer !== undefined) {
            this.#timer = setTimeout(tick, policy.calls.reconcileIntervalMs);
          }
        });
    };
    this.#timer = setTimeout(tick, policy.calls.reconcileIntervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async reconcileAll(): Promise<void> {
    await this.#pruneWebhookEvents();
    const live = await calls.allLive(this.#postgres);
    let participants = 0;
    for (const call of live) {
      try {
        participants += await this.reconcile(call);
      } catch (error) {
        this.#logger.warn({ err: String(error), callId: call.id }, 'call not reconciled');
      }
    }
    this.#calls.metrics.live.set(live.length);
    this.#calls.metrics.participants.set(participants);
  }

  /** Resolves how many participants the call has afterwards. */
  async reconcile(call: CallRow): Promise<number> {
    const corrections = this.#calls.metrics.corrections;
    const listed = (await this.#listParticipants(call)).filter(
      (participant) => participant.state !== ParticipantInfo_State.DISCONNECTED,
    );
    const inLiveKit = new Map(listed.map((participant) => [participant.identity, participant]));
    const recorded = new Set(
      (await calls.present(this.#postgres, call.id)).map((row) => row.userId),
    );
    for (const [identity, participant] of inLiveKit) {
      if (recorded.has(identity)) continue;
      corrections.inc({ kind: 'missed_join' });
      const joinedAtMs = Number(participant.joinedAtMs) || Number(participant.joinedAt) * 1_000;
      await this.#calls.participantJoined(call.id, identity, new Date(joinedAtMs || Date.now()));
    }
    for (const userId of recorded) {
      if (inLiveKit.has(userId)) continue;
      corrections.inc({ kind: 'missed_leave' });
      await this.#calls.participantLeft(call.id, userId, new Date());
    }
    const present = await calls.present(this.#postgres, call.id);
    const current = await calls.byId(this.#postgres, call.id);
    if (!current || current.endedAt) return 0;
    if (present.length === 0) {
      const ageMs = Date.now() - call.startedAt.getTime();
      if (ageMs > policy.calls.tokenTtlSeconds * 1_000) {
        corrections.inc({ kind: 'abandoned' });
        await this.#calls.endCall(current, 'empty');
      }
      return 0;
    }
    await this.#rebuildRedis(current, present, inLiveKit);
    if (await this.#calls.completeAbandonedRotation(current.conversationId)) {
      corrections.inc({ kind: 'abandoned_rotation' });
    }
    await this.#calls.refreshInCall(
      current.conversationId,
      present.map((row) => row.userId),
    );
    return present.length;
  }

  async #rebuildRedis(
    call: CallRow,
    present: Array<{ userId: string; joinedAt: Date }>,
    inLiveKit: Map<string, ParticipantInfo>,
  ): Promise<void> {
    const corrections = this.#calls.metrics.corrections;
    const { conversationId } = call;
    if (!(await this.#store.session(conversationId))) {
      corrections.inc({ kind: 'redis_session' });
      await this.#store.saveSession({ conversationId, callId: call.id, startedAt: call.startedAt });
    }
    const cached = new Map(
      (await this.#store.participants(conversationId)).map((row) => [row.userId, row]),
    );
    for (const row of present) {
      const muted = isMuted(inLiveKit.get(row.userId));
      const known = cached.get(row.userId);
      if (known && known.muted === muted) continue;
      if (!known) corrections.inc({ kind: 'redis_participant' });
      await this.#store.saveParticipant(conversationId, {
        userId: row.userId,
        callId: call.id,
        joinedAt: row.joinedAt,
        muted,
      });
    }
    for (const userId of cached.keys()) {
      if (!present.some((row) => row.userId === userId)) {
        await this.#store.removeParticipant(conversationId, userId);
      }
    }
    const remainingMs = await this.#store.keyRemainingMs(conversationId);
    if (remainingMs < 0) {
      corrections.inc({ kind: 'redis_key' });
      await this.#calls.rotateKey(conversationId, 'lost');
    } else if (remainingMs < policy.calls.keyTtlMs - policy.calls.keyRefreshAfterMs) {
      // A long call: a fresh key well before this one's TTL would delete it mid-call.
      await this.#calls.rotateKey(conversationId, 'age');
    }
  }

  /** Event ids older than any redelivery are of no more use for deduplication. */
  async #pruneWebhookEvents(): Promise<void> {
    if (Date.now() - this.#prunedAt < policy.calls.webhookDedupePruneIntervalMs) return;
    this.#prunedAt = Date.now();
    await this.#postgres.query(
      `DELETE FROM livekit_webhook_events WHERE received_at < now() - make_interval(days => $1)`,
      [policy.calls.webhookDedupeDays],
    );
  }

  async #listParticipants(call: CallRow): Promise<ParticipantInfo[]> {
    try {
      return await this.#livekit.rooms.listParticipants(roomOfCall(call.id));
    } catch (error) {
      // A room LiveKit does not have (never joined, or closed): nobody is in it.
      if (isNotFound(error)) return [];
      throw error;
    }
  }
}

function isMuted(participant: ParticipantInfo | undefined): boolean {
  const audio = participant?.tracks.filter((track) => track.type === TrackType.AUDIO) ?? [];
  return audio.length === 0 || audio.every((track) => track.muted);
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof Error &&
    (('status' in error && error.status === 404) ||
      /not.?found|does not exist/i.test(error.message))
  );
}
