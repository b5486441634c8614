import type { RequestHandler } from 'express';
import { uuidField } from '../../../lib/accounts/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import type { NotificationService } from '../../../lib/notifications/index.js';
import {
  AuthenticationRequiredError,
  principalOf,
  requireCredentials,
  requirePrincipal,
  security,
} from '../authentication.js';
import {
  notificationListQuery,
  notificationPageSchema,
  notificationParams,
  notificationSchema,
  readAllSchema,
  toNotification,
  toNotificationPage,
  toUnreadNotifications,
  unreadNotificationsSchema,
} from './notification.schemas.js';

const tags = ['notifications'];
const WHAT =
  'A notification is opened for a member who is offline (no live connection) when a message arrives in one of their conversations, and counts the messages that follow until it is read: one per conversation while unread, however many messages arrive. Reading the conversation (POST /conversations/{id}/read) through its last message closes it too.';

/**
 * Another user's notification answers 404 before the request is validated, so a stranger
 * learns nothing from validation messages (as services/api/conversations/conversation-access.ts
 * does for conversations). The service checks ownership again in its own statement.
 */
function requireOwnNotification(notifications: NotificationService): RequestHandler {
  return async (req, _res, next) => {
    const principal = principalOf(req);
    if (!principal) throw new AuthenticationRequiredError(false);
    const id = req.params.id;
    if (typeof id === 'string' && uuidField.safeParse(id).success) {
      await notifications.requireOwn(principal.userId, id);
    }
    next();
  };
}

export function notificationRoutes(deps: { notifications: NotificationService }): ApiRoute[] {
  const { notifications } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/notifications',
      operationId: 'listNotifications',
      summary: 'My notifications, most recently changed first, by cursor',
      description: WHAT,
      tags,
      security: security.any,
      query: notificationListQuery,
      problems: [],
      success: { status: 200, description: 'One page', body: notificationPageSchema },
      authorize: [requireCredentials],
      handle: async ({ query }, req) =>
        toNotificationPage(
          await notifications.list(requirePrincipal(req).userId, {
            limit: query.limit,
            cursor: query.cursor,
          }),
        ),
    }),

    defineRoute({
      method: 'get',
      path: '/notifications/unread-count',
      operationId: 'countUnreadNotifications',
      summary: 'How many notifications (and messages in them) I have not read',
      description: WHAT,
      tags,
      security: security.any,
      problems: [],
      success: { status: 200, description: 'The counts', body: unreadNotificationsSchema },
      authorize: [requireCredentials],
      handle: async (_input, req) =>
        toUnreadNotifications(await notifications.unread(requirePrincipal(req).userId)),
    }),

    defineRoute({
      method: 'post',
      path: '/notifications/read-all',
      operationId: 'readAllNotifications',
      summary: 'Mark all my notifications read',
      description: 'Receipts of the conversations do not move: their messages stay unread.',
      tags,
      security: security.any,
      problems: [],
      success: { status: 200, description: 'How many were marked', body: readAllSchema },
      authorize: [requireCredentials],
      handle: async (_input, req) => ({
        read: await notifications.markAllRead(requirePrincipal(req).userId),
      }),
    }),

    defineRoute({
      method: 'post',
      path: '/notifications/:id/read',
      operationId: 'readNotification',
      summary: 'Mark one of my notifications read',
      description:
        'Marking a read notification again changes nothing. Another user’s notification answers 404, as one that does not exist. The conversation’s receipt does not move.',
      tags,
      security: security.any,
      params: notificationParams,
      problems: ['not_found'],
      success: { status: 200, description: 'The notification', body: notificationSchema },
      authorize: [requireCredentials, requireOwnNotification(notifications)],
      handle: async ({ params }, req) =>
        toNotification(await notifications.markRead(requirePrincipal(req).userId, params.id)),
    }),
  ];
}
