import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { problemFor } from './problem-codes.js';

/** Node's parser errors that mean "this request is too big or malformed", and the answer. */
function problemForParserError(code: string | undefined) {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return problemFor('request_headers_too_large', {
      detail:
        'The request line and headers together are limited to 16 KB; send long values in a body.',
    });
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return problemFor('request_timeout', { detail: 'The request took too long to arrive.' });
  }
  return problemFor('bad_request', { detail: 'The request is not valid HTTP/1.1.' });
}

/**
 * Answers requests that Node's HTTP parser refuses before Express sees them (headers over the
 * 16 KB limit, malformed request lines) with application/problem+json and a stable `code`,
 * like every other error, instead of Node's bare status line. The connection is closed after
 * the answer: the parser cannot find where the next request starts.
 */
export function answerClientErrorsWithProblems(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // A reset or a half-written request on a connection that is already gone: nothing to say.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const problem = problemForParserError(error.code);
    const body = JSON.stringify({ type: `https://quad.dev/problems/${problem.code}`, ...problem });
    socket.end(
      [
        `HTTP/1.1 ${problem.status} ${problem.title}`,
        'Content-Type: application/problem+json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  });
}
