import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conversationProblems } from '../../lib/conversations/conversation-problems.js';
import {
  ConversationConflictError,
  ConversationNotFoundError,
  ConversationPermissionError,
  InvalidCursorError,
  MessageNotFoundError,
  UnknownMemberError,
} from '../../lib/conversations/index.js';
import { ackCodeOf } from '../../lib/http/problem-codes.js';
import { AckError, toAckError } from './event-dispatch.js';

describe('toAckError: the api’s problem codes, under their ack names', () => {
  it('maps every conversation error as the api does', () => {
    const errors = [
      new ConversationNotFoundError('c'),
      new MessageNotFoundError('m'),
      new ConversationPermissionError('owners only'),
      new ConversationConflictError('already a member'),
      new UnknownMemberError(['u']),
      new InvalidCursorError(),
    ];
    for (const error of errors) {
      const problem = conversationProblems(error)?.problem;
      assert.ok(problem, error.name);
      assert.equal(toAckError(error).code, ackCodeOf(problem.code), error.name);
    }
    assert.deepEqual(
      errors.map((error) => toAckError(error).code),
      ['not_found', 'not_found', 'forbidden', 'conflict', 'invalid_payload', 'invalid_payload'],
    );
  });

  it('says unavailable for an unreachable database, internal for the rest', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    assert.equal(toAckError(refused).code, 'unavailable');
    assert.deepEqual(toAckError(new TypeError('a bug')), {
      code: 'internal',
      message: 'internal error',
    });
  });

  it('passes the gateway’s own refusals through', () => {
    assert.deepEqual(toAckError(new AckError('rate_limited', 'slow down', 1500)), {
      code: 'rate_limited',
      message: 'slow down',
      retryAfterMs: 1500,
    });
  });
});
