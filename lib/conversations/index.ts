export {
  type ConversationCaches,
  ConversationService,
  type NewConversation,
} from './conversation.service.js';
export {
  type Conversation,
  type ConversationKind,
  type ConversationMember,
  type ConversationSummary,
  type HistoryPage,
  type MemberRole,
  type Membership,
  type Message,
  memberRoles,
  messageSchema,
  type ReadReceipt,
  readReceiptSchema,
  type UnreadCount,
} from './conversation.types.js';
export {
  ConversationConflictError,
  ConversationNotFoundError,
  ConversationPermissionError,
  InvalidCursorError,
  MessageNotFoundError,
  RefusalError,
  UnknownMemberError,
} from './conversation-errors.js';
export { type MessageRow, messageRepository, toMessage } from './message.repository.js';
export { type MessageChange, MessageService } from './message.service.js';
export {
  conversationTitleField,
  idempotencyKeyField,
  messageBodyField,
} from './message-fields.js';
export { type MessagingEvents, noMessagingEvents } from './messaging-events.js';
export type { MessagingServices } from './messaging-services.js';
export { ReadReceiptService, type ReadTracker } from './read-receipt.service.js';
export { type RecentMessagesOptions, RecentMessagesStore } from './recent-messages.store.js';
export { UnreadCountsService, unreadBasisCodec } from './unread-counts.service.js';
