import { z } from 'zod';
import { messageSchema, readReceiptSchema } from '../conversations/conversation.types.js';

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

/** Stamped by the publisher: ms since the epoch on its clock. */
const stamped = z.object({ emittedAt: z.number() });

/** A new message: its own event, and each element of a batch. */
const messageNew = stamped.extend({ message: messageSchema });

/** Stable reasons for a server-side disconnect (the client shows or acts on them). */
export const disconnectCodes = ['session_revoked', 'rate_limited', 'server_shutdown'] as const;
export type DisconnectCode = (typeof disconnectCodes)[number];

/**
 * One schema per server event, built on the same message and receipt schemas as the outbox
 * payloads (lib/outbox/outbox.types.ts): what a relayed outbox row carries is exactly what the
 * live event sends. ServerEvents is inferred from these; a client (or a test) may validate what
 * it receives with them.
 */
export const serverEventSchemas = {
  /** A new message (to the conversation's room). */
  'message:new': messageNew,
  /**
   * Several `message:new` events of one conversation in one frame, in order: what a gateway
   * received for that room within one turn of its event loop (a burst into a big room). Sent
   * only to connections whose handshake asked for it (`auth: { batch: true }`); a client
   * handles each element exactly as a `message:new`. Others get the same events one by one.
   */
  'message:batch': stamped.extend({ events: z.array(messageNew).min(2) }),
  /** An edit or a delete (body null): replaces the message with the same id. */
  'message:updated': stamped.extend({ message: messageSchema }),
  /** A member's receipt moved (to the conversation's room). */
  'receipt:updated': stamped.extend({ conversationId: z.uuid(), receipt: readReceiptSchema }),
  /** The user's unread count of one conversation changed (to that user's devices). */
  'unread:updated': stamped.extend({ conversationId: z.uuid(), unreadCount: z.int().min(0) }),
  /** Members were added or removed (to the room, and to the added and removed users). */
  'conversation:members': stamped.extend({
    conversationId: z.uuid(),
    added: z.array(z.uuid()),
    removed: z.array(z.uuid()),
  }),
  /** A user came online or went offline, or went into or out of a call (to the rooms of their
   *  conversations). Each carries the whole presence as it is now. */
  'presence:changed': stamped.extend({
    userId: z.uuid(),
    online: z.boolean(),
    lastSeenAt: z.iso.datetime().nullable(),
    inCall: z.boolean(),
  }),
  /** Who is viewing a conversation changed (to its room). */
  'room:viewers': stamped.extend({ conversationId: z.uuid(), userIds: z.array(z.uuid()) }),
  /** Someone started or stopped typing (to the conversation's room). */
  typing: stamped.extend({ conversationId: z.uuid(), userId: z.uuid(), typing: z.boolean() }),
  /** A call started in a conversation (to its room and every member's devices). */
  'call:started': stamped.extend({
    conversationId: z.uuid(),
    callId: z.uuid(),
    startedBy: z.uuid(),
    startedAt: z.iso.datetime(),
  }),
  /** Someone joined a call, as LiveKit reported it (to the room and every member). */
  'call:participant-joined': stamped.extend({
    conversationId: z.uuid(),
    callId: z.uuid(),
    userId: z.uuid(),
    at: z.iso.datetime(),
  }),
  /** Someone left a call, was removed, or dropped (to the room and every member). */
  'call:participant-left': stamped.extend({
    conversationId: z.uuid(),
    callId: z.uuid(),
    userId: z.uuid(),
    at: z.iso.datetime(),
  }),
  /** The call is over (to the room and every member). */
  'call:ended': stamped.extend({
    conversationId: z.uuid(),
    callId: z.uuid(),
    endedAt: z.iso.datetime(),
    reason: z.enum(['empty', 'ended_by_admin', 'room_finished']),
  }),
  /**
   * The call's media key, to one participant's own devices only: at a rotation (someone left
   * or was removed), to each who remains. Never through the outbox (the key is never written to
   * PostgreSQL); a participant who misses it asks again with GET /conversations/:id/call/key.
   */
  'call:key': stamped.extend({
    conversationId: z.uuid(),
    callId: z.uuid(),
    key: z.base64(),
    keyIndex: z.int().min(0).max(15),
  }),
  /**
   * Live events may have been missed: this gateway instance's Redis subscription was
   * interrupted (a Redis outage, a dropped subscriber connection) and is back. The socket stays
   * connected and keeps its rooms; the client catches up exactly as after a reconnect (`sync`
   * from the last message it holds, and re-reads unread counts, receipts and presence).
   * Sent to every socket of the instance once its subscription is confirmed again.
   */
  'quad:resync': stamped.extend({ detail: z.string() }),
  /** Sent just before the server disconnects a socket, saying why (revoked session, abuse). */
  'quad:disconnecting': stamped.extend({ code: z.enum(disconnectCodes), detail: z.string() }),
} as const;

export type ServerEventName = keyof typeof serverEventSchemas;

/** What the server sends, as Socket.IO's typed server and emitter take it. */
export type ServerEvents = {
  [E in ServerEventName]: (event: z.infer<(typeof serverEventSchemas)[E]>) => void;
};
