/*
 * What can go wrong with polls, as small named classes. Domain code throws these, never an HTTP
 * status: services/api/polls/poll-problems.ts maps them. A conversation the caller is not in is
 * ConversationNotFoundError (lib/conversations), thrown by the membership check.
 */

import { RefusalError } from '../conversations/index.js';

/** No such poll in this conversation. */
export class PollNotFoundError extends Error {
  constructor(readonly pollId: string) {
    super(`no poll ${pollId}`);
    this.name = 'PollNotFoundError';
  }
}

/** The option is not one of this poll's (another poll's, or made up). */
export class PollOptionNotFoundError extends Error {
  constructor(readonly optionId: string) {
    super(`no option ${optionId} in this poll`);
    this.name = 'PollOptionNotFoundError';
  }
}

/** The poll is closed: its votes are final. */
export class PollClosedError extends Error {
  constructor(readonly pollId: string) {
    super(`poll ${pollId} is closed`);
    this.name = 'PollClosedError';
  }
}

/** Only the poll's creator or an owner or admin of the conversation closes it. */
export class PollPermissionError extends RefusalError {}

/** A pagination cursor that this service did not issue. */
export class InvalidPollCursorError extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidPollCursorError';
  }
}
