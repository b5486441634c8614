import { invalidCursorProblem, type ProblemMapper } from '../../../lib/http/error-handler.js';
import { problemFor } from '../../../lib/http/problem-codes.js';
import {
  InvalidPollCursorError,
  PollClosedError,
  PollNotFoundError,
  PollOptionNotFoundError,
  PollPermissionError,
} from '../../../lib/polls/index.js';

/*
 * Poll errors as problem+json, mapped once, here. A conversation the caller is not in is mapped
 * by the conversations capability (404 not_found, as one that does not exist).
 */
export const pollProblems: ProblemMapper = (error) => {
  if (error instanceof PollNotFoundError) {
    return {
      problem: problemFor('not_found', { detail: 'No such poll.' }),
    };
  }
  if (error instanceof PollOptionNotFoundError) {
    return {
      problem: problemFor('not_found', { detail: 'No such option in this poll.' }),
    };
  }
  if (error instanceof PollClosedError) {
    return {
      problem: problemFor('poll_closed', { detail: 'The poll is closed: its votes are final.' }),
    };
  }
  if (error instanceof PollPermissionError) {
    return {
      problem: problemFor('forbidden', { detail: error.reason }),
    };
  }
  if (error instanceof InvalidPollCursorError) {
    return { problem: invalidCursorProblem('this list') };
  }
  return undefined;
};
