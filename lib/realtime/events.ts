import type { Message, ReadReceipt } from '../conversations/index.js';

/**
 * The real-time contract between Quad's services and its clients: the rooms sockets are put in
 * and the events the server sends. The api and the worker publish these through Redis (the
 * Socket.IO emitter, lib/realtime/publisher.ts); the gateway (services/socket) sends the
 * ones it originates itself (presence, typing). What clients send is validated by the gateway
 * (services/socket/socket-events.ts).
 *
 * Every payload carries `emittedAt` (ms since the epoch, the publisher's clock): the gateway
 * measures broadcast delivery latency from it (socket_broadcast_delivery_seconds), and clients
 * may ignore it. Messages carry their id and per-conversation seq, so a client deduplicates
 * what it receives live, from catch-up, and from a relayed retry alike.
 */

/** Everyone subscribed to a conversation's live events (members only; joined on request). */
export const conversationRoom = (conversationId: string) => `conversation:${conversationId}`;
/** Every connection of one user, on any instance: their devices and tabs. */
export const userRoom = (userId: string) => `user:${userId}`;
/** The connections opened with one login session, to disconnect them when it is revoked. */
export const sessionRoom = (sessionId: string) => `session:${sessionId}`;

interface Stamped {
  emittedAt: number;
}

export interface ServerEvents {
  /** A new message (to the conversation's room). */
  'message:new': (event: Stamped & { message: Message }) => void;
  /** An edit or a delete (body null): replaces the message with the same id. */
  'message:updated': (event: Stamped & { message: Message }) => void;
  /** A member's receipt moved (to the conversation's room). */
  'receipt:updated': (event: Stamped & { conversationId: string; receipt: ReadReceipt }) => void;
  /** The user's unread count of one conversation changed (to that user's devices). */
  'unread:updated': (event: Stamped & { conversationId: string; unreadCount: number }) => void;
  /** Members were added or removed (to the room, and to the added and removed users). */
  'conversation:members': (
    event: Stamped & { conversationId: string; added: string[]; removed: string[] },
  ) => void;
  /** A user came online or went offline (to the rooms of their conversations). */
  'presence:changed': (
    event: Stamped & { userId: string; online: boolean; lastSeenAt: string | null },
  ) => void;
  /** Who is viewing a conversation changed (to its room). */
  'room:viewers': (event: Stamped & { conversationId: string; userIds: string[] }) => void;
  /** Someone started or stopped typing (to the conversation's room). */
  typing: (event: Stamped & { conversationId: string; userId: string; typing: boolean }) => void;
  /**
   * Live events may have been missed: this gateway instance's Redis subscription was
   * interrupted (a Redis outage, a dropped subscriber connection) and is back. The socket stays
   * connected and keeps its rooms; the client catches up exactly as after a reconnect (`sync`
   * from the last message it holds, and re-reads unread counts, receipts and presence).
   * Sent to every socket of the instance once its subscription is confirmed again.
   */
  'quad:resync': (event: Stamped & { detail: string }) => void;
  /** Sent just before the server disconnects a socket, saying why (revoked session, abuse). */
  'quad:disconnecting': (event: Stamped & { code: DisconnectCode; detail: string }) => void;
}

export type ServerEventName = keyof ServerEvents;

/** Stable reasons for a server-side disconnect (the client shows or acts on them). */
export type DisconnectCode = 'session_revoked' | 'rate_limited' | 'server_shutdown';
