import {
  invalidCursorProblem,
  type ProblemMapper,
  validationProblem,
} from '../http/error-handler.js';
import { problemFor } from '../http/problem-codes.js';
import {
  ConversationConflictError,
  ConversationNotFoundError,
  ConversationPermissionError,
  InvalidCursorError,
  MessageNotFoundError,
  UnknownMemberError,
} from './conversation-errors.js';

/*
 * Conversation and message errors as problems, mapped once, here, for both edges: the api
 * answers them as problem+json, the socket gateway as ack errors (under the ack names of the
 * same codes, see problem-codes.ts). A conversation the caller is not in is "not found",
 * exactly as one that does not exist: a stranger learns nothing.
 */
export const conversationProblems: ProblemMapper = (error) => {
  if (error instanceof ConversationNotFoundError) {
    return { problem: problemFor('not_found', { detail: 'No such conversation.' }) };
  }
  if (error instanceof MessageNotFoundError) {
    return { problem: problemFor('not_found', { detail: 'No such message.' }) };
  }
  if (error instanceof ConversationPermissionError) {
    return { problem: problemFor('forbidden', { detail: error.reason }) };
  }
  if (error instanceof ConversationConflictError) {
    return { problem: problemFor('conflict', { detail: error.reason }) };
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
    return { problem: invalidCursorProblem('this conversation') };
  }
  return undefined;
};
