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
import { type ArrivalTally, serveClientProcess } from './realtime-load.js';

const ANSWER_TIMEOUT_MS = 30_000;

function open(url: string, token: string, tally: ArrivalTally): Promise<Centrifuge> {
  const client = new Centrifuge(url, { token, websocket: WebSocket, timeout: ANSWER_TIMEOUT_MS });
  client.on('disconnected', (context) => tally.disconnected(`${context.code} ${context.reason}`));
  return new Promise((resolve, reject) => {
    client.once('connected', () => resolve(client));
    client.once('error', (context) => {
      client.disconnect();
      reject(new Error(`centrifuge connect: ${JSON.stringify(context.error)}`));
    });
    client.connect();
  });
}

function subscribe(
  client: Centrifuge,
  channel: string,
  tally: ArrivalTally,
): Promise<Subscription> {
  const subscription = client.newSubscription(channel);
  subscription.on('publication', (context) => {
    const data = context.data as { emittedAt: number };
    tally.arrived(data.emittedAt);
  });
  return new Promise((resolve, reject) => {
    subscription.once('subscribed', () => resolve(subscription));
    subscription.once('error', (context) =>
      reject(new Error(`centrifuge subscribe: ${JSON.stringify(context.error)}`)),
    );
    subscription.subscribe();
  });
}

serveClientProcess<Centrifuge>({
  open,
  /** Subscribes the client to the conversation's channel. */
  async enter(client, conversationId, tally) {
    try {
      await subscribe(client, `conversation_${conversationId}`, tally);
      return undefined;
    } catch (error) {
      return String(error);
    }
  },
  close: (client) => client.disconnect(),
});
