/**
 * A client process of `npm run bench:realtime` for the Centrifugo side (forked by
 * bench/realtime.bench.ts, driven over IPC with the same calls as bench/realtime-clients.ts):
 * holds hundreds of real `centrifuge` (centrifuge-js, Centrifugo's own client library)
 * connections over WebSocket (the `ws` implementation, as Node 20 has none built in), each
 * authenticated by an HS256 connection JWT, subscribes them to the conversation's channel, and
 * records every publication: how many, and the latency from its `emittedAt` (the publisher's
 * Date.now(), same host, same clock) to its arrival here.
 */
import { Centrifuge, type Subscription } from 'centrifuge';
import WebSocket from 'ws';
import { newHistogram, record, serveRpc, sparse } from './realtime-load.js';

const ANSWER_TIMEOUT_MS = 30_000;

const clients: Centrifuge[] = [];
let subscribedSoFar = 0;
let histogram = newHistogram();
let received = 0;
let firstAt = 0;
let lastAt = 0;
let unexpectedDisconnects = 0;
const disconnectReasons: Record<string, number> = {};
let closing = false;

function open(url: string, token: string): Promise<Centrifuge> {
  const client = new Centrifuge(url, { token, websocket: WebSocket, timeout: ANSWER_TIMEOUT_MS });
  client.on('disconnected', (context) => {
    if (closing) return;
    unexpectedDisconnects++;
    const reason = `${context.code} ${context.reason}`;
    disconnectReasons[reason] = (disconnectReasons[reason] ?? 0) + 1;
  });
  return new Promise((resolve, reject) => {
    client.once('connected', () => resolve(client));
    client.once('error', (context) => {
      client.disconnect();
      reject(new Error(`centrifuge connect: ${JSON.stringify(context.error)}`));
    });
    client.connect();
  });
}

function subscribe(client: Centrifuge, channel: string): Promise<Subscription> {
  const subscription = client.newSubscription(channel);
  subscription.on('publication', (context) => {
    const now = Date.now();
    const data = context.data as { emittedAt: number };
    record(histogram, now - data.emittedAt);
    received++;
    if (firstAt === 0) firstAt = now;
    lastAt = now;
  });
  return new Promise((resolve, reject) => {
    subscription.once('subscribed', () => resolve(subscription));
    subscription.once('error', (context) =>
      reject(new Error(`centrifuge subscribe: ${JSON.stringify(context.error)}`)),
    );
    subscription.subscribe();
  });
}

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
      clients.push(await open(url, token));
    });
    return { connected: clients.length, ms: performance.now() - started };
  },

  /** Subscribes the clients connected since the last call to the conversation's channel. */
  async join({ conversationId, width }: { conversationId: string; width: number }) {
    let joined = 0;
    const failures: string[] = [];
    const fresh = clients.slice(subscribedSoFar);
    subscribedSoFar = clients.length;
    await inParallel(fresh, width, async (client) => {
      try {
        await subscribe(client, `conversation_${conversationId}`);
        joined++;
      } catch (error) {
        failures.push(String(error));
      }
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
    for (const client of clients.splice(0)) client.disconnect();
    return {};
  },
});
