/*
 * What can go wrong with calls, as small named classes; services/api/calls maps them to problems.
 * A conversation the caller is not in is ConversationNotFoundError (404), as everywhere.
 */

import { RefusalError } from '../conversations/index.js';

/** The conversation has no live call. */
export class NoLiveCallError extends Error {
  constructor(readonly conversationId: string) {
    super(`no live call in conversation ${conversationId}`);
    this.name = 'NoLiveCallError';
  }
}

/** A member without the role this needs (ending a call, removing a participant). */
export class CallPermissionError extends RefusalError {}

/** The call's live state (its media key above all) cannot be reached: nothing was changed. */
export class CallsUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`calls unavailable: ${reason}`);
    this.name = 'CallsUnavailableError';
  }
}

/** A LiveKit webhook whose signature does not verify (or is missing). */
export class WebhookSignatureError extends Error {
  constructor(reason: string) {
    super(`livekit webhook refused: ${reason}`);
    this.name = 'WebhookSignatureError';
  }
}
