import type { ServerResponse } from 'node:http';
import type { ProblemCode } from './problem-codes.js';

/** RFC 9457 problem details with Quad's stable machine-readable `code`. */
export interface Problem {
  status: number;
  /** Stable identifier clients switch on, e.g. `not_found`. Never reworded; one of the
   *  table in problem-codes.ts, which gives its status. */
  code: ProblemCode;
  title: string;
  detail?: string;
  [extension: string]: unknown;
}

export function sendProblem(res: ServerResponse, problem: Problem): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(problem.status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: `https://quad.dev/problems/${problem.code}`, ...problem }));
}
