import { z } from 'zod';

export const memberRoles = ['owner', 'admin', 'member'] as const;
export type MemberRole = (typeof memberRoles)[number];
export type ConversationKind = 'direct' | 'group';

export interface ConversationMember {
  userId: string;
  role: MemberRole;
  joinedAt: string;
}

/** A conversation as every member sees it (cached in the `conversation` namespace). */
export interface Conversation {
  id: string;
  kind: ConversationKind;
  title: string | null;
  createdBy: string;
  createdAt: string;
  members: ConversationMember[];
}

/* Messages and receipts cross process boundaries as JSON (outbox rows, live events, webhook
 * bodies): their types are inferred from these schemas, so whoever reads one back validates
 * it against exactly the shape the writer was held to. Timestamps are ISO 8601 in UTC, as the
 * repositories produce them (Date.toISOString). */
const isoTimestamp = z.iso.datetime();

/** A message as stored; body null once deleted. */
export const messageSchema = z.object({
  id: z.uuid(),
  conversationId: z.uuid(),
  seq: z.int().positive(),
  senderId: z.uuid(),
  body: z.string().nullable(),
  createdAt: isoTimestamp,
  editedAt: isoTimestamp.nullable(),
  deletedAt: isoTimestamp.nullable(),
});
export type Message = z.infer<typeof messageSchema>;

/** One line of "my conversations". */
export interface ConversationSummary {
  conversation: Conversation;
  lastMessage: Message | null;
}

/** What authorization needs to know about one user in one conversation (cached in the
 *  `permissions` namespace): their role, and what a per-user delete hid from them. */
export interface Membership {
  role: MemberRole;
  /** Messages with seq ≤ this are hidden from this member (0: none). */
  hiddenThroughSeq: number;
}

export interface HistoryPage {
  messages: Message[];
  /** Opaque; absent when there is nothing older. */
  nextCursor: string | undefined;
}

/** How far one member has read a conversation. */
export const readReceiptSchema = z.object({
  userId: z.uuid(),
  /** Sequence of the last message read; 0 while nothing has been read. */
  lastReadSeq: z.int().min(0),
  /** The message at lastReadSeq; null while nothing has been read. */
  lastReadMessageId: z.uuid().nullable(),
  /** When the receipt last moved; null while nothing has been read. */
  readAt: isoTimestamp.nullable(),
});
export type ReadReceipt = z.infer<typeof readReceiptSchema>;

/** Unread messages of one of my conversations. */
export interface UnreadCount {
  conversationId: string;
  unreadCount: number;
}
