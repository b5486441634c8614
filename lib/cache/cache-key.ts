import { encodeSubject } from '../rate-limit/index.js';

/**
 * The part of a key that names one id (or one group): the id itself when short and harmless,
 * otherwise `~` and a hash. The encoding is the rate limiter's (one rule for every id that
 * reaches a Redis key): braces never survive, so an id cannot forge a hash tag, and nothing
 * outside `[A-Za-z0-9._:-]` reaches Redis or a log line. An empty id is a caller's bug.
 */
export function encodeCacheId(id: string): string {
  if (id === '') throw new RangeError('cache id must not be empty');
  return encodeSubject(id);
}

/** What precedes the encoded id in every key of a namespace (or of one group of it). */
export function cacheKeyHead(
  keyPrefix: string,
  namespace: string,
  group?: { hashTag: string; groupId: string },
): string {
  const head = `${keyPrefix}cache:${namespace}:`;
  return group ? `${head}{${group.hashTag}:${encodeCacheId(group.groupId)}}:` : head;
}

/**
 * `${prefix}cache:${namespace}:${id}`, or with a group
 * `${prefix}cache:${namespace}:{${hashTag}:${groupId}}:${id}`: the braces are a Redis Cluster
 * hash tag, so every key of one group lives in one slot and can be read with one MGET.
 */
export function cacheKey(
  keyPrefix: string,
  namespace: string,
  id: string,
  group?: { hashTag: string; groupId: string },
): string {
  return cacheKeyHead(keyPrefix, namespace, group) + encodeCacheId(id);
}
