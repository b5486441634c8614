/*
 * Recognises "PostgreSQL cannot be reached" among the errors a request can end with, so the
 * edge answers 503 service_unavailable (retry later) instead of 500 (our bug).
 */

/** Socket-level failures: refused, reset, unreachable, timed out. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs PostgreSQL sends while it cannot serve: class 08 (connection exception),
 *  shutting down or starting up, out of connection slots. */
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300']);

/** pg's own messages for a connection that could not be made or was lost. */
const unavailableMessages = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'connection timeout',
  'Client has encountered a connection error',
];

export function isPostgresUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (networkCodes.has(code) || unavailableStates.has(code) || code.startsWith('08')) {
      return true;
    }
  }
  if (unavailableMessages.some((message) => error.message.includes(message))) return true;
  // AggregateError from a connection attempt to several addresses (IPv4 and IPv6).
  if (error instanceof AggregateError) return error.errors.some(isPostgresUnavailable);
  return false;
}
