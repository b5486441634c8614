export {
  conversationRoom,
  type DisconnectCode,
  type ServerEventName,
  type ServerEvents,
  sessionRoom,
  userRoom,
} from './events.js';
export type { MembershipFamily } from './expiring-membership.js';
export {
  type ExpiredUser,
  type OfflineTransition,
  Presence,
  type PresenceConnection,
  type PresenceOptions,
  type UserPresence,
} from './presence.js';
export { RealtimePublisher } from './publisher.js';
export {
  createRealtimeEmitter,
  type RealtimeEmitter,
  type RoomBroadcast,
  ShardedEmitter,
  socketChannelKey,
} from './realtime-emitter.js';
export {
  PresenceMetrics,
  type PresenceOperation,
  presenceMetrics,
  presenceOperations,
} from './realtime-metrics.js';
export {
  RoomPresence,
  type RoomPresenceOptions,
  type RoomView,
  type RoomViewer,
} from './room-presence.js';
export { tolerantPublisher } from './tolerant-publisher.js';
export { Typing, type TypingOptions, type Typist } from './typing.js';
