import type { ConversationService } from './conversation.service.js';
import type { MessageService } from './message.service.js';
import type { ReadReceiptService } from './read-receipt.service.js';
import type { UnreadCountsService } from './unread-counts.service.js';

/** The messaging services a transport serves (the api's routes, the gateway's handlers). */
export interface MessagingServices {
  conversations: ConversationService;
  messages: MessageService;
  receipts: ReadReceiptService;
  unread: UnreadCountsService;
}
