import { z } from 'zod';

/*
 * The one rule for free text that people and integrations send (HTTP bodies and queries, socket
 * events, the CLI). PostgreSQL cannot store U+0000 in `text` (it fails the whole statement with
 * 22021), and a lone UTF-16 surrogate has no UTF-8 encoding at all (the driver would silently
 * replace it), so both are refused everywhere as a 400 naming the field, never a 500. The other
 * control characters (C0, DEL, C1) are refused as well: they are invisible, they break logs and
 * terminals, and no client needs them, except line breaks and tabs in multi-line text. Names
 * (who or what a thing is called, shown next to other people's words) also refuse the bidi
 * embedding, override and isolate controls, with which "gnp.exe" can be made to read "exe.png".
 */

/** Every control character (C0, DEL, C1). */
const controlCharacter = /\p{Cc}/u;
/** Control characters other than tab, line feed and carriage return. */
const controlCharacterButLineBreaks = /[^\P{Cc}\t\n\r]/u;
/** A UTF-16 surrogate not paired with its other half (paired ones form one code point). */
const loneSurrogate = /\p{Cs}/u;
/** LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI. */
const bidiControl = /[\u202A-\u202E\u2066-\u2069]/u;

export interface TextFieldOptions {
  /** At least this many characters after trimming (default 1: empty is refused). */
  min?: number;
  max: number;
  /**
   * `line`: one line (no control character at all). `multiline`: tabs and line breaks are
   * welcome. `name`: one line, and no bidi controls either. Default `line`.
   */
  kind?: 'line' | 'multiline' | 'name';
  /** Trim surrounding white space first (default true). */
  trim?: boolean;
}

/** A string schema that enforces the text rule; add `.meta()` for the OpenAPI document. */
export function textField(options: TextFieldOptions) {
  const { min = 1, max, kind = 'line', trim = true } = options;
  const base = trim ? z.string().trim() : z.string();
  return base
    .min(min, { error: min === 1 ? 'must not be empty' : `must be at least ${min} characters` })
    .max(max, { error: `must be at most ${max} characters` })
    .refine((text) => !loneSurrogate.test(text), {
      error: 'must be valid Unicode (a lone surrogate is not)',
    })
    .refine(
      (text) =>
        !(kind === 'multiline' ? controlCharacterButLineBreaks : controlCharacter).test(text),
      {
        error:
          kind === 'multiline'
            ? 'must not contain control characters other than tabs and line breaks'
            : 'must not contain control characters',
      },
    )
    .refine((text) => kind !== 'name' || !bidiControl.test(text), {
      error: 'must not contain bidirectional control characters',
    });
}
