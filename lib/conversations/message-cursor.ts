import { InvalidCursorError } from './conversation-errors.js';

/*
 * History cursors are opaque to clients: base64url of `v1:<seq>`. The sequence, not
 * (created_at, id), orders a conversation's messages: it is taken under a row lock at commit
 * (migrations/0003_conversations.sql), so a message can never appear behind a cursor already
 * handed out, which is what keeps pages stable under concurrent sends. The version prefix lets a
 * later format coexist with cursors held by open tabs.
 */

const CURSOR = /^v1:([1-9][0-9]{0,15})$/;

export function encodeCursor(beforeSeq: number): string {
  return Buffer.from(`v1:${beforeSeq}`, 'utf8').toString('base64url');
}

/** The seq to page before; throws InvalidCursorError for anything not issued by encodeCursor. */
export function decodeCursor(cursor: string): number {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const seq = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(seq)) throw new InvalidCursorError();
  return seq;
}
