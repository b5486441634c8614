import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { publicAddressLookup } from './webhook-address.js';

/** What the worker sends deliveries through: one POST, answered by a status code. */
export interface WebhookTransport {
  /** Resolves with the receiver's status code; rejects on a network error, a refused address
   *  (InternalAddressError) or the timeout (a TimeoutError). */
  post(
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<number>;
  close(): void;
}

/**
 * node:http and node:https with agents whose every connection looks its host up through
 * publicAddressLookup: the address actually dialled is the one checked. No connection is kept
 * alive, so each delivery resolves its host again and is checked again.
 *
 * Redirects are never followed (node:http does not): a 3xx answer is a failed attempt, like
 * any other non-2xx, so a receiver cannot bounce the worker to a host it may not reach.
 */
export function createWebhookTransport(
  allowedHosts: readonly string[] | undefined,
): WebhookTransport {
  const lookup = publicAddressLookup(allowedHosts);
  const agents = {
    http: new HttpAgent({ keepAlive: false, lookup }),
    https: new HttpsAgent({ keepAlive: false, lookup }),
  };
  return {
    post(url, body, headers, timeoutMs) {
      const target = new URL(url);
      const https = target.protocol === 'https:';
      const send = https ? httpsRequest : httpRequest;
      const signal = AbortSignal.timeout(timeoutMs);
      return new Promise<number>((resolve, reject) => {
        const request = send(
          target,
          {
            method: 'POST',
            agent: https ? agents.https : agents.http,
            headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
            signal,
          },
          (response) => {
            // The answer's body is not read: a receiver's page must not fill the worker's memory.
            response.destroy();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', (error) => reject(signal.aborted ? signal.reason : error));
        request.end(body);
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
