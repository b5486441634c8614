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
