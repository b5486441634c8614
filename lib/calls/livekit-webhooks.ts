import type { WebhookEvent } from 'livekit-server-sdk';
import type { Pool } from 'pg';
import type { Logger } from '../observability/logger.js';
import { callRepository as calls } from './call.repository.js';
import type { CallService } from './call.service.js';
import { WebhookSignatureError } from './call-errors.js';
import { callOfRoom, type LiveKit } from './livekit.js';

export type WebhookOutcome = 'applied' | 'duplicate' | 'ignored';

/**
 * LiveKit's webhooks (POST /api/v1/livekit/webhook): verified on the raw body (WebhookReceiver
 * checks the JWT in Authorization and the body's sha256 in it), applied once per event id, and
 * tolerant of what LiveKit is known to do: `participant_joined` late or missing (the reconciler
 * adds whoever LiveKit lists), `participant_connection_aborted` instead of `participant_left`,
 * a quick disconnect with no event at all (the reconciler again), and events out of order (a
 * join or leave older than the stay it concerns is ignored: lib/calls/call.repository.ts).
 * Nothing in a LiveKit webhook carries a media key: they never leave Quad.
 */
export class LiveKitWebhooks {
  readonly #postgres: Pool;
  readonly #livekit: LiveKit;
  readonly #calls: CallService;
  readonly #logger: Logger;

  constructor(options: { postgres: Pool; livekit: LiveKit; calls: CallService; logger: Logger }) {
    this.#postgres = options.postgres;
    this.#livekit = options.livekit;
    this.#calls = options.calls;
    this.#logger = options.logger.child({ component: 'livekit-webhooks' });
  }

  async receive(body: string, authorization: string | undefined): Promise<WebhookOutcome> {
    let event: WebhookEvent;
    try {
      if (!authorization) throw new Error('no Authorization header');
      event = await this.#livekit.webhooks.receive(body, authorization);
    } catch (error) {
      this.#calls.metrics.webhookEvents.inc({ event: 'unknown', result: 'refused' });
      throw new WebhookSignatureError(error instanceof Error ? error.message : String(error));
    }
    const outcome = await this.#apply(event);
    this.#calls.metrics.webhookEvents.inc({ event: event.event || 'unknown', result: outcome });
    return outcome;
  }

  async #apply(event: WebhookEvent): Promise<WebhookOutcome> {
    const callId = callOfRoom(event.room?.name);
    if (!event.id || callId === undefined) return 'ignored';
    if (!(await calls.firstDelivery(this.#postgres, event.id, event.event))) return 'duplicate';
    // createdAt: seconds since the epoch on LiveKit's clock.
    const at = event.createdAt > 0n ? new Date(Number(event.createdAt) * 1_000) : new Date();
    const identity = event.participant?.identity;
    switch (event.event) {
      case 'participant_joined':
        if (!identity) return 'ignored';
        await this.#calls.participantJoined(callId, identity, at);
        return 'applied';
      case 'participant_left':
      case 'participant_connection_aborted':
        if (!identity) return 'ignored';
        await this.#calls.participantLeft(callId, identity, at);
        return 'applied';
      case 'room_finished': {
        const call = await calls.byId(this.#postgres, callId);
        if (call && !call.endedAt) await this.#calls.endCall(call, 'room_finished');
        return 'applied';
      }
      default:
        this.#logger.debug({ event: event.event }, 'livekit webhook not used');
        return 'ignored';
    }
  }
}
