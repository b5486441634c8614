import { createHash } from 'node:crypto';
import type { RateLimitAlgorithm } from '../policy/rate-limit.policies.js';

/**
 * Subjects that are already short and harmless (IPv4/IPv6 addresses, UUIDs, numeric ids) stay
 * readable in Redis, so an operator can find or delete one subject's key. Anything else (spaces,
 * braces, newlines, unicode, e-mail addresses, very long strings) is replaced by a hash.
 * `~` is outside this set, so a hashed subject can never equal a readable one.
 */
const READABLE_SUBJECT = /^[A-Za-z0-9._:-]{1,64}$/;

/** 132 bits of SHA-256 in base64url: collisions are not a practical concern, keys stay short. */
const HASHED_SUBJECT_LENGTH = 22;

const algorithmSuffix: Record<RateLimitAlgorithm, string> = {
  'sliding-window-log': 'log',
  gcra: 'gcra',
};

/**
 * The part of a key that identifies a subject: the subject itself when readable, otherwise
 * `~` and a hash. Braces never survive, so the subject cannot break the hash tag, and no
 * character can reach Redis or a log line unescaped.
 */
export function encodeSubject(subject: string): string {
  if (subject === '') throw new RangeError('rate-limit subject must not be empty');
  if (READABLE_SUBJECT.test(subject)) return subject;
  const digest = createHash('sha256').update(subject, 'utf8').digest('base64url');
  return `~${digest.slice(0, HASHED_SUBJECT_LENGTH)}`;
}

/**
 * `{prefix}rl:{{policy}:{subject}}:{algorithm}`. The braces are a Redis Cluster hash tag: every
 * key one check touches hashes to the same slot (today one key per check; a future check that
 * touches several keys of one subject keeps working on a cluster). The algorithm suffix means
 * an operator who switches a policy's algorithm gets fresh keys instead of WRONGTYPE errors.
 * Policy names come from the policy table (letters and dashes), never from a request.
 */
export function rateLimitKey(
  keyPrefix: string,
  policyName: string,
  algorithm: RateLimitAlgorithm,
  subject: string,
): string {
  const { keyHead, keyTail } = rateLimitKeyParts(keyPrefix, policyName, algorithm);
  return keyHead + encodeSubject(subject) + keyTail;
}

/** What comes before and after the encoded subject, computed once per policy by the limiter. */
export function rateLimitKeyParts(
  keyPrefix: string,
  policyName: string,
  algorithm: RateLimitAlgorithm,
): { keyHead: string; keyTail: string } {
  return {
    keyHead: `${keyPrefix}rl:{${policyName}:`,
    keyTail: `}:${algorithmSuffix[algorithm]}`,
  };
}
