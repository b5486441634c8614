import { conversationProblems } from '../../../lib/conversations/conversation-problems.js';
import { invalidCursorProblem, type ProblemMapper } from '../../../lib/http/error-handler.js';
import { InvalidSearchCursorError } from '../../../lib/search/index.js';

/*
 * Search errors as problem+json. A conversation filter the caller is not in is answered exactly
 * as the conversation routes answer it (404 not_found), by their own mapper.
 */
export const searchProblems: ProblemMapper = (error) => {
  if (error instanceof InvalidSearchCursorError) {
    return { problem: invalidCursorProblem('a search') };
  }
  return conversationProblems(error);
};
