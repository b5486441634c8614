import type { Server } from 'node:http';

/** Listens and resolves once bound, rejecting on e.g. EADDRINUSE instead of crashing later. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Stops accepting connections and waits for in-flight requests to finish. Idle keep-alive
 * connections are closed at once (they would otherwise hold `close` open until they time out);
 * the caller's shutdown budget bounds the wait for busy ones.
 */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
