/**
 * `npm test`: unit tests (beside the code, *.test.ts under lib/, services/ and loadtests/) and integration
 * tests (test/integration/) in one node:test run. Before the run it starts the shared real
 * servers the integration tests use, a password-protected PostgreSQL and the two Redis roles on
 * free ports in temporary directories, and it removes them afterwards, whatever happens.
 *
 *   npm test             everything
 *   npm test -- --unit   unit tests only (no servers)
 *   npm test -- FILE...  just these files (servers started if any is an integration test)
 *
 * With QUAD_TEST_REDIS=cluster (`make test-cluster`) the shared Redis roles are Redis Clusters
 * (3 masters with a replica each for the state role, 3 masters for the cache), and the default
 * files are the cluster suite: the integration tests that reach Redis through the services
 * (clusterSuite below) plus test/cluster/.
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
import { startPostgresServer, type TestPostgresServer } from './harness/postgres-server.js';
import { startRedisCluster, type TestRedisCluster } from './harness/redis-cluster.js';
import { startRedisServer, type TestRedisServer } from './harness/redis-server.js';
import {
  redisTopology,
  SHARED_SERVERS_VARIABLE,
  type SharedServers,
} from './harness/test-environment.js';

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

/**
 * The integration tests that run on Redis Cluster too: every file whose Redis traffic goes
 * through Quad's own services and runtime (so the cluster client, slot batches, sharded
 * adapter and emitter are what is tested). The rest test one redis-server's failure modes
 * (a stopped, hung or flushed server, ACL files, command statistics) through private servers.
 */
const clusterSuite = [
  'accounts',
  'api-input-surface',
  'conversations',
  'search',
  'socket-gateway',
  'socket-presence',
  'worker-queue',
].map((name) => join(root, 'test', 'integration', `${name}.test.ts`));

const topology = redisTopology();
// The load runner's own unit tests sit at the top of loadtests/ (not recursive: its
// node_modules, when the load targets have installed it, is Artillery's).
const loadRunnerFiles = readdirSync(join(root, 'loadtests'))
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => join(root, 'loadtests', file));
const unitFiles = [...testFiles('lib'), ...testFiles('services'), ...loadRunnerFiles.sort()];
const integrationFiles = testFiles('test/integration');
const defaultFiles =
  topology === 'cluster'
    ? [...clusterSuite, ...testFiles('test/cluster')]
    : [...unitFiles, ...integrationFiles];
const files = explicit.length > 0 ? explicit : unitOnly ? unitFiles : defaultFiles;
const needsServers = files.some(
  (file) =>
    file.startsWith(join(root, 'test', 'integration')) ||
    file.startsWith(join(root, 'test', 'cluster')),
);

const started: Array<TestPostgresServer | TestRedisServer | TestRedisCluster> = [];
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
    const postgresStarting = startPostgresServer();
    // Stopped in cleanUp even when a Redis fails to start first.
    void postgresStarting.then(
      (postgres) => started.includes(postgres) || started.push(postgres),
      () => undefined,
    );
    let redis: SharedServers['redis'];
    let redisCache: SharedServers['redisCache'];
    if (topology === 'cluster') {
      const state = await startRedisCluster('state', { masters: 3, replicasPerMaster: 1 });
      started.push(state);
      const cache = await startRedisCluster('cache', {
        masters: 3,
        replicasPerMaster: 0,
        sharedPasswords: state.passwords,
      });
      started.push(cache);
      redis = {
        port: state.nodes[0]?.port ?? 0,
        passwords: state.passwords,
        clusterNodes: state.seedNodes,
      };
      redisCache = {
        port: cache.nodes[0]?.port ?? 0,
        passwords: cache.passwords,
        clusterNodes: cache.seedNodes,
      };
    } else {
      const state = await startRedisServer('state');
      started.push(state);
      const cache = await startRedisServer('cache', state.passwords);
      started.push(cache);
      redis = { port: state.port, passwords: state.passwords };
      redisCache = { port: cache.port, passwords: cache.passwords };
    }
    const postgres = await postgresStarting;
    const shared: SharedServers = {
      postgres: {
        url: postgres.url('postgres'),
        port: postgres.port,
        user: postgres.user,
        password: postgres.password,
      },
      redis,
      redisCache,
    };
    env[SHARED_SERVERS_VARIABLE] = JSON.stringify(shared);
    console.log(
      `test servers ready in ${Math.round(performance.now() - t0)} ms: postgres :${postgres.port}, ${
        topology === 'cluster'
          ? `redis cluster ${redis.clusterNodes}, redis-cache cluster ${redisCache.clusterNodes}`
          : `redis :${redis.port}, redis-cache :${redisCache.port}`
      }`,
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
        // holding the run forever. Node applies it to each file as a whole too: the slowest
        // file (test/integration/dev-stack.test.ts, four starts of the whole native stack, the
        // last with 2 apis and 3 gateways) takes about two minutes on a quiet 2-core machine.
        '--test-timeout=300000',
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
