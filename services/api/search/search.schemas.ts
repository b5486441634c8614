import { z } from 'zod';
import { uuidField } from '../../../lib/accounts/index.js';
import { queryIntegerField } from '../../../lib/http/query-fields.js';
import { type SearchPage, searchPolicy } from '../../../lib/search/index.js';
import { textField } from '../../../lib/text/text-field.js';
import { messageSchema } from '../conversations/conversation.schemas.js';

/*
 * Request and response schemas of GET /search. The query string is strict (an unknown
 * parameter is a 400 naming it); the response is a plain object.
 */

export const searchQuery = z.strictObject({
  q: textField({ max: searchPolicy.maxQueryChars }).meta({
    description:
      'Words to find, as in a search box: every word must appear (any case); "a quoted phrase" in that order; OR between alternatives; -word excludes. Whole words only: no stemming, no accent folding. Punctuation alone finds nothing.',
  }),
  conversationId: uuidField.optional().meta({
    description: 'Only this conversation (the caller must be a member: 404 otherwise)',
  }),
  limit: queryIntegerField({
    min: 1,
    max: searchPolicy.maxPageSize,
    default: searchPolicy.defaultPageSize,
  }),
  cursor: z.string().min(1).max(128).optional().meta({
    description: 'nextCursor of the previous page; absent for the newest results',
  }),
});

const searchResultSchema = z
  .object({
    conversationId: z.uuid(),
    message: messageSchema,
    headline: z.string().meta({
      description:
        'An excerpt of the message around the matches, as HTML: the text is escaped and each match is wrapped in <mark>…</mark>, so it can be inserted as markup safely',
    }),
  })
  .meta({ id: 'SearchResult' });

export const searchPageSchema = z
  .object({
    results: z.array(searchResultSchema).meta({
      description: 'Newest first, from every conversation the caller is a member of',
    }),
    nextCursor: z.string().optional().meta({ description: 'Absent on the last page' }),
  })
  .meta({ id: 'SearchResults' });

export function toSearchPage(page: SearchPage): z.input<typeof searchPageSchema> {
  return page;
}
