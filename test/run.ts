/**
 * `npm test`: unit tests (beside the code, *.test.ts under lib/ and services/) and integration
 * tests (test/integration/) in one node:test run. Before the run it starts the shared real
 * servers the integration tests use, a password-protected PostgreSQL and the two Redis roles on
 * free ports in temporary directories, and it removes them afterwards, whatever happens.
 *
 *   npm test             everything
 *   npm test -- --unit   unit tests only (no servers)
 *   npm test -- FILE...  just these files (servers started if any is an integration test)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import {
  ANSWERS_DIRECTORY_VARIABLE,
  type AnswerRecord,
  type OpenApiDocument,
  undocumentedAnswer,
} from './harness/documented-answers.js';
import type { TestPostgresServer } from './harness/postgres-server.js';
import type { TestRedisServer } from './harness/redis-server.js';
import { startSharedServers } from './harness/shared-servers.js';
import { SHARED_SERVERS_VARIABLE } from './harness/test-environment.js';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const explicit = args.filter((arg) => !arg.startsWith('--')).map((file) => resolve(file));

function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => join(root, dir, file))
    .sort();
}

const unitFiles = [...testFiles('lib'), ...testFiles('services')];
const integrationFiles = testFiles('test/integration');
const files =
  explicit.length > 0 ? explicit : unitOnly ? unitFiles : [...unitFiles, ...integrationFiles];
const needsServers = files.some((file) => file.startsWith(join(root, 'test', 'integration')));

const started: Array<TestPostgresServer | TestRedisServer> = [];
const answersDirectory = mkdtempSync(join(tmpdir(), 'quad-answers-'));
async function cleanUp() {
  await Promise.allSettled(started.map((server) => server.dispose()));
  rmSync(answersDirectory, { recursive: true, force: true });
}

/**
 * Every answer the integration tests received through the API client, checked against the
 * OpenAPI document of the api that gave it: a status or problem code the document does not list
 * fails the run, so the document stays complete as routes and errors are added. Returns the
 * number of undocumented answers.
 */
function checkRecordedAnswers(): number {
  const files = readdirSync(answersDirectory);
  const documents = new Map<string, OpenApiDocument>();
  for (const file of files.filter((name) => name.endsWith('.document.json'))) {
    const text = readFileSync(join(answersDirectory, file), 'utf8');
    documents.set(file.replace(/\.document\.json$/, ''), JSON.parse(text) as OpenApiDocument);
  }
  const problems = new Set<string>();
  let checked = 0;
  let unchecked = 0;
  for (const file of files.filter((name) => name.endsWith('.answers.jsonl'))) {
    for (const line of readFileSync(join(answersDirectory, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const answer = JSON.parse(line) as AnswerRecord;
      const document = documents.get(answer.documentId);
      if (!document) {
        unchecked += 1;
        continue;
      }
      checked += 1;
      const problem = undocumentedAnswer(document, answer);
      if (problem) problems.add(problem);
    }
  }
  if (checked + unchecked === 0) return 0;
  console.log(
    `${checked} recorded api answers checked against the OpenAPI document (${unchecked} unchecked: the api's document could not be read), ${problems.size} undocumented`,
  );
  for (const problem of problems) console.error(`undocumented answer: ${problem}`);
  return problems.size;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void cleanUp().then(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [ANSWERS_DIRECTORY_VARIABLE]: answersDirectory,
  };
  if (needsServers) {
    const t0 = performance.now();
    const { postgres, state, cache, shared } = await startSharedServers(started);
    env[SHARED_SERVERS_VARIABLE] = JSON.stringify(shared);
    console.log(
      `test servers ready in ${Math.round(performance.now() - t0)} ms: postgres :${postgres.port}, redis :${state.port}, redis-cache :${cache.port}`,
    );
  }
  console.log(
    `running ${files.length} test files: ${files.map((f) => relative(root, f)).join(' ')}`,
  );
  exitCode = await new Promise<number>((resolveExit) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        // A test that hangs (a dependency that never answers) fails after this instead of
        // holding the run forever; the slowest real test takes under a minute.
        '--test-timeout=180000',
        // A file whose tests are done exits even if a client it leaked keeps an event-loop
        // handle (the leak is a bug to fix, but it must not hang CI).
        '--test-force-exit',
        ...files,
      ],
      { cwd: root, env, stdio: 'inherit' },
    );
    child.once('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
  });
  if (checkRecordedAnswers() > 0 && exitCode === 0) exitCode = 1;
} catch (error) {
  console.error('test run failed to start:', error);
} finally {
  await cleanUp();
}
process.exit(exitCode);
