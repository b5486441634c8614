import type { Socket } from 'socket.io';

/**
 * Coalescing: the `message:new` events of one conversation that reach this gateway within one
 * turn of the event loop (a burst into a big room arrives from Redis in one read) go to the
 * connections that asked for it as ONE `message:batch` frame instead of one frame each.
 * Socket.IO writes one WebSocket frame per event per socket, so at saturation the per-frame
 * cost (a write, a frame header, a parse on the client) is what limits fan-out; a batch of n
 * costs one. The batch is encoded once per broadcast like any other event.
 *
 * Who gets batches: only connections whose handshake says `auth: { batch: true }` (joined to
 * BATCHED_ROOM here, all others to SINGLE_ROOM). A client that does not know `message:batch`
 * never receives one: it gets every event as before, one by one, in the same order.
 *
 * Order: events are never reordered for any connection. Once a coalescible event is held
 * back for the end of the turn, every later broadcast of that turn is held behind it, and at
 * the end of the turn all are delivered in arrival order; only runs of consecutive
 * `message:new` events to the same single room become a batch (delivered at the position of
 * the run). A change of membership (join, leave, disconnect of a room: the adapter's
 * non-broadcast operations) first delivers what is held, so it applies to the same events it
 * would have without coalescing.
 *
 * Hook: the in-memory adapter's broadcast (which every adapter's local delivery goes through,
 * the Redis adapters' included) calls `this._encode(packet)` then `this.apply(opts, write)`
 * on the instance; both are wrapped here. Internal to socket.io-adapter (TypeScript-private),
 * so they are reached through Reflect and checked at start-up; the gateway test fails if an
 * upgrade stops calling them.
 */

/** Connections that asked for batches, and those that did not (every socket is in one). */
export const BATCHED_ROOM = 'delivery:batched';
export const SINGLE_ROOM = 'delivery:single';
/** The event a batch is sent as (lib/realtime/events.ts). */
const BATCH_EVENT = 'message:batch';
const COALESCED_EVENT = 'message:new';

/** Whether a connection's handshake asked for `message:batch`. */
export function wantsBatches(socket: Socket): boolean {
  const auth: unknown = socket.handshake.auth;
  return typeof auth === 'object' && auth !== null && Reflect.get(auth, 'batch') === true;
}

interface Packet {
  type: number;
  nsp?: string;
  data?: unknown;
  id?: number;
}

interface BroadcastOptions {
  rooms: Set<string>;
  except?: Set<string>;
  flags?: Record<string, unknown>;
}

type Apply = (options: BroadcastOptions, callback: (socket: Socket) => void) => void;
type Encode = (packet: Packet, packetOptions: Record<string, unknown>) => unknown[];

interface Held {
  packet: Packet;
  options: BroadcastOptions;
  write: (socket: Socket) => void;
  /** The single room of a coalescible `message:new`; undefined for anything else. */
  room: string | undefined;
}

function method<F>(adapter: object, name: string): F {
  const found: unknown = Reflect.get(adapter, name);
  if (typeof found !== 'function') {
    throw new Error(`socket.io-adapter has no ${name}: broadcast coalescing needs a new hook`);
  }
  return found.bind(adapter) as F;
}

/** The single room a `message:new` broadcast goes to, when it may join a batch. */
function coalescibleRoom(packet: Packet, options: BroadcastOptions): string | undefined {
  if (!Array.isArray(packet.data) || packet.data[0] !== COALESCED_EVENT) return undefined;
  if (options.rooms.size !== 1 || (options.except?.size ?? 0) > 0) return undefined;
  if (Object.values(options.flags ?? {}).some(Boolean)) return undefined;
  const [room] = options.rooms;
  return room;
}

/** Wraps `adapter` (an in-memory adapter or a subclass) so that its local deliveries coalesce.
 *  `onBatch(size)` is told each batch written. */
export function coalesceBroadcasts<A extends object>(
  adapter: A,
  onBatch: (size: number) => void = () => {},
): A {
  const encode = method<Encode>(adapter, '_encode');
  const apply = method<Apply>(adapter, 'apply');
  const held: Held[] = [];
  let encoded: Packet | undefined;
  let flushScheduled = false;

  const deliver = (entry: Held) => apply(entry.options, entry.write);

  const flush = () => {
    flushScheduled = false;
    const entries = held.splice(0);
    for (let start = 0; start < entries.length; ) {
      const first = entries[start] as Held;
      let end = start + 1;
      while (first.room !== undefined && entries[end]?.room === first.room) end++;
      if (end - start === 1 || first.room === undefined) {
        deliver(first);
        start++;
        continue;
      }
      const run = entries.slice(start, end);
      start = end;
      const room = first.room;
      // One by one, as before, to the connections that did not ask for batches.
      for (const entry of run) {
        apply({ rooms: new Set([room]), except: new Set([BATCHED_ROOM]) }, entry.write);
      }
      const payloads = run.map((entry) => (entry.packet.data as unknown[])[1]);
      const batch: Packet = {
        type: first.packet.type,
        ...(first.packet.nsp === undefined ? {} : { nsp: first.packet.nsp }),
        data: [BATCH_EVENT, { events: payloads, emittedAt: emittedAtOf(payloads[0]) }],
      };
      const packetOptions: Record<string, unknown> = { preEncoded: true };
      const frames = encode(batch, packetOptions);
      apply({ rooms: new Set([room]), except: new Set([SINGLE_ROOM]) }, (socket) => {
        // What the adapter's own broadcast does with its encoded frames (Client is internal).
        const client: unknown = socket.client;
        Reflect.apply(writeToEngine(client), client, [frames, packetOptions]);
      });
      onBatch(run.length);
    }
  };

  Reflect.set(adapter, '_encode', (packet: Packet, packetOptions: Record<string, unknown>) => {
    encoded = packet;
    return encode(packet, packetOptions);
  });
  Reflect.set(adapter, 'apply', (options: BroadcastOptions, write: (socket: Socket) => void) => {
    const packet = encoded;
    encoded = undefined;
    if (packet === undefined) {
      // Not a broadcast (joins, leaves, fetches): what is held goes first.
      if (held.length > 0) flush();
      apply(options, write);
      return;
    }
    if (packet.id !== undefined) {
      // Expects acks: the adapter counts recipients as soon as apply returns, so it is never
      // held (what is held goes first).
      if (held.length > 0) flush();
      apply(options, write);
      return;
    }
    const room = coalescibleRoom(packet, options);
    if (room === undefined && held.length === 0) {
      apply(options, write);
      return;
    }
    held.push({ packet, options, write, room });
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });
  return adapter;
}

function writeToEngine(client: unknown): (...args: unknown[]) => void {
  const write: unknown = Reflect.get(Object(client), 'writeToEngine');
  if (typeof write !== 'function') {
    throw new Error('socket.io Client has no writeToEngine: broadcast coalescing needs a new hook');
  }
  return write as (...args: unknown[]) => void;
}

function emittedAtOf(payload: unknown): unknown {
  return typeof payload === 'object' && payload !== null
    ? Reflect.get(payload, 'emittedAt')
    : undefined;
}
