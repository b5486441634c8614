import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout, one object per line, with the service name on every line.
 * Secrets never reach a log: anything under these keys is replaced before serialisation.
 */
export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['password', '*.password', 'connectionString', '*.connectionString', 'authorization'],
      censor: '[redacted]',
    },
  });
}
