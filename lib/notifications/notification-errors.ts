/** Not a notification of this user (or none at all): the same answer, so ids reveal nothing. */
export class NotificationNotFoundError extends Error {
  constructor(readonly notificationId: string) {
    super(`notification ${notificationId} not found`);
    this.name = 'NotificationNotFoundError';
  }
}

/** A list cursor that is not one of this user's notifications. */
export class InvalidNotificationCursorError extends Error {
  constructor() {
    super('invalid notification cursor');
    this.name = 'InvalidNotificationCursorError';
  }
}
