import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './redis-client.js';

/**
 * Batches that stay correct on Redis Cluster by design. A single server takes any pipeline or
 * multi-key command in one round trip; a cluster refuses a multi-key command whose keys hash to
 * different slots (CROSSSLOT), and ioredis refuses a pipeline whose keys live on different nodes.
 * Keys used together in one command or script share a hash tag (`{user:<id>}`, `{presence-07}`),
 * so they always land in one slot; what remains is batches over *independent* keys (one key per
 * conversation, per presence shard). These helpers send such a batch as it is on a single
 * server, and split it into one batch per slot on a cluster, sent in parallel (ioredis writes
 * the batches of one node together), answers put back in the caller's order.
 */

/** `items` grouped by the slot of their key, each group keeping the items' original indexes;
 *  one group holding everything when `redis` is not a cluster. */
export function groupBySlot<Item>(
  redis: RedisClient,
  items: readonly Item[],
  keyOf: (item: Item) => string,
): Array<Array<{ item: Item; index: number }>> {
  const indexed = items.map((item, index) => ({ item, index }));
  if (!isCluster(redis)) return indexed.length === 0 ? [] : [indexed];
  const groups = new Map<number, Array<{ item: Item; index: number }>>();
  for (const entry of indexed) {
    const slot = calculateSlot(keyOf(entry.item));
    let group = groups.get(slot);
    if (!group) {
      group = [];
      groups.set(slot, group);
    }
    group.push(entry);
  }
  return [...groups.values()];
}

/** MGET of `keys`: one command on a single server, one per slot on a cluster. */
export async function mgetAcrossSlots(
  redis: RedisClient,
  keys: readonly string[],
): Promise<Array<string | null>> {
  const replies = new Array<string | null>(keys.length).fill(null);
  await Promise.all(
    groupBySlot(redis, keys, (key) => key).map(async (group) => {
      const values = await redis.mget(group.map(({ item }) => item));
      group.forEach(({ index }, position) => {
        replies[index] = values[position] ?? null;
      });
    }),
  );
  return replies;
}

/** DEL of `keys`: one command on a single server, one per slot on a cluster; how many existed. */
export async function delAcrossSlots(redis: RedisClient, keys: readonly string[]): Promise<number> {
  const counts = await Promise.all(
    groupBySlot(redis, keys, (key) => key).map((group) =>
      redis.del(...group.map(({ item }) => item)),
    ),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/** One command of a batch: the key that routes it (every key it touches shares its slot) and
 *  how to queue it on a pipeline. */
export interface BatchCommand {
  key: string;
  queue(pipeline: ChainableCommander): void;
}

export type BatchOutcome = { error: Error } | { reply: unknown };

/**
 * Runs `commands` as one pipeline on a single server, or one pipeline per slot on a cluster,
 * and gives each command's outcome in the order given. Rejects when a pipeline cannot be sent
 * at all, as a single pipeline does.
 */
export async function runBatch(
  redis: RedisClient,
  commands: readonly BatchCommand[],
): Promise<BatchOutcome[]> {
  const outcomes = new Array<BatchOutcome>(commands.length);
  await Promise.all(
    groupBySlot(redis, commands, (command) => command.key).map(async (group) => {
      const pipeline = redis.pipeline();
      for (const { item } of group) item.queue(pipeline);
      const results = await pipeline.exec();
      if (!results) throw new Error('pipeline discarded');
      group.forEach(({ index }, position) => {
        const [error, reply] = results[position] ?? [new Error('no reply'), undefined];
        outcomes[index] = error ? { error } : { reply };
      });
    }),
  );
  return outcomes;
}
