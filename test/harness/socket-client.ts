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
  options: { reconnection?: boolean } = {},
): Promise<Socket> {
  const socket = io(baseUrl, {
    transports: ['websocket'],
    reconnection: options.reconnection ?? false,
    auth: token === undefined ? {} : { token },
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
