/**
 * A client process of `npm run bench:realtime` (forked by bench/realtime.bench.ts, driven over
 * IPC): holds hundreds of real socket.io-client connections (websocket transport, the session
 * token in `auth`, as a browser connects), joins them to a conversation with
 * `conversation:join`, and records every `message:new` each socket receives (also each one inside
 * a `message:batch`, when the bench starts it with BATCHED_CLIENTS_VARIABLE): how many, and the
 * latency from the event's `emittedAt` (the publisher's Date.now(), same host, same clock) to
 * its arrival here.
 */
import { io, type Socket } from 'socket.io-client';
import {
  type ArrivalTally,
  BATCHED_CLIENTS_VARIABLE,
  SENT_AT,
  serveClientProcess,
} from './realtime-load.js';

/** Set by the bench for the client processes whose handshake asks for message:batch. */
const batched = process.env[BATCHED_CLIENTS_VARIABLE] === '1';

interface NewMessage {
  emittedAt: number;
  message: { body: string | null };
}

/** Generous: 1,000 handshakes at once on a busy 2-core machine take seconds, not 5 s each. */
const ANSWER_TIMEOUT_MS = 30_000;

/** The end-to-end scenario sends bodies `sent-at:<Date.now()>` over HTTP: its latency runs
 *  from the POST, not from the publish after the commit. */
function sentAt(body: string | null): number | undefined {
  return body?.startsWith(SENT_AT) ? Number(body.slice(SENT_AT.length)) : undefined;
}

function open(url: string, token: string, tally: ArrivalTally): Promise<Socket> {
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: batched ? { token, batch: true } : { token },
    timeout: ANSWER_TIMEOUT_MS,
  });
  const arrived = (event: NewMessage) =>
    tally.arrived(sentAt(event.message.body) ?? event.emittedAt);
  socket.on('message:new', arrived);
  // Several message:new of the room in one frame, in order (docs/api.md).
  socket.on('message:batch', (batch: { events: NewMessage[] }) => {
    for (const event of batch.events) arrived(event);
  });
  socket.on('disconnect', (reason) => tally.disconnected(reason));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

serveClientProcess<Socket>({
  open,
  async enter(socket, conversationId) {
    const ack = (await socket
      .timeout(ANSWER_TIMEOUT_MS)
      .emitWithAck('conversation:join', { conversationIds: [conversationId] })) as {
      ok: boolean;
      joined?: string[];
    };
    return ack.ok && ack.joined?.includes(conversationId) ? undefined : JSON.stringify(ack);
  },
  close: (socket) => socket.close(),
});
