/**
 * A client process of `npm run bench:realtime` (forked by bench/realtime.bench.ts, driven over
 * IPC): holds hundreds of real socket.io-client connections (websocket transport, the session
 * token in `auth`, as a browser connects), joins them to a conversation with
 * `conversation:join`, and records every `message:new` each socket receives: how many, and the
 * latency from the event's `emittedAt` (the publisher's Date.now(), same host, same clock) to
 * its arrival here.
 */
import { io, type Socket } from 'socket.io-client';
import { newHistogram, record, SENT_AT, serveRpc, sparse } from './realtime-load.js';

/** Generous: 1,000 handshakes at once on a busy 2-core machine take seconds, not 5 s each. */
const ANSWER_TIMEOUT_MS = 30_000;

const sockets: Socket[] = [];
let joinedSoFar = 0;
let histogram = newHistogram();
let received = 0;
let firstAt = 0;
let lastAt = 0;
let unexpectedDisconnects = 0;
/** Why sockets closed without being asked to (ping timeout under overload, server closed…). */
const disconnectReasons: Record<string, number> = {};
let closing = false;

/** The end-to-end scenario sends bodies `sent-at:<Date.now()>` over HTTP: its latency runs
 *  from the POST, not from the publish after the commit. */
function sentAt(body: string | null): number | undefined {
  return body?.startsWith(SENT_AT) ? Number(body.slice(SENT_AT.length)) : undefined;
}

function open(url: string, token: string): Promise<Socket> {
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: { token },
    timeout: ANSWER_TIMEOUT_MS,
  });
  socket.on('message:new', (event: { emittedAt: number; message: { body: string | null } }) => {
    const now = Date.now();
    record(histogram, now - (sentAt(event.message.body) ?? event.emittedAt));
    received++;
    if (firstAt === 0) firstAt = now;
    lastAt = now;
  });
  socket.on('disconnect', (reason) => {
    if (closing) return;
    unexpectedDisconnects++;
    disconnectReasons[reason] = (disconnectReasons[reason] ?? 0) + 1;
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Runs `task` over `items` with at most `width` in flight. */
async function inParallel<T>(items: T[], width: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < items.length; index = next++) {
      await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
}

serveRpc({
  async connect({ url, tokens, width }: { url: string; tokens: string[]; width: number }) {
    const started = performance.now();
    await inParallel(tokens, width, async (token) => {
      sockets.push(await open(url, token));
    });
    return { connected: sockets.length, ms: performance.now() - started };
  },

  /** Joins the sockets connected since the last join. */
  async join({ conversationId, width }: { conversationId: string; width: number }) {
    let joined = 0;
    const failures: string[] = [];
    const fresh = sockets.slice(joinedSoFar);
    joinedSoFar = sockets.length;
    await inParallel(fresh, width, async (socket) => {
      const ack = (await socket
        .timeout(ANSWER_TIMEOUT_MS)
        .emitWithAck('conversation:join', { conversationIds: [conversationId] })) as {
        ok: boolean;
        joined?: string[];
      };
      if (ack.ok && ack.joined?.includes(conversationId)) joined++;
      else failures.push(JSON.stringify(ack));
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
    for (const socket of sockets.splice(0)) socket.close();
    return {};
  },
});
