/** One answer of a poll with the votes it has. */
export interface PollOption {
  id: string;
  text: string;
  votes: number;
}

/** A poll as one member sees it: its results and their own vote. */
export interface Poll {
  id: string;
  conversationId: string;
  createdBy: string;
  question: string;
  createdAt: string;
  /** null while open. */
  closedAt: string | null;
  /** In the order they were given. */
  options: PollOption[];
  totalVotes: number;
  /** The option the viewer voted for; null when they have not (or retracted). */
  myVote: string | null;
}

export interface NewPoll {
  question: string;
  /** Already trimmed and distinct (the edge validates them). */
  options: readonly string[];
}

export interface PollPage {
  polls: Poll[];
  /** Opaque; absent when there is nothing older. */
  nextCursor: string | undefined;
}
