import { loadDatabaseConfig, loadOrExit } from '../../lib/config/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';

// The `quad` command line: operational commands run by hand, by compose or by make.
const usage = `Usage: quad <command>

Commands:
  migrate    apply pending PostgreSQL migrations (safe to run concurrently and repeatedly)
`;

const [command] = process.argv.slice(2);

switch (command) {
  case 'migrate': {
    const config = loadOrExit(() => loadDatabaseConfig());
    const logger = createLogger('cli', config.logLevel);
    try {
      const applied = await runMigrations(config.postgres.connectionString, logger);
      logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
    } catch (error) {
      logger.fatal({ err: error }, 'migration failed');
      process.exitCode = 1;
    }
    break;
  }
  case undefined:
  case '-h':
  case '--help':
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(`quad: unknown command "${command}"\n\n${usage}`);
    process.exitCode = 64;
}
