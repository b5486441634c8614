import { policy } from '../policy/policy.js';

/**
 * Rejects passwords an attacker tries first, without a breached-password list (Quad runs
 * offline and ships no data set): too short, too few different characters, a keyboard or
 * alphabet run, a repeated pattern, one of the words everybody picks dressed up with digits and
 * symbols, or the person's own name. NIST SP 800-63B asks for exactly these checks (a
 * blocklist of common, sequential and repetitive values and context-specific words) and
 * against composition rules ("one digit, one symbol"), which only produce `Password1!`.
 */

/** Words that passwords of people at a school are built from, lower-case. */
const commonWords = [
  'password',
  'passwort',
  'motdepasse',
  'contraseña',
  'qwerty',
  'azerty',
  'letmein',
  'welcome',
  'iloveyou',
  'admin',
  'administrator',
  'login',
  'school',
  'student',
  'teacher',
  'college',
  'university',
  'summer',
  'winter',
  'spring',
  'autumn',
  'football',
  'monkey',
  'dragon',
  'sunshine',
  'princess',
  'secret',
  'changeme',
  'quad',
];

/** Runs people type by counting or by sliding a finger along the keyboard's rows. */
const runs = ['abcdefghijklmnopqrstuvwxyz', '0123456789', 'qwertyuiopasdfghjklzxcvbnm'];

/** Every character is the next (or every one the previous) of a run, wrapping around:
 *  "7890123456", "zyxwvu", "qwertyuiop". */
function isRun(text: string): boolean {
  const chars = [...text];
  return runs.some((run) =>
    [1, -1].some((step) =>
      chars.every((char, i) => {
        const position = run.indexOf(char);
        if (position < 0) return false;
        if (i === 0) return true;
        const previous = run.indexOf(chars[i - 1] ?? '');
        return position === (previous + step + run.length) % run.length;
      }),
    ),
  );
}

/** "abcabcabcabc", "xyxyxyxyxyxy": the whole password repeats a short unit. */
function isRepetition(text: string): boolean {
  for (let unit = 1; unit <= 4 && unit * 2 <= text.length; unit++) {
    if (
      text ===
      text
        .slice(0, unit)
        .repeat(Math.ceil(text.length / unit))
        .slice(0, text.length)
    ) {
      return true;
    }
  }
  return false;
}

export interface PasswordContext {
  username?: string;
  email?: string;
  displayName?: string;
}

/** Returns every reason the password is weak (empty when it is acceptable). */
export function passwordProblems(password: string, context: PasswordContext = {}): string[] {
  const { minLength, maxLength } = policy.accounts.passwords;
  const problems: string[] = [];
  const length = [...password].length;
  if (length < minLength) problems.push(`must be at least ${minLength} characters long`);
  if (length > maxLength) problems.push(`must be at most ${maxLength} characters long`);

  const lower = password.toLowerCase();
  if (new Set(lower).size < 5) problems.push('uses too few different characters');
  if (isRun(lower) || isRepetition(lower)) {
    problems.push('is a keyboard, alphabet or number sequence, or a repeated pattern');
  }
  // What is left once the decoration people add around a word (digits, symbols) is removed.
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  if (commonWords.some((word) => core === word || core === `${word}${word}`)) {
    problems.push('is a common password with digits or symbols added');
  }

  const personal = [
    context.username,
    context.email?.split('@', 1)[0],
    ...(context.displayName?.split(/\s+/) ?? []),
  ]
    .map((part) => part?.toLowerCase() ?? '')
    .filter((part) => part.length >= 4);
  if (personal.some((part) => lower.includes(part))) {
    problems.push('must not contain your name, username or email address');
  }
  return problems;
}
