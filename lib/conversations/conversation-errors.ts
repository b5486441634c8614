/*
 * What can go wrong with conversations and messages, as small named classes. Domain code throws
 * these, never an HTTP status: services/api/conversations/conversation-errors.mapper.ts maps them.
 */

/**
 * A refusal whose message is its reason (a role missing, a request that makes no sense here).
 * Each domain's refusals extend it under a name of their own, so that the API maps each to its
 * own problem.
 */
export class RefusalError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = new.target.name;
  }
}

/** No such conversation, or the caller is not a member: deliberately the same. */
export class ConversationNotFoundError extends Error {
  constructor(readonly conversationId: string) {
    super(`no conversation ${conversationId}`);
    this.name = 'ConversationNotFoundError';
  }
}

/** No such message in a conversation the caller can see. */
export class MessageNotFoundError extends Error {
  constructor(readonly messageId: string) {
    super(`no message ${messageId}`);
    this.name = 'MessageNotFoundError';
  }
}

/** A member without the needed role (not owner/admin, not the author). */
export class ConversationPermissionError extends RefusalError {}

/** The request makes no sense for this conversation (members of a direct one, say). */
export class ConversationConflictError extends RefusalError {}

/** A user named as a member does not exist or is deactivated. */
export class UnknownMemberError extends Error {
  constructor(readonly userIds: readonly string[]) {
    super(`unknown or inactive users: ${userIds.join(', ')}`);
    this.name = 'UnknownMemberError';
  }
}

/** A pagination cursor that this service did not issue. */
export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursorError';
  }
}
