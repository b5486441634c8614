import { parseArgs } from 'node:util';
import { loadDatabaseConfig, loadOrExit, loadServiceConfig } from '../../lib/config/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import type { Runtime } from '../../lib/runtime/index.js';
import { jobsCommand, jobsUsage } from './jobs-command.js';
import { seedCommand, seedUsage } from './seed-command.js';

// The `quad` command line: operational commands run by hand, by compose or by make.
const usage = `Usage: quad <command>

Commands:
  migrate    apply pending PostgreSQL migrations (safe to run concurrently and repeatedly)
  admin create --username NAME --email ADDRESS --display-name "FULL NAME"
             create an admin account (the first one, or another); the password is read from
             QUAD_ADMIN_PASSWORD, else from standard input (typed hidden on a terminal)
${jobsUsage}
${seedUsage}

Exit status: 0 done, 1 failed (e.g. the username or email is taken), 64 usage error,
65 weak password, 78 invalid configuration.
`;

/** sysexits.h: the command line was wrong / the data given was not acceptable. */
const EX_USAGE = 64;
const EX_DATAERR = 65;

function fail(message: string, status: number): void {
  process.stderr.write(`quad: ${message}\n`);
  process.exitCode = status;
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    process.stderr.write(question);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}

async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  // `echo secret | quad ...` and here-strings end with one newline that is not the password's.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function readAdminPassword(): Promise<string | undefined> {
  const fromEnvironment = process.env.QUAD_ADMIN_PASSWORD;
  if (fromEnvironment !== undefined && fromEnvironment !== '') return fromEnvironment;
  if (!process.stdin.isTTY) return readStandardInput();
  const password = await promptHidden('Password for the new admin: ');
  const again = await promptHidden('Repeat it: ');
  return password === again ? password : undefined;
}

/** The jobs commands act as the worker does: its configuration, and the pool and Redis client
 *  they use, owned by one runtime like a service's (closed by the command when it is done). */
async function openWorkerRuntime(): Promise<Runtime> {
  const config = loadOrExit(() => loadServiceConfig('worker'));
  // Loaded here for the reason adminCreate gives: the runtime reaches argon2 through accounts.
  const [{ Registry }, { Runtime }] = await Promise.all([
    import('prom-client'),
    import('../../lib/runtime/index.js'),
  ]);
  return new Runtime({
    name: 'cli',
    config,
    logger: createLogger('cli', config.logLevel),
    metrics: new Registry(),
  });
}

async function adminCreate(args: string[]): Promise<void> {
  // Loaded here, not at the top: `quad migrate` runs on every start of every deployment, and
  // must not depend on what it does not use (argon2's native binding above all).
  const [{ z }, accounts, { createPostgresPool }] = await Promise.all([
    import('zod'),
    import('../../lib/accounts/index.js'),
    import('../../lib/postgres/postgres-pool.js'),
  ]);
  const { AccountConflictError, PasswordHasher, WeakPasswordError } = accounts;
  const adminArguments = z.strictObject({
    username: accounts.usernameField,
    email: accounts.emailField,
    'display-name': accounts.displayNameField,
  });

  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      options: {
        username: { type: 'string' },
        email: { type: 'string' },
        'display-name': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (error) {
    return fail(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`, EX_USAGE);
  }
  const parsed = adminArguments.safeParse(values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const flag = issue.path.map(String).join('.');
      return `  --${flag}: ${issue.code === 'invalid_type' ? 'is required' : issue.message}`;
    });
    return fail(`invalid arguments:\n${problems.join('\n')}`, EX_USAGE);
  }

  const password = await readAdminPassword();
  if (password === undefined) return fail('the two passwords differ', EX_DATAERR);

  const config = loadOrExit(() => loadDatabaseConfig());
  const logger = createLogger('cli', config.logLevel);
  const postgres = createPostgresPool(config.postgres, 'quad-cli', logger);
  try {
    const account = await accounts.registerAccount(postgres, new PasswordHasher(), {
      username: parsed.data.username,
      email: parsed.data.email,
      displayName: parsed.data['display-name'],
      role: 'admin',
      password,
    });
    process.stdout.write(`created admin ${account.username} (${account.id})\n`);
  } catch (error) {
    if (error instanceof WeakPasswordError) {
      fail(`password refused: ${error.problems.join('; ')}`, EX_DATAERR);
    } else if (error instanceof AccountConflictError) {
      fail(`an account with this ${error.field} already exists; nothing was changed`, 1);
    } else if ((error as { code?: unknown }).code === '42P01') {
      fail('the database has no accounts table yet: run `quad migrate` first', 1);
    } else {
      logger.fatal({ err: error }, 'admin create failed');
      process.exitCode = 1;
    }
  } finally {
    await postgres.end();
  }
}

const [command, ...rest] = process.argv.slice(2);

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
  case 'admin': {
    const [subcommand, ...args] = rest;
    if (subcommand === 'create') await adminCreate(args);
    else fail(`unknown admin command "${subcommand ?? ''}"\n\n${usage}`, EX_USAGE);
    break;
  }
  case 'jobs': {
    const outcome = await jobsCommand(rest, usage, openWorkerRuntime);
    if (outcome.ok) process.stdout.write(outcome.output === '' ? '' : `${outcome.output}\n`);
    else fail(outcome.message, outcome.status);
    break;
  }
  case 'seed': {
    const outcome = await seedCommand(rest, usage, openWorkerRuntime);
    if (outcome.ok) process.stdout.write(`${outcome.output}\n`);
    else fail(outcome.message, outcome.status);
    break;
  }
  case undefined:
  case '-h':
  case '--help':
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(`quad: unknown command "${command}"\n\n${usage}`);
    process.exitCode = EX_USAGE;
}
