import type { MixAction } from './scenarios.js';

/** A student logged in before the load starts, with the conversations the seed put them in. */
export interface PlannedSession {
  username: string;
  userId: string;
  token: string;
  classId: string;
  /** Their class first, then their direct conversations. */
  conversationIds: string[];
  classmateIds: string[];
}

/**
 * Everything the Artillery processor needs for one scenario, written by the runner as JSON
 * (its path in QUAD_LOADTEST_PLAN): the numbers come from scenarios.json, the people and
 * conversations from the seed's manifest, the tokens from logins made before the load.
 */
export interface LoadPlan {
  baseUrl: string;
  mix: MixAction[];
  sessions: PlannedSession[];
  /** Students the morning burst logs in (passwords derived from the seed's key). */
  logins: Array<{ username: string; password: string; conversationIds: string[] }>;
  socket?: { holdSeconds: number; sends: number; typing: number };
  /** Students connected for the whole of a mix scenario (steady), each joined to their own
   *  conversations; they leave `holdSeconds` after their part starts (the mix's arrivals, and a
   *  margin for the last deliveries). */
  mixListeners?: {
    holdSeconds: number;
    listeners: Array<{ token: string; conversationIds: string[] }>;
  };
  announcement?: {
    conversationId: string;
    ownerToken: string;
    holdSeconds: number;
    listeners: Array<{ token: string }>;
  };
  calls?: {
    participants: number;
    holdSeconds: number;
    /** A directory where an arrival claims its class (a file created exclusively), so that
     *  two calls at once never share a class, whichever Artillery worker runs them. */
    claimDir: string;
    classes: Array<{
      conversationId: string;
      participants: Array<{ userId: string; token: string }>;
      listener: { userId: string; token: string };
    }>;
  };
}
