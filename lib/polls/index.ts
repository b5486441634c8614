export { type PollCounts, type PollRecord, pollRepository } from './poll.repository.js';
export { PollService } from './poll.service.js';
export type { NewPoll, Poll, PollOption, PollPage } from './poll.types.js';
export {
  InvalidPollCursorError,
  PollClosedError,
  PollNotFoundError,
  PollOptionNotFoundError,
  PollPermissionError,
} from './poll-errors.js';
export { type PollResultsOptions, PollResultsStore } from './poll-results.store.js';
