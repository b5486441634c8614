import type { NotificationService } from '../../../lib/notifications/index.js';
import type { ApiCapability } from '../api-capability.js';
import { notificationRoutes } from './notification.routes.js';
import { notificationProblems } from './notification-problems.js';

/** In-app notifications of messages that arrived while offline (docs/api.md). */
export function notificationsCapability(deps: {
  notifications: NotificationService;
}): ApiCapability {
  return {
    name: 'notifications',
    routes: notificationRoutes(deps),
    problems: notificationProblems,
  };
}
