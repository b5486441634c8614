import type { Socket } from 'socket.io';

/**
 * A bound on what one connection may have waiting to be written.
 *
 * engine.io queues every packet for a connection in its write buffer and hands the buffer to
 * the transport whenever the transport has finished its previous write ('flush'). A client
 * that stops reading never finishes a write once the kernel's buffers are full, so its buffer
 * grows with every event of its rooms, without limit. This counts the packets created since
 * the last flush (engine.io's public `packetCreate` and `flush` events) and, past `maxFrames`,
 * cuts the connection at once.
 *
 * Why cut rather than drop frames and send a catch-up hint (`quad:resync`): the hint would
 * wait behind the very backlog it is about, and a filter that drops a slow connection's
 * frames would also drop the acks of its own requests (sends, joins), which would then hang.
 * A cut needs nothing new from clients: once the client reads again it sees the connection
 * closed, reconnects (Socket.IO clients do so by themselves after a transport close) and runs
 * the catch-up every client already runs after a reconnect (`sync` from its last message,
 * unread counts, receipts). Centrifugo does the same past 1 MiB per connection.
 *
 * Why not a graceful disconnect: engine.io's close waits for the write buffer to drain, which
 * for this client never happens; so the transport is discarded, and a WebSocket is terminated
 * (its TCP connection destroyed) rather than sent a close frame that would queue behind the
 * backlog for ws's 30 s close timeout.
 */
export function boundOutgoingQueue(
  socket: Socket,
  options: { maxFrames: number; onOverflow: (queued: number) => void },
): void {
  const connection = socket.conn;
  let queued = 0;
  let cut = false;
  connection.on('packetCreate', () => {
    queued++;
    if (queued <= options.maxFrames || cut) return;
    cut = true;
    options.onOverflow(queued);
    terminateTransport(connection.transport);
    connection.close(true);
  });
  connection.on('flush', () => {
    queued = 0;
  });
}

/** Destroys a WebSocket transport's TCP connection at once (the `ws` socket's terminate());
 *  other transports (HTTP long-polling) have none held open to destroy. */
function terminateTransport(transport: unknown): void {
  const webSocket: unknown = Reflect.get(Object(transport), 'socket');
  const terminate: unknown = webSocket ? Reflect.get(Object(webSocket), 'terminate') : undefined;
  if (typeof terminate === 'function') Reflect.apply(terminate, webSocket, []);
}
