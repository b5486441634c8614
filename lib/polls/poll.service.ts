import type { Pool } from 'pg';
import type { ConversationService, MemberRole } from '../conversations/index.js';
import { inTransaction } from '../postgres/transaction.js';
import { type PollRecord, pollRepository, type VoteChange } from './poll.repository.js';
import type { NewPoll, Poll, PollPage } from './poll.types.js';
import {
  InvalidPollCursorError,
  PollClosedError,
  PollNotFoundError,
  PollOptionNotFoundError,
  PollPermissionError,
} from './poll-errors.js';
import type { PollResultsStore } from './poll-results.store.js';

const managers: readonly MemberRole[] = ['owner', 'admin'];

/**
 * Polls in conversations: any member creates one and votes once per poll (changing or
 * retracting the vote until the poll is closed). Every method takes the acting user; someone
 * who is not a member of the conversation gets ConversationNotFoundError from the membership
 * check, as for every conversation route.
 *
 * Votes commit to PostgreSQL first (the vote, and the poll's version bumped, in one
 * transaction under the poll's row lock); the result hash in Redis is then moved by that one
 * delta (PollResultsStore explains why its counts always equal PostgreSQL's). Results are read
 * with the poll's row: the row says which version the counts must have reached.
 */
export class PollService {
  readonly #postgres: Pool;
  readonly #conversations: ConversationService;
  readonly #results: PollResultsStore;

  constructor(options: {
    postgres: Pool;
    conversations: ConversationService;
    results: PollResultsStore;
  }) {
    this.#postgres = options.postgres;
    this.#conversations = options.conversations;
    this.#results = options.results;
  }

  async create(actorId: string, conversationId: string, request: NewPoll): Promise<Poll> {
    await this.#conversations.membership(conversationId, actorId);
    const id = await inTransaction(this.#postgres, (tx) =>
      pollRepository.create(tx, {
        conversationId,
        createdBy: actorId,
        question: request.question,
        options: request.options,
      }),
    );
    return this.get(actorId, conversationId, id);
  }

  /** The poll with its results and the actor's vote. */
  async get(actorId: string, conversationId: string, pollId: string): Promise<Poll> {
    await this.#conversations.membership(conversationId, actorId);
    const record = await pollRepository.find(this.#postgres, actorId, conversationId, pollId);
    if (!record) throw new PollNotFoundError(pollId);
    return this.#withResults(record);
  }

  /** The conversation's polls, newest first, each with its results. */
  async list(
    actorId: string,
    conversationId: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<PollPage> {
    await this.#conversations.membership(conversationId, actorId);
    const before = page.cursor === undefined ? undefined : decodePollCursor(page.cursor);
    const records = await pollRepository.page(
      this.#postgres,
      actorId,
      conversationId,
      page.limit + 1,
      before,
    );
    const shown = records.slice(0, page.limit);
    const last = shown.at(-1);
    return {
      polls: await Promise.all(shown.map((record) => this.#withResults(record))),
      nextCursor:
        records.length > page.limit && last
          ? encodePollCursor(last.createdMicros, last.id)
          : undefined,
    };
  }

  /** Votes for `optionId`, replacing the actor's previous vote. Voting again for the same
   *  option changes nothing (no write, no new version). */
  async vote(
    actorId: string,
    conversationId: string,
    pollId: string,
    optionId: string,
  ): Promise<Poll> {
    await this.#conversations.membership(conversationId, actorId);
    const change = await inTransaction(this.#postgres, async (tx): Promise<VoteChange | null> => {
      const poll = await pollRepository.lockForVote(tx, conversationId, pollId);
      if (!poll) throw new PollNotFoundError(pollId);
      const ballot = await pollRepository.ballot(tx, pollId, actorId, optionId);
      if (!ballot.optionExists) throw new PollOptionNotFoundError(optionId);
      if (poll.closed) throw new PollClosedError(pollId);
      if (ballot.current === optionId) return null;
      const version = await pollRepository.castVote(tx, pollId, actorId, optionId);
      return { version, from: ballot.current, to: optionId };
    });
    if (change) await this.#results.applyVote(pollId, change.version, change.from, change.to);
    return this.get(actorId, conversationId, pollId);
  }

  /** Withdraws the actor's vote; without one, changes nothing. */
  async retract(actorId: string, conversationId: string, pollId: string): Promise<Poll> {
    await this.#conversations.membership(conversationId, actorId);
    const change = await inTransaction(this.#postgres, async (tx): Promise<VoteChange | null> => {
      const poll = await pollRepository.lockForVote(tx, conversationId, pollId);
      if (!poll) throw new PollNotFoundError(pollId);
      if (poll.closed) throw new PollClosedError(pollId);
      const { current } = await pollRepository.ballot(tx, pollId, actorId, null);
      if (current === null) return null;
      const version = await pollRepository.retractVote(tx, pollId, actorId);
      return { version, from: current, to: null };
    });
    if (change) await this.#results.applyVote(pollId, change.version, change.from, change.to);
    return this.get(actorId, conversationId, pollId);
  }

  /** Closes the poll: its creator, or an owner or admin of the conversation. Closing a closed
   *  poll changes nothing. Counts are untouched, so the result hash stays valid. */
  async close(actorId: string, conversationId: string, pollId: string): Promise<Poll> {
    const { role } = await this.#conversations.membership(conversationId, actorId);
    const record = await pollRepository.find(this.#postgres, actorId, conversationId, pollId);
    if (!record) throw new PollNotFoundError(pollId);
    if (record.createdBy !== actorId && !managers.includes(role)) {
      throw new PollPermissionError('only the poll’s creator or an owner or admin closes it');
    }
    await pollRepository.close(this.#postgres, pollId);
    return this.get(actorId, conversationId, pollId);
  }

  async #withResults(record: PollRecord): Promise<Poll> {
    const optionIds = record.options.map((option) => option.id);
    const counts = await this.#results.counts(record.id, record.version, optionIds, () =>
      pollRepository.counts(this.#postgres, record.id),
    );
    const options = record.options.map((option) => ({
      id: option.id,
      text: option.text,
      votes: counts.get(option.id) ?? 0,
    }));
    return {
      id: record.id,
      conversationId: record.conversationId,
      createdBy: record.createdBy,
      question: record.question,
      createdAt: record.createdAt,
      closedAt: record.closedAt,
      options,
      totalVotes: options.reduce((total, option) => total + option.votes, 0),
      myVote: record.myVote,
    };
  }
}

/*
 * List cursors are opaque to clients: base64url of `v1:<micros>:<pollId>`, the last poll's
 * created_at in whole microseconds (PostgreSQL's precision; a JavaScript Date would round it
 * and skip or repeat polls created in the same millisecond) and its id as the tie-breaker.
 */
const CURSOR = /^v1:([0-9]{1,17}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

function encodePollCursor(micros: string, pollId: string): string {
  return Buffer.from(`v1:${micros}:${pollId}`, 'utf8').toString('base64url');
}

function decodePollCursor(cursor: string): { micros: string; id: string } {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1] || !match[2]) throw new InvalidPollCursorError();
  return { micros: match[1], id: match[2] };
}
