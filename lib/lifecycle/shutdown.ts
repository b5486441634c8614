import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';

interface Step {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * Graceful shutdown in the order a service needs it: stop accepting, drain in-flight work,
 * then close clients. Steps run in registration order, all within one drain budget; a step
 * that overruns is abandoned, not awaited forever. A second signal exits at once.
 */
export class Shutdown {
  private readonly steps: Step[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly budgetMs: number = policy.shutdown.drainTimeoutMs,
  ) {}

  /** Registers a step; the composition root registers them in shutdown order. */
  add(name: string, run: () => Promise<void> | void): this {
    this.steps.push({ name, run });
    return this;
  }

  /** Installs SIGTERM/SIGINT handlers and turns crashes into a logged, orderly exit. */
  listen(): this {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (this.running) {
          this.logger.warn({ signal }, 'second signal: exiting immediately');
          process.exit(130);
        }
        void this.run(`${signal} received`, 0);
      });
    }
    process.on('uncaughtException', (error) => {
      this.logger.fatal({ err: error }, 'uncaught exception');
      void this.run('uncaught exception', 1);
    });
    process.on('unhandledRejection', (reason) => {
      this.logger.fatal({ err: reason }, 'unhandled promise rejection');
      void this.run('unhandled rejection', 1);
    });
    return this;
  }

  run(reason: string, exitCode: number): Promise<void> {
    this.running ??= this.execute(reason, exitCode);
    return this.running;
  }

  private async execute(reason: string, exitCode: number): Promise<void> {
    const deadline = Date.now() + this.budgetMs;
    this.logger.info({ reason }, 'shutting down');
    let code = exitCode;
    for (const step of this.steps) {
      const remaining = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(step.run),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out')), Math.max(remaining, 0));
          }),
        ]);
        this.logger.debug({ step: step.name }, 'shutdown step done');
      } catch (error) {
        code = code || 1;
        this.logger.error({ step: step.name, err: String(error) }, 'shutdown step failed');
      } finally {
        clearTimeout(timer);
      }
    }
    this.logger.info({ exitCode: code }, 'shutdown complete');
    // pino writes synchronously to stdout by default, so nothing is lost by exiting here.
    process.exit(code);
  }
}
