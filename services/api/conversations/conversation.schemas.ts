import { z } from 'zod';
import { uuidField } from '../../../lib/accounts/index.js';
import {
  type Conversation,
  type ConversationSummary,
  conversationTitleField,
  idempotencyKeyField,
  type Message,
  memberRoles,
  messageBodyField,
  type ReadReceipt,
  type UnreadCount,
} from '../../../lib/conversations/index.js';
import { queryIntegerField } from '../../../lib/http/query-fields.js';
import { policy } from '../../../lib/policy/policy.js';

/*
 * Request and response schemas of the conversation and message routes. Requests are strict
 * (unknown fields are a 400 naming them); responses are plain objects, so nothing beyond them
 * leaves the process (an idempotency key, say).
 */

const timestamp = z.iso.datetime();

export const conversationParams = z.strictObject({ id: uuidField });
export const memberParams = z.strictObject({ id: uuidField, userId: uuidField });
export const messageParams = z.strictObject({ id: uuidField, messageId: uuidField });

export const newConversationBody = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('direct'), userId: uuidField }),
    z.strictObject({
      kind: z.literal('group'),
      title: conversationTitleField,
      memberIds: z.array(uuidField).max(policy.messaging.maxInitialMembers).default([]),
    }),
  ])
  .meta({ id: 'NewConversation' });

export const addMemberBody = z
  .strictObject({
    userId: uuidField,
    role: z.enum(['admin', 'member']).default('member'),
  })
  .meta({ id: 'NewMember' });

export const sendMessageBody = z
  .strictObject({
    body: messageBodyField,
    idempotencyKey: idempotencyKeyField,
  })
  .meta({ id: 'NewMessage' });

export const editMessageBody = z
  .strictObject({ body: messageBodyField })
  .meta({ id: 'MessageEdit' });

export const markReadBody = z
  .strictObject({
    upToMessageId: uuidField.meta({
      description: 'The newest message read; it and every older one count as read',
    }),
  })
  .meta({ id: 'MarkRead' });

export const historyQuery = z.strictObject({
  limit: queryIntegerField({
    min: 1,
    max: policy.messaging.maxPageSize,
    default: policy.messaging.defaultPageSize,
  }),
  cursor: z.string().min(1).max(64).optional().meta({
    description: 'nextCursor of the previous page; absent for the newest messages',
  }),
});

const memberSchema = z.object({
  userId: z.uuid(),
  role: z.enum(memberRoles),
  joinedAt: timestamp,
});

export const conversationSchema = z
  .object({
    id: z.uuid(),
    kind: z.enum(['direct', 'group']),
    title: z.string().nullable(),
    createdBy: z.uuid(),
    createdAt: timestamp,
    members: z.array(memberSchema),
  })
  .meta({ id: 'Conversation' });

export const messageSchema = z
  .object({
    id: z.uuid(),
    conversationId: z.uuid(),
    senderId: z.uuid(),
    seq: z.int().min(1).meta({
      description:
        'Position in the conversation (1, 2, …), as in socket events and sync answers: a gap means a missed message',
    }),
    body: z.string().nullable().meta({ description: 'null once the message is deleted' }),
    createdAt: timestamp,
    editedAt: timestamp.nullable(),
    deletedAt: timestamp.nullable(),
  })
  .meta({ id: 'Message' });

const previewSchema = messageSchema
  .extend({ body: z.string().nullable().meta({ description: 'The first characters' }) })
  .meta({ id: 'MessagePreview' });

const liveCallMarkSchema = z
  .object({
    callId: z.uuid(),
    startedAt: z.iso.datetime(),
    participantCount: z.int().min(0).meta({ description: 'Connected to the call now' }),
  })
  .meta({ id: 'LiveCallMark' });

export const conversationListSchema = z
  .object({
    conversations: z.array(
      conversationSchema
        .extend({
          lastMessage: previewSchema.nullable(),
          unreadCount: z.int().min(0).meta({
            description: 'Messages by others after my read receipt, not deleted',
          }),
          liveCall: liveCallMarkSchema.nullable().meta({
            description:
              'The call in progress here (join it with POST /conversations/{id}/call), from the live call state in Redis. null without one, where calls are not configured, and while that state cannot be read: the list is never refused for it. The `call:*` socket events keep it current.',
          }),
        })
        .meta({
          id: 'ConversationListItem',
        }),
    ),
  })
  .meta({ id: 'ConversationList' });

const unreadCountSchema = z
  .object({ conversationId: z.uuid(), unreadCount: z.int().min(0) })
  .meta({ id: 'UnreadCount' });

export const unreadCountsSchema = z
  .object({
    conversations: z.array(unreadCountSchema).meta({
      description: 'Every conversation in my list, most recently active first',
    }),
  })
  .meta({ id: 'UnreadCounts' });

export const readReceiptSchema = z
  .object({
    userId: z.uuid(),
    lastReadMessageId: z.uuid().nullable().meta({ description: 'null while nothing is read' }),
    lastReadSeq: z.int().min(0).meta({
      description:
        'Position of that message in the conversation (1, 2, …); 0 while nothing is read',
    }),
    readAt: timestamp.nullable().meta({ description: 'When the receipt last moved' }),
  })
  .meta({ id: 'ReadReceipt' });

export const readReceiptsSchema = z
  .object({ receipts: z.array(readReceiptSchema) })
  .meta({ id: 'ReadReceipts' });

export const historySchema = z
  .object({
    messages: z.array(messageSchema),
    nextCursor: z.string().optional().meta({ description: 'Absent on the oldest page' }),
  })
  .meta({ id: 'MessageHistory' });

export function toConversation(conversation: Conversation): z.input<typeof conversationSchema> {
  return conversation;
}

export function toMessage(message: Message): z.input<typeof messageSchema> {
  return message;
}

export function toReadReceipt(receipt: ReadReceipt): z.input<typeof readReceiptSchema> {
  return receipt;
}

export function toUnreadCount(count: UnreadCount): z.input<typeof unreadCountSchema> {
  return count;
}

export function toListItem(
  summary: ConversationSummary,
  unreadCount: number,
  liveCall: { callId: string; startedAt: Date; participantCount: number } | undefined,
) {
  const last = summary.lastMessage;
  return {
    ...summary.conversation,
    unreadCount,
    liveCall: liveCall
      ? {
          callId: liveCall.callId,
          startedAt: liveCall.startedAt.toISOString(),
          participantCount: liveCall.participantCount,
        }
      : null,
    lastMessage: last && {
      ...last,
      body: last.body === null ? null : last.body.slice(0, policy.messaging.previewChars),
    },
  };
}
