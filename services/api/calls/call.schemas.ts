import { z } from 'zod';
import { uuidField } from '../../../lib/accounts/index.js';
import type { CallView, JoinAnswer } from '../../../lib/calls/index.js';

/*
 * Request and response schemas of the call routes. Responses are plain objects, so nothing
 * beyond them leaves the process.
 */

const timestamp = z.iso.datetime();

export const conversationParams = z.strictObject({ id: uuidField });
export const participantParams = z.strictObject({ id: uuidField, userId: uuidField });

const participantSchema = z
  .object({
    userId: z.uuid(),
    joinedAt: timestamp,
    muted: z.boolean().meta({ description: 'As LiveKit reports it: no unmuted audio track' }),
  })
  .meta({ id: 'CallParticipant' });

export const callSchema = z
  .object({
    id: z.uuid(),
    conversationId: z.uuid(),
    startedBy: z.uuid(),
    startedAt: timestamp,
    participants: z.array(participantSchema),
  })
  .meta({ id: 'Call' });

export const callKeySchema = z
  .object({
    key: z.base64().meta({
      description:
        '32 random bytes, base64: the call’s current media key (LiveKit E2EE shared key)',
    }),
    keyIndex: z
      .int()
      .min(0)
      .max(15)
      .meta({ description: 'Its slot in LiveKit’s 16-slot key ring' }),
  })
  .meta({ id: 'CallKey' });

export const joinAnswerSchema = z
  .object({
    call: callSchema,
    livekit: z.object({
      url: z.string().meta({
        description:
          'The LiveKit server to connect to: a ws(s):// URL, or a path (e.g. /livekit) on the origin the api was reached through',
      }),
      token: z.string().meta({
        description:
          'Join token for this call’s room only (identity = user id), short-lived: connect at once',
      }),
    }),
    e2ee: callKeySchema,
  })
  .meta({ id: 'CallJoin' });

/** What identifies a call in the lists below. */
const listedCallFields = { id: z.uuid(), conversationId: z.uuid(), startedAt: timestamp };

export const callHistorySchema = z
  .object({
    calls: z.array(
      z.object({
        ...listedCallFields,
        endedAt: timestamp.nullable(),
        endedReason: z.enum(['empty', 'ended_by_admin', 'room_finished']).nullable(),
        firstJoinedAt: timestamp,
        lastLeftAt: timestamp.nullable(),
        secondsInCall: z.int().min(0).meta({ description: 'My own time in the call' }),
      }),
    ),
  })
  .meta({ id: 'CallHistory' });

export const liveCallsSchema = z
  .object({
    calls: z.array(
      z.object({
        ...listedCallFields,
        participantIds: z.array(z.uuid()).meta({ description: 'Who is in it, first joined first' }),
      }),
    ),
  })
  .meta({ id: 'LiveCalls' });

export const callSettingsSchema = z
  .strictObject({
    publishers: z.enum(['members', 'admins']).meta({
      description: 'Who publishes audio and video: every member, or only owners and admins',
    }),
  })
  .meta({ id: 'CallSettings' });

export const webhookAnswerSchema = z
  .object({ result: z.enum(['applied', 'duplicate', 'ignored']) })
  .meta({ id: 'LiveKitWebhookAnswer' });

export function toCall(call: CallView) {
  return {
    id: call.id,
    conversationId: call.conversationId,
    startedBy: call.startedBy,
    startedAt: call.startedAt.toISOString(),
    participants: call.participants.map((participant) => ({
      userId: participant.userId,
      joinedAt: participant.joinedAt.toISOString(),
      muted: participant.muted,
    })),
  };
}

export function toJoinAnswer(answer: JoinAnswer) {
  return { call: toCall(answer.call), livekit: answer.livekit, e2ee: answer.e2ee };
}
