import { type Logger, pino } from 'pino';
import { logTraceFields } from './trace-context.js';

export type { Logger };

/**
 * Structured JSON logs on stdout, one object per line, with the service name on every line.
 * Secrets never reach a log: anything under these keys is replaced before serialisation.
 * A line written inside a traced operation carries its trace_id and span_id, so a trace in
 * Jaeger leads to its log lines and back.
 */
export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: logTraceFields,
    redact: {
      paths: ['password', '*.password', 'connectionString', '*.connectionString', 'authorization'],
      censor: '[redacted]',
    },
  });
}
