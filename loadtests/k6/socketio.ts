// A minimal Socket.IO v4 client over k6's WebSocket (k6/websockets), for Quad's gateway:
// Engine.IO v4 frames over one WebSocket, no polling. What it speaks:
//   server "0{...}"       Engine.IO open           -> client "40{auth}" (Socket.IO CONNECT)
//   server "40{sid}"      connected                -> onConnect
//   server "44{message}"  connection refused       -> onConnectError
//   server "2"            Engine.IO ping           -> client "3" (pong)
//   server "42[e,p]"      event                    -> the listeners of e
//   client "42<id>[e,p]"  event with an ack id     <- server "43<id>[answer]"
import { WebSocket } from 'k6/websockets';

export type Payload = Record<string, unknown>;

export interface SocketIoHandlers {
  onConnect(): void;
  onConnectError(message: string): void;
  onClose?(): void;
}

export class SocketIoClient {
  readonly #ws: WebSocket;
  readonly #listeners = new Map<string, Array<(payload: Payload) => void>>();
  readonly #acks = new Map<number, (answer: Payload) => void>();
  #nextAck = 0;

  constructor(baseUrl: string, auth: Payload, handlers: SocketIoHandlers) {
    const url = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    this.#ws = new WebSocket(url);
    this.#ws.onmessage = (event) => {
      const frame = typeof event?.data === 'string' ? event.data : '';
      if (frame.startsWith('0')) this.#ws.send(`40${JSON.stringify(auth)}`);
      else if (frame === '2') this.#ws.send('3');
      else if (frame.startsWith('40')) handlers.onConnect();
      else if (frame.startsWith('44')) handlers.onConnectError(frame.slice(2));
      else if (frame.startsWith('42')) this.#dispatch(frame.slice(2));
      else if (frame.startsWith('43')) this.#answer(frame.slice(2));
    };
    this.#ws.onclose = () => handlers.onClose?.();
    this.#ws.onerror = () => handlers.onConnectError('websocket error');
  }

  on(event: string, listener: (payload: Payload) => void): void {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
  }

  emit(event: string, payload: Payload): void {
    this.#ws.send(`42${JSON.stringify([event, payload])}`);
  }

  emitWithAck(event: string, payload: Payload, onAnswer: (answer: Payload) => void): void {
    const id = this.#nextAck++;
    this.#acks.set(id, onAnswer);
    this.#ws.send(`42${id}${JSON.stringify([event, payload])}`);
  }

  close(): void {
    this.#ws.close();
  }

  #dispatch(body: string) {
    const [event, payload] = JSON.parse(body) as [string, Payload];
    for (const listener of this.#listeners.get(event) ?? []) listener(payload);
  }

  #answer(body: string) {
    const digits = /^\d+/.exec(body)?.[0] ?? '';
    const callback = this.#acks.get(Number(digits));
    if (!callback) return;
    this.#acks.delete(Number(digits));
    const [answer] = JSON.parse(body.slice(digits.length)) as [Payload];
    callback(answer);
  }
}
