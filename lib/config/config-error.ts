/** One problem with one environment variable. `variable` is always the name an operator sets. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Thrown when the environment is invalid; lists every problem at once, never a value. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      [
        `Invalid configuration for quad ${service} (${problems.length} problem${problems.length === 1 ? '' : 's'}):`,
        ...problems.map((p) => `  - ${p.variable}: ${p.message}`),
        'See .env.example and docs/configuration.md.',
      ].join('\n'),
    );
    this.name = 'ConfigError';
  }
}
