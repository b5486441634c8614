import { io, type Socket } from 'socket.io-client';
import { waitFor } from './wait-for.js';

/** How long a test waits for an ack or an event before failing (a hang is a failure). */
const ANSWER_TIMEOUT_MS = 5_000;

export interface Ack {
  ok: boolean;
  error?: { code: string; message: string; retryAfterMs?: number };
  [field: string]: unknown;
}

/** A real socket.io-client connection with the session token in the handshake, as a browser
 *  client sends it; resolves once connected, rejects with the server's refusal. */
export async function connectSocket(
  baseUrl: string,
  token: string | undefined,
  options: { reconnection?: boolean; batch?: boolean } = {},
): Promise<Socket> {
  const socket = io(baseUrl, {
    transports: ['websocket'],
    reconnection: options.reconnection ?? false,
    auth: {
      ...(token === undefined ? {} : { token }),
      ...(options.batch ? { batch: true } : {}),
    },
    timeout: ANSWER_TIMEOUT_MS,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** The refusal of a handshake: the `data.code` the server attached. */
export async function handshakeRefusal(baseUrl: string, token: string | undefined) {
  try {
    const socket = await connectSocket(baseUrl, token);
    socket.close();
    return undefined;
  } catch (error) {
    return (error as { data?: { code?: string } }).data?.code;
  }
}

/** Sends an event and waits for its ack. */
export async function request(socket: Socket, event: string, payload: unknown): Promise<Ack> {
  return (await socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck(event, payload)) as Ack;
}

/** Every `event` the socket receives from now on, in order. */
export function record<T = Record<string, unknown>>(socket: Socket, event: string): T[] {
  const received: T[] = [];
  socket.on(event, (payload: T) => received.push(payload));
  return received;
}

/** Waits until a recorded list holds an entry matching `predicate`, and returns it. */
export async function waitForEntry<T>(
  list: readonly T[],
  predicate: (entry: T) => boolean,
  what: string,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<T> {
  return waitFor(what, async () => list.find(predicate), timeoutMs);
}

/** Resolves when the socket is disconnected, with the reason. */
export function disconnection(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    if (socket.disconnected) resolve('already disconnected');
    else socket.once('disconnect', (reason) => resolve(reason));
  });
}

export interface FollowedMessage {
  id: string;
  conversationId: string;
  seq: number;
}

/**
 * A client that follows conversations the way docs/api.md asks of one: it keeps every message
 * it receives, live (`message:new`) or through catch-up (`sync`), once by id, and catches up
 * from the newest message it holds without a gap whenever the gateway says `quad:resync`. Catch-up failures
 * are kept in `failures` (a test waiting for messages reports them).
 */
export function followConversations(socket: Socket, conversationIds: readonly string[]) {
  const messages = new Map<string, FollowedMessage>();
  const failures: string[] = [];
  let resyncs = 0;
  const keep = (message: FollowedMessage) => {
    if (!messages.has(message.id)) messages.set(message.id, message);
  };
  /** Where to catch up from: the newest message with no gap in `seq` before it (seq has no
   *  gaps, so a jump means live messages arrived after some were missed). */
  const newestIn = (conversationId: string) => {
    const held = [...messages.values()]
      .filter((message) => message.conversationId === conversationId)
      .sort((a, b) => a.seq - b.seq);
    let resume = held[0];
    for (const message of held.slice(1)) {
      if (resume && message.seq !== resume.seq + 1) break;
      resume = message;
    }
    return resume?.id ?? null;
  };
  const catchUp = async () => {
    let pending = [...conversationIds];
    while (pending.length > 0) {
      const reply = await request(socket, 'sync', {
        conversations: pending.map((conversationId) => ({
          conversationId,
          lastMessageId: newestIn(conversationId),
        })),
      });
      if (!reply.ok) throw new Error(`sync refused: ${JSON.stringify(reply.error)}`);
      const answers = reply.conversations as Array<{
        conversationId: string;
        messages?: FollowedMessage[];
        complete?: boolean;
        error?: unknown;
      }>;
      for (const answer of answers) {
        if (answer.error)
          failures.push(`${answer.conversationId}: ${JSON.stringify(answer.error)}`);
        for (const message of answer.messages ?? []) keep(message);
      }
      pending = answers
        .filter((answer) => answer.complete === false)
        .map((answer) => answer.conversationId);
    }
  };
  socket.on('message:new', ({ message }: { message: FollowedMessage }) => keep(message));
  socket.on('quad:resync', () => {
    resyncs++;
    catchUp().catch((error: unknown) => failures.push(String(error)));
  });
  return {
    messages,
    failures,
    /** How many `quad:resync` notices arrived. */
    get resyncs() {
      return resyncs;
    },
    /** Which of `ids` this client holds. */
    holds: (ids: readonly string[]) => ids.filter((id) => messages.has(id)),
  };
}
