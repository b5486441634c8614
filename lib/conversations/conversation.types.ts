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

/** A message as stored; body null once deleted. */
export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  body: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}

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
export interface ReadReceipt {
  userId: string;
  /** Sequence of the last message read; 0 while nothing has been read. */
  lastReadSeq: number;
  /** The message at lastReadSeq; null while nothing has been read. */
  lastReadMessageId: string | null;
  /** When the receipt last moved; null while nothing has been read. */
  readAt: string | null;
}

/** Unread messages of one of my conversations. */
export interface UnreadCount {
  conversationId: string;
  unreadCount: number;
}
