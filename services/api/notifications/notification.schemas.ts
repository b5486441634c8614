import { z } from 'zod';
import { uuidField } from '../../../lib/accounts/index.js';
import { queryIntegerField } from '../../../lib/http/query-fields.js';
import type {
  Notification,
  NotificationPage,
  UnreadNotifications,
} from '../../../lib/notifications/index.js';
import { policy } from '../../../lib/policy/policy.js';

/* Request and response schemas of /notifications. Query strings are strict (an unknown
 * parameter is a 400 naming it). */

export const notificationListQuery = z.strictObject({
  limit: queryIntegerField({
    min: 1,
    max: policy.notifications.maxPageSize,
    default: policy.notifications.defaultPageSize,
  }),
  cursor: uuidField.optional().meta({
    description: 'nextCursor of the previous page; absent for the newest notifications',
  }),
});

export const notificationParams = z.strictObject({ id: uuidField });

export const notificationSchema = z
  .object({
    id: z.uuid(),
    conversationId: z.uuid(),
    unreadCount: z.number().int().min(0).meta({
      description:
        'Messages from others in the notification’s range (firstSeq to lastSeq): what arrived while the user was offline, since the notification opened',
    }),
    firstMessageId: z.uuid(),
    firstSeq: z.number().int(),
    lastMessageId: z.uuid(),
    lastSeq: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime().meta({ description: 'Last change: a message added, or read' }),
    readAt: z.iso.datetime().nullable().meta({ description: 'null while unread' }),
  })
  .meta({ id: 'Notification' });

export const notificationPageSchema = z
  .object({
    notifications: z.array(notificationSchema).meta({
      description: 'Most recently changed first; read ones included',
    }),
    nextCursor: z.string().optional().meta({ description: 'Absent on the last page' }),
  })
  .meta({ id: 'NotificationPage' });

export const unreadNotificationsSchema = z
  .object({
    notifications: z.number().int().min(0).meta({
      description: 'Unread notifications (at most one per conversation)',
    }),
    messages: z.number().int().min(0).meta({ description: 'The messages they count together' }),
  })
  .meta({ id: 'UnreadNotifications' });

export const readAllSchema = z
  .object({ read: z.number().int().min(0).meta({ description: 'Notifications marked read' }) })
  .meta({ id: 'NotificationsRead' });

export const toNotification = (notification: Notification): z.input<typeof notificationSchema> =>
  notification;
export const toNotificationPage = (
  page: NotificationPage,
): z.input<typeof notificationPageSchema> => page;
export const toUnreadNotifications = (
  unread: UnreadNotifications,
): z.input<typeof unreadNotificationsSchema> => unread;
