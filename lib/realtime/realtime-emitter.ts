import { Emitter } from '@socket.io/redis-emitter';
import { isCluster, type RedisClient } from '../redis/redis-client.js';
import type { ServerEvents } from './events.js';

/**
 * What Quad's publishers (the api, the worker, every gateway's domain services) need from a
 * Socket.IO emitter: send an event to rooms on every gateway instance, make the sockets of some
 * rooms leave a room, disconnect the sockets of a room. Two implementations speak the two
 * adapters the gateways run:
 *
 *  - single Redis: @socket.io/redis-emitter, classic PUBLISH to the pub/sub adapter;
 *  - Redis Cluster: ShardedEmitter below, SPUBLISH to the sharded adapter
 *    (`createShardedAdapter`), whose channels live on the shard owning their slot. Classic
 *    PUBLISH on a cluster is copied to every node over the cluster bus, so every broadcast
 *    would cost every shard; sharded pub/sub is what lets broadcast scale with the shards. The
 *    official emitter only speaks the classic protocol, so ShardedEmitter writes what the
 *    sharded adapter itself publishes (socket.io-adapter's ClusterAdapter messages, JSON) on
 *    the channel that adapter would pick.
 */
export interface RoomBroadcast {
  emit<E extends keyof ServerEvents>(event: E, ...args: Parameters<ServerEvents[E]>): void;
  socketsLeave(rooms: string | string[]): void;
  disconnectSockets(close?: boolean): void;
}

export interface RealtimeEmitter {
  to(rooms: string | string[]): RoomBroadcast;
  in(rooms: string | string[]): RoomBroadcast;
}

/** The Redis channel prefix shared by the gateways' adapter and every emitter. */
export const socketChannelKey = (keyPrefix: string) => `${keyPrefix}socket.io`;

/** socket.io-adapter's ClusterAdapter message types (its wire protocol, cluster-adapter.ts). */
const clusterMessageType = {
  broadcast: 3,
  socketsLeave: 5,
  disconnectSockets: 6,
} as const;

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;
const NAMESPACE = '/';

/** A socket id is 20 characters: the sharded adapter never gives one its own channel. */
const looksLikeASocketId = (room: string) => room.length === 20;

type Publish = (channel: string, message: string) => void;

class ShardedRoomBroadcast implements RoomBroadcast {
  readonly #rooms: readonly string[];
  readonly #channel: string;
  readonly #uid: string;
  readonly #publish: Publish;

  constructor(rooms: readonly string[], channel: string, uid: string, publish: Publish) {
    this.#rooms = rooms;
    this.#channel = channel;
    this.#uid = uid;
    this.#publish = publish;
  }

  emit<E extends keyof ServerEvents>(event: E, ...args: Parameters<ServerEvents[E]>): void {
    const [room] = this.#rooms;
    // The sharded adapter's "dynamic" subscription mode: a broadcast to exactly one room
    // (not a socket id) goes to that room's own channel, which only the instances holding
    // the room subscribe to; anything else goes to the namespace channel every instance reads.
    const channel =
      this.#rooms.length === 1 && room !== undefined && !looksLikeASocketId(room)
        ? `${this.#channel}${room}#`
        : this.#channel;
    this.#send(channel, clusterMessageType.broadcast, {
      packet: { type: EVENT_PACKET, data: [event, ...args], nsp: NAMESPACE },
      opts: this.#options(),
    });
  }

  socketsLeave(rooms: string | string[]): void {
    this.#send(this.#channel, clusterMessageType.socketsLeave, {
      opts: this.#options(),
      rooms: typeof rooms === 'string' ? [rooms] : rooms,
    });
  }

  disconnectSockets(close = false): void {
    this.#send(this.#channel, clusterMessageType.disconnectSockets, {
      opts: this.#options(),
      close,
    });
  }

  #options() {
    return { rooms: [...this.#rooms], except: [], flags: {} };
  }

  #send(channel: string, type: number, data: Record<string, unknown>) {
    this.#publish(channel, JSON.stringify({ uid: this.#uid, nsp: NAMESPACE, type, data }));
  }
}

/** An emitter for gateways running the sharded adapter (see RealtimeEmitter). */
export class ShardedEmitter implements RealtimeEmitter {
  /** The namespace channel, `<prefix>#/#`, as createShardedAdapter names it. */
  readonly #channel: string;
  readonly #publish: Publish;
  /** Adapters ignore messages carrying their own uid; an emitter is no adapter. */
  readonly #uid = 'emitter';

  constructor(redis: RedisClient, channelPrefix: string) {
    this.#channel = `${channelPrefix}#${NAMESPACE}#`;
    this.#publish = (channel, message) => {
      void redis.spublish(channel, message);
    };
  }

  to(rooms: string | string[]): RoomBroadcast {
    return new ShardedRoomBroadcast(
      typeof rooms === 'string' ? [rooms] : rooms,
      this.#channel,
      this.#uid,
      this.#publish,
    );
  }

  in(rooms: string | string[]): RoomBroadcast {
    return this.to(rooms);
  }
}

/** The emitter matching the adapter the gateways run on `redis` (see RealtimeEmitter).
 *  `redis` must already turn a failed publish into a reported, dropped one (tolerantPublisher). */
export function createRealtimeEmitter(redis: RedisClient, keyPrefix: string): RealtimeEmitter {
  if (isCluster(redis)) return new ShardedEmitter(redis, socketChannelKey(keyPrefix));
  return new Emitter<ServerEvents>(redis, { key: socketChannelKey(keyPrefix) });
}
