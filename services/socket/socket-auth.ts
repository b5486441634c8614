import type { Server, Socket } from 'socket.io';
import type { AuthenticatedSession, SessionService } from '../../lib/accounts/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import type { SocketMetrics } from './socket-metrics.js';

/** What the handshake proved, kept on the socket for its lifetime. */
export interface SocketIdentity {
  userId: string;
  sessionId: string;
  /** Kept to re-check the session on an interval; it is the same bearer the client holds. */
  token: string;
}

export function identityOf(socket: Socket): SocketIdentity {
  return socket.data as SocketIdentity;
}

const bearer = /^Bearer ([^\s]+)$/i;

/** The session token from `auth: { token }` (browsers) or `Authorization: Bearer` (others). */
function presentedToken(socket: Socket): string | undefined {
  const auth = socket.handshake.auth as Record<string, unknown> | undefined;
  if (typeof auth?.token === 'string' && auth.token.length > 0) return auth.token;
  const header = socket.handshake.headers.authorization;
  return typeof header === 'string' ? bearer.exec(header)?.[1] : undefined;
}

/** A refused handshake: the client's `connect_error` carries `message` and `data.code`. */
function refusal(code: 'authentication_required' | 'invalid_credentials' | 'unavailable') {
  const messages = {
    authentication_required: 'a session token is required (auth.token)',
    invalid_credentials: 'the session is invalid, expired or revoked',
    unavailable: 'sessions cannot be checked right now; retry shortly',
  };
  return Object.assign(new Error(messages[code]), { data: { code } });
}

/**
 * The handshake carries the API's session token; the same SessionService checks it (warm:
 * one Redis GET). Sockets are put in their user's and session's rooms, which is how a
 * revocation published by the api disconnects them on every instance.
 */
export function authenticateHandshakes(
  io: Server,
  deps: { sessions: SessionService; metrics: SocketMetrics; logger: Logger },
): void {
  io.use((socket, next) => {
    const token = presentedToken(socket);
    if (!token) {
      deps.metrics.handshakes.inc({ result: 'authentication_required' });
      next(refusal('authentication_required'));
      return;
    }
    deps.sessions.authenticate(token).then(
      (session: AuthenticatedSession | undefined) => {
        if (!session) {
          deps.metrics.handshakes.inc({ result: 'invalid_credentials' });
          next(refusal('invalid_credentials'));
          return;
        }
        const identity: SocketIdentity = {
          userId: session.userId,
          sessionId: session.sessionId,
          token,
        };
        socket.data = identity;
        deps.metrics.handshakes.inc({ result: 'accepted' });
        next();
      },
      (error: unknown) => {
        deps.logger.warn({ err: error }, 'socket handshake could not check the session');
        deps.metrics.handshakes.inc({ result: 'unavailable' });
        next(refusal('unavailable'));
      },
    );
  });
}

/**
 * Re-checks the session of every socket on this instance on an interval (each distinct
 * session once), and disconnects those no longer valid. Revocation normally disconnects at
 * once through Redis (RealtimePublisher); this covers an announcement lost while Redis was
 * down, and a session that simply expired. Returns the stop function for shutdown.
 */
export function recheckSessions(
  io: Server,
  deps: {
    sessions: SessionService;
    logger: Logger;
    disconnect: (socket: Socket, code: 'session_revoked', detail: string) => void;
    intervalMs?: number;
  },
): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return; // a slow round (PostgreSQL down) never piles up
    running = true;
    try {
      const byToken = new Map<string, Socket[]>();
      for (const socket of io.of('/').sockets.values()) {
        const { token } = identityOf(socket);
        byToken.set(token, [...(byToken.get(token) ?? []), socket]);
      }
      for (const [token, sockets] of byToken) {
        let session: AuthenticatedSession | undefined;
        try {
          session = await deps.sessions.authenticate(token);
        } catch {
          continue; // cannot tell now: keep the connection, check again next round
        }
        if (session) continue;
        for (const socket of sockets) {
          deps.disconnect(socket, 'session_revoked', 'the session expired or was revoked');
        }
      }
    } catch (error) {
      deps.logger.warn({ err: error }, 'session re-check failed');
    } finally {
      running = false;
    }
  }, deps.intervalMs ?? policy.realtime.sessionRecheckMs);
  timer.unref();
  return () => clearInterval(timer);
}
