import { invalidCursorProblem, type ProblemMapper } from '../../../lib/http/error-handler.js';
import { problemFor } from '../../../lib/http/problem-codes.js';
import {
  InvalidNotificationCursorError,
  NotificationNotFoundError,
} from '../../../lib/notifications/index.js';

/* Notification errors as problem+json, mapped once, here. Another user's notification answers
 * exactly as one that does not exist. */
export const notificationProblems: ProblemMapper = (error) => {
  if (error instanceof NotificationNotFoundError) {
    return {
      problem: problemFor('not_found', { detail: 'No such notification.' }),
    };
  }
  if (error instanceof InvalidNotificationCursorError) {
    return { problem: invalidCursorProblem('this list') };
  }
  return undefined;
};
