import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Closes each new connection at once, until release(), and cuts the open ones too unless
   *  `keepOpen`: for the process behind it the server is unreachable (or, with `keepOpen`,
   *  reachable only over the connections it already has), while everyone else still reaches it. */
  hold(options?: { keepOpen?: boolean }): void;
  release(): void;
  /** Stops reading from the target on the connections open now (new ones flow): for the
   *  target, a client that stopped reading; its writes back up once the kernel buffers fill. */
  stall(): void;
  /** Reads from the target again on the stalled connections (what it sent meanwhile, then
   *  its close if it closed one: the client behind learns of it only now). */
  resume(): void;
  /** The local ports of the open connections to the target: how the target sees them (the
   *  `addr` of CLIENT LIST, for Redis). */
  upstreamPorts(): number[];
  close(): Promise<void>;
}

/**
 * A TCP relay on 127.0.0.1 to `targetPort`, so that a test can cut one process off a server
 * (one gateway off Redis) or make a client stop reading, without touching the server or the
 * process: a network partition or a frozen client, not a test hook in production code.
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  /** Each open connection to the target, and the client it relays to. */
  const upstreams = new Map<Socket, Socket>();
  const stalled = new Set<Socket>();
  let held = false;
  const server = createServer((client) => {
    if (held) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    upstreams.set(upstream, client);
    upstream.on('close', () => {
      upstreams.delete(upstream);
      stalled.delete(upstream);
    });
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(socket);
      socket.pipe(peer);
      socket.on('error', () => peer.destroy());
      socket.on('close', () => {
        open.delete(socket);
        peer.destroy();
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no port');
  return {
    port: address.port,
    hold(options = {}) {
      held = true;
      if (!options.keepOpen) for (const socket of open) socket.destroy();
    },
    release() {
      held = false;
    },
    stall() {
      for (const upstream of upstreams.keys()) {
        upstream.unpipe();
        upstream.pause();
        stalled.add(upstream);
      }
    },
    resume() {
      for (const upstream of stalled) {
        const client = upstreams.get(upstream);
        if (client) upstream.pipe(client);
        upstream.resume();
      }
      stalled.clear();
    },
    upstreamPorts: () =>
      [...upstreams.keys()].flatMap((socket) =>
        socket.localPort === undefined ? [] : [socket.localPort],
      ),
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
