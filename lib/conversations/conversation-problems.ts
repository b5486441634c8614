import {
  ConversationConflictError,
  ConversationNotFoundError,
  ConversationPermissionError,
  InvalidCursorError,
  MessageNotFoundError,
  UnknownMemberError,
} from '../../../lib/conversations/index.js';
import { type ProblemMapper, validationProblem } from '../../../lib/http/error-handler.js';

/*
 * Conversation and message errors as problem+json, mapped once, here. A conversation the caller
 * is not in is "not found", exactly as one that does not exist: a stranger learns nothing.
 */
export const conversationProblems: ProblemMapper = (error) => {
  if (error instanceof ConversationNotFoundError) {
    return {
      problem: {
        status: 404,
        code: 'not_found',
        title: 'Not Found',
        detail: 'No such conversation.',
      },
    };
  }
  if (error instanceof MessageNotFoundError) {
    return {
      problem: { status: 404, code: 'not_found', title: 'Not Found', detail: 'No such message.' },
    };
  }
  if (error instanceof ConversationPermissionError) {
    return {
      problem: { status: 403, code: 'forbidden', title: 'Forbidden', detail: error.reason },
    };
  }
  if (error instanceof ConversationConflictError) {
    return { problem: { status: 409, code: 'conflict', title: 'Conflict', detail: error.reason } };
  }
  if (error instanceof UnknownMemberError) {
    return {
      problem: validationProblem(
        error.userIds.map((userId) => ({
          in: 'body',
          field: 'userId',
          code: 'unknown_user',
          message: `no active user ${userId}`,
        })),
      ),
    };
  }
  if (error instanceof InvalidCursorError) {
    return {
      problem: validationProblem([
        {
          in: 'query',
          field: 'cursor',
          code: 'invalid_cursor',
          message: 'is not a cursor of this conversation',
        },
      ]),
    };
  }
  return undefined;
};
