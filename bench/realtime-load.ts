/**
 * What the processes of `npm run bench:realtime` share: the fixed-rate publishing loop, the
 * synthetic message every scenario publishes, the latency histogram, and a small
 * request/response protocol over the IPC channel of a forked child (bench/realtime.bench.ts
 * drives bench/realtime-clients.ts and bench/realtime-baseline-server.ts with it).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '../lib/conversations/index.js';

/** Latencies are whole milliseconds (`emittedAt` is Date.now()); the last bucket is "≥". */
export const HISTOGRAM_MAX_MS = 120_000;

export function newHistogram(): Uint32Array {
  return new Uint32Array(HISTOGRAM_MAX_MS + 1);
}

export function record(histogram: Uint32Array, latencyMs: number): void {
  const bucket = Math.min(HISTOGRAM_MAX_MS, Math.max(0, Math.round(latencyMs)));
  histogram[bucket] = (histogram[bucket] ?? 0) + 1;
}

/** [ms, count] pairs of the non-empty buckets: what crosses the IPC channel. */
export function sparse(histogram: Uint32Array): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  histogram.forEach((count, ms) => {
    if (count > 0) pairs.push([ms, count]);
  });
  return pairs;
}

export function merge(into: Uint32Array, pairs: Array<[number, number]>): void {
  for (const [ms, count] of pairs) into[ms] = (into[ms] ?? 0) + count;
}

export function percentileMs(histogram: Uint32Array, p: number): number {
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return Number.NaN;
  const rank = Math.ceil(total * p);
  let seen = 0;
  for (let ms = 0; ms < histogram.length; ms++) {
    seen += histogram[ms] ?? 0;
    if (seen >= rank) return ms;
  }
  return HISTOGRAM_MAX_MS;
}

/** Prefix of the bodies the end-to-end scenario sends, followed by the sender's Date.now(). */
export const SENT_AT = 'sent-at:';

/** In a client process's environment: its handshake asks for message:batch. */
export const BATCHED_CLIENTS_VARIABLE = 'QUAD_BENCH_BATCHED_CLIENTS';

/** A message as the api would publish it after its commit, with a body of typical length. */
export function syntheticMessage(conversationId: string, senderId: string, seq: number): Message {
  return {
    id: randomUUID(),
    conversationId,
    seq,
    senderId,
    body: `bench message ${seq}: homework for Thursday is exercises 4 to 9 on page 112.`,
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
  };
}

export interface PublishResult {
  sent: number;
  /** Date.now() when the first message went out (same clock as `emittedAt`). */
  startedAt: number;
  seconds: number;
  /** Sends refused (end to end only: a non-201 answer); they owe no deliveries. */
  failed: number;
}

/**
 * Calls `publishOne` `rate` times a second for `durationMs`: every tick sends what is due by
 * now, so a late timer (a busy event loop) catches up instead of lowering the rate silently;
 * the rate actually achieved is `sent / seconds`.
 */
export async function publishAtRate(
  rate: number,
  durationMs: number,
  publishOne: (index: number) => void,
): Promise<PublishResult> {
  const total = Math.round((rate * durationMs) / 1000);
  const startedAt = Date.now();
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (sent < due) publishOne(sent++);
    if (sent < total) await sleep(Math.max(1, Math.min(10, 1000 / rate)));
  }
  return { sent, startedAt, seconds: (performance.now() - started) / 1000, failed: 0 };
}

interface RpcRequest {
  id: number;
  command: string;
  args: unknown;
}
type RpcReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

/** The parent's side: `call(command, args)` resolves with the child's answer. */
export function rpcClient(child: ChildProcess, name: string) {
  let nextId = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  child.on('message', (reply: RpcReply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`${name}: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) {
      waiter.reject(new Error(`${name} exited (${code ?? signal}) before answering`));
    }
    pending.clear();
  });
  return {
    call<T>(command: string, args: unknown = {}): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, command, args } satisfies RpcRequest);
      });
    },
  };
}

/** The child's side: answers each request with its handler's result or error. */
export function serveRpc(handlers: Record<string, (args: never) => Promise<unknown>>): void {
  process.on('message', async (request: RpcRequest) => {
    const handler = handlers[request.command];
    try {
      if (!handler) throw new Error(`unknown command ${request.command}`);
      const result = await handler(request.args as never);
      process.send?.({ id: request.id, ok: true, result } satisfies RpcReply);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.send?.({ id: request.id, ok: false, error: message } satisfies RpcReply);
    }
  });
  // The parent going away (Ctrl-C, a crash) ends the child too.
  process.on('disconnect', () => process.exit(0));
}

/** Runs `task` over `items` with at most `width` in flight. */
export async function inParallel<T>(items: T[], width: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < items.length; index = next++) {
      await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
}

/** What a client connection reports to its client process, whichever library it speaks. */
export interface ArrivalTally {
  /** A message arrived that was sent (or published) at `sentAt`, the sender's Date.now(). */
  arrived(sentAt: number): void;
  /** The connection closed; not counted while the process closes its connections on purpose. */
  disconnected(reason: string): void;
}

/**
 * The client process of `npm run bench:realtime` (forked by bench/realtime.bench.ts, driven over
 * IPC), whichever client library holds its connections: `open` connects one, `enter` joins it to
 * the conversation (returning why not, or nothing), both reporting to the tally; `close` ends it.
 */
export function serveClientProcess<Client>(library: {
  open(url: string, token: string, tally: ArrivalTally): Promise<Client>;
  enter(client: Client, conversationId: string, tally: ArrivalTally): Promise<string | undefined>;
  close(client: Client): void;
}): void {
  const clients: Client[] = [];
  let enteredSoFar = 0;
  let histogram = newHistogram();
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  let unexpectedDisconnects = 0;
  /** Why connections closed without being asked to (ping timeout under overload, server closed…). */
  const disconnectReasons: Record<string, number> = {};
  let closing = false;
  const tally: ArrivalTally = {
    arrived(sentAt) {
      const now = Date.now();
      record(histogram, now - sentAt);
      received++;
      if (firstAt === 0) firstAt = now;
      lastAt = now;
    },
    disconnected(reason) {
      if (closing) return;
      unexpectedDisconnects++;
      disconnectReasons[reason] = (disconnectReasons[reason] ?? 0) + 1;
    },
  };

  serveRpc({
    async connect({ url, tokens, width }: { url: string; tokens: string[]; width: number }) {
      const started = performance.now();
      await inParallel(tokens, width, async (token) => {
        clients.push(await library.open(url, token, tally));
      });
      return { connected: clients.length, ms: performance.now() - started };
    },

    /** Joins the clients connected since the last join. */
    async join({ conversationId, width }: { conversationId: string; width: number }) {
      let joined = 0;
      const failures: string[] = [];
      const fresh = clients.slice(enteredSoFar);
      enteredSoFar = clients.length;
      await inParallel(fresh, width, async (client) => {
        const failure = await library.enter(client, conversationId, tally);
        if (failure === undefined) joined++;
        else failures.push(failure);
      });
      return { joined, failures: failures.slice(0, 3) };
    },

    async reset() {
      histogram = newHistogram();
      received = 0;
      firstAt = 0;
      lastAt = 0;
      return {};
    },

    async progress() {
      return { received, unexpectedDisconnects };
    },

    async stats() {
      return {
        received,
        firstAt,
        lastAt,
        unexpectedDisconnects,
        disconnectReasons,
        histogram: sparse(histogram),
      };
    },

    async close() {
      closing = true;
      for (const client of clients.splice(0)) library.close(client);
      return {};
    },
  });
}
