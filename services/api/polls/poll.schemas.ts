import { z } from 'zod';
import { uuidField } from '../../../lib/accounts/index.js';
import { queryIntegerField } from '../../../lib/http/query-fields.js';
import { policy } from '../../../lib/policy/policy.js';
import type { Poll, PollPage } from '../../../lib/polls/index.js';
import { textField } from '../../../lib/text/text-field.js';

/*
 * Request and response schemas of the poll routes. Requests are strict (unknown fields are a
 * 400 naming them); responses are plain objects, so nothing beyond them leaves the process.
 */

const { maxQuestionChars, minOptions, maxOptions, maxOptionChars } = policy.polls;
const timestamp = z.iso.datetime();

export const pollListParams = z.strictObject({ id: uuidField });
export const pollParams = z.strictObject({ id: uuidField, pollId: uuidField });

const optionText = textField({ max: maxOptionChars });

export const newPollBody = z
  .strictObject({
    question: textField({ max: maxQuestionChars, kind: 'multiline' }),
    options: z
      .array(optionText)
      .min(minOptions, { error: `must list at least ${minOptions} options` })
      .max(maxOptions, { error: `must list at most ${maxOptions} options` })
      .superRefine((options, ctx) => {
        // "Yes" and "yes " are one answer to a reader: two of them would split its votes.
        const seen = new Map<string, number>();
        options.forEach((option, index) => {
          const normalized = option.toLocaleLowerCase();
          const first = seen.get(normalized);
          if (first === undefined) seen.set(normalized, index);
          else {
            ctx.addIssue({
              code: 'custom',
              path: [index],
              message: `repeats options.${first} (options must be distinct, ignoring case)`,
            });
          }
        });
      })
      .meta({ description: 'The answers, in the order shown; distinct, ignoring case' }),
  })
  .meta({ id: 'NewPoll' });

export const voteBody = z
  .strictObject({
    optionId: uuidField.meta({ description: 'One of the poll’s options' }),
  })
  .meta({ id: 'Vote' });

export const pollListQuery = z.strictObject({
  limit: queryIntegerField({
    min: 1,
    max: policy.polls.maxPageSize,
    default: policy.polls.defaultPageSize,
  }),
  cursor: z.string().min(1).max(128).optional().meta({
    description: 'nextCursor of the previous page; absent for the newest polls',
  }),
});

export const pollSchema = z
  .object({
    id: z.uuid(),
    conversationId: z.uuid(),
    createdBy: z.uuid(),
    question: z.string(),
    createdAt: timestamp,
    closedAt: timestamp.nullable().meta({ description: 'null while the poll is open' }),
    closed: z.boolean(),
    options: z.array(
      z
        .object({ id: z.uuid(), text: z.string(), votes: z.int().min(0) })
        .meta({ id: 'PollOption' }),
    ),
    totalVotes: z.int().min(0),
    myVote: z.uuid().nullable().meta({
      description: 'The option I voted for; null when I have not voted',
    }),
  })
  .meta({ id: 'Poll' });

export const pollListSchema = z
  .object({
    polls: z.array(pollSchema),
    nextCursor: z.string().optional().meta({ description: 'Absent on the oldest page' }),
  })
  .meta({ id: 'PollList' });

export function toPoll(poll: Poll): z.input<typeof pollSchema> {
  return { ...poll, closed: poll.closedAt !== null };
}

export function toPollList(page: PollPage): z.input<typeof pollListSchema> {
  return { polls: page.polls.map(toPoll), nextCursor: page.nextCursor };
}
