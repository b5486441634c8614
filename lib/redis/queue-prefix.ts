/**
 * BullMQ's key prefix: under the global prefix (the ACL grants the services only that), and a
 * hash tag, because BullMQ's Lua scripts touch several keys of a queue at once and Redis
 * Cluster runs a script only when all its keys share a slot. BullMQ must not get an ioredis
 * `keyPrefix` instead (its scripts build key names themselves). The tag puts every queue in one
 * slot, so one shard carries all queue traffic: a few commands per message, far below what one
 * Redis shard serves (docs/scaling.md).
 */
export const queuePrefix = (keyPrefix: string): string => `${keyPrefix}{bull}`;
