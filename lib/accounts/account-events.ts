/**
 * What the accounts services announce after a PostgreSQL commit that live connections must
 * obey at once: the real-time publisher (lib/realtime/publisher.ts) disconnects the sockets
 * opened with a revoked session. The gateway also re-checks its sessions on an interval, so a
 * lost announcement (Redis down at that moment) still takes effect within that interval.
 * Implementations never reject.
 */
export interface AccountEvents {
  sessionRevoked(sessionId: string): Promise<void>;
  /** Every session of the user: "log out everywhere", or the account was deactivated. */
  allSessionsRevoked(userId: string): Promise<void>;
}

export const noAccountEvents: AccountEvents = {
  sessionRevoked: async () => {},
  allSessionsRevoked: async () => {},
};
