export {
  MessageDelivery,
  NotificationService,
  type PresenceLookup,
} from './notification.service.js';
export type {
  DeliveredMessage,
  Notification,
  NotificationPage,
  UnreadNotifications,
} from './notification.types.js';
export {
  InvalidNotificationCursorError,
  NotificationNotFoundError,
} from './notification-errors.js';
