import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export interface TestPostgresServer {
  port: number;
  user: string;
  password: string;
  /** postgres://user:password@127.0.0.1:port/database */
  url(database?: string): string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** Creates an empty database `name` through the server at `adminUrl` (any database of it);
 *  returns the new database's URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** initdb, postgres, pg_dump: Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH. */
export function postgresBinary(name: 'initdb' | 'postgres' | 'pg_dump'): string {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', name)))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], 'bin', name);
  }
  return name;
}

/** Every row of the database as pg_dump writes it: what a backup would hold. */
export function dumpData(databaseUrl: string): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    execFile(
      postgresBinary('pg_dump'),
      ['--data-only', '--dbname', databaseUrl],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    ),
  );
}

/**
 * PostgreSQL refuses to run as root. When the tests run as root (CI), the server runs as the
 * `postgres` system user through setpriv, which execs in place so signals reach postgres itself.
 */
function asServerUser(command: string, args: string[]): [string, string[], number | undefined] {
  if (process.getuid?.() !== 0) return [command, args, undefined];
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  return [
    'setpriv',
    ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args],
    uid,
  ];
}

/**
 * A real PostgreSQL cluster on a free port in a temporary directory, with password
 * (scram-sha-256) authentication like production, and durability settings relaxed for speed.
 */
export async function startPostgresServer(): Promise<TestPostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'quad-test-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const user = 'quad';
  const password = randomBytes(18).toString('hex');
  const passwordFile = join(dir, 'pwfile');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });

  const [initCommand, initArgs, uid] = asServerUser(postgresBinary('initdb'), [
    '-D',
    data,
    '-U',
    user,
    '--auth=scram-sha-256',
    `--pwfile=${passwordFile}`,
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  if (uid !== undefined) {
    chownSync(dir, uid, -1);
    chownSync(passwordFile, uid, -1);
  }
  execFileSync(initCommand, initArgs, { stdio: 'pipe' });

  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    const [command, args] = asServerUser(postgresBinary('postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ]);
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitFor(`postgres on ${port}`, async () => {
      if (child?.exitCode !== null) throw new Error(`postgres exited: ${output}`);
      const client = new pg.Client({ connectionString: url('postgres') });
      try {
        await client.connect();
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    });
  };
  const url = (database = 'postgres') =>
    `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  const stop = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGINT'); // fast shutdown: abort transactions, exit promptly
    await exited;
  };

  await start();
  return {
    port,
    user,
    password,
    url,
    stop,
    restart: start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
