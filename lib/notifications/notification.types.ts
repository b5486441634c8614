/** An in-app notification: new messages in one conversation while the user was offline. */
export interface Notification {
  id: string;
  conversationId: string;
  /** Messages from others in [firstSeq, lastSeq]: what arrived since it opened. */
  unreadCount: number;
  firstMessageId: string;
  firstSeq: number;
  lastMessageId: string;
  lastSeq: number;
  createdAt: string;
  /** When it last changed (a message added, or read): the list is newest first by this. */
  updatedAt: string;
  /** null while unread. */
  readAt: string | null;
}

export interface NotificationPage {
  notifications: Notification[];
  /** Absent on the last page. */
  nextCursor?: string;
}

export interface UnreadNotifications {
  /** Open (unread) notifications: one per conversation at most. */
  notifications: number;
  /** The messages they count together. */
  messages: number;
}

/** A new message, as much of it as delivery needs. */
export interface DeliveredMessage {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
}
