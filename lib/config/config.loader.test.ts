import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDatabaseConfig, loadServiceConfig } from './config.loader.js';
import { ConfigError } from './config-error.js';

const minimal = {
  REDIS_PASSWORD: 'redis-secret',
  POSTGRES_PASSWORD: 'pg-secret',
  WEBHOOK_SECRET_KEY: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
};

function problemsOf(load: () => unknown): Map<string, string> {
  try {
    load();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return new Map(error.problems.map((p) => [p.variable, p.message]));
  }
  assert.fail('expected the configuration to be rejected');
}

describe('loadServiceConfig', () => {
  it('resolves the host profile to 127.0.0.1 and the published ports', () => {
    const config = loadServiceConfig('api', {
      ...minimal,
      REDIS_PORT: '16379',
      REDIS_CACHE_PORT: '16380',
      POSTGRES_PORT: '15432',
      API_PORT: '4000',
    });
    assert.equal(config.profile, 'host');
    assert.deepEqual(
      [config.redis.state.host, config.redis.state.port, config.redis.cache.port],
      ['127.0.0.1', 16379, 16380],
    );
    assert.equal(config.redis.state.username, 'api');
    assert.equal(
      config.postgres.connectionString,
      'postgres://quad:pg-secret@127.0.0.1:15432/quad',
    );
    assert.deepEqual(config.http, { host: '127.0.0.1', port: 4000 });
    assert.equal(config.livekit.url, 'ws://127.0.0.1:7880');
  });

  it('resolves the container profile to service names and internal ports', () => {
    const config = loadServiceConfig('socket', {
      ...minimal,
      QUAD_PROFILE: 'container',
      REDIS_PORT: '16379', // published ports do not matter inside the network
      POSTGRES_PORT: '15432',
    });
    assert.deepEqual([config.redis.state.host, config.redis.state.port], ['redis', 6379]);
    assert.deepEqual([config.redis.cache.host, config.redis.cache.port], ['redis-cache', 6379]);
    assert.match(config.postgres.connectionString, /@postgres:5432\/quad$/);
    assert.equal(config.livekit.url, 'ws://livekit:7880');
    assert.deepEqual(config.http, { host: '0.0.0.0', port: 3001 });
    assert.equal(config.redis.state.username, 'socket');
  });

  it('hands clients LIVEKIT_PUBLIC_URL (a URL, or a path on the edge), else the server URL', () => {
    const server = { ...minimal, LIVEKIT_URL: 'ws://10.0.0.7:7880' };
    assert.equal(loadServiceConfig('api', server).livekit.publicUrl, 'ws://10.0.0.7:7880');
    const edgePath = loadServiceConfig('api', { ...server, LIVEKIT_PUBLIC_URL: '/livekit/' });
    assert.deepEqual(
      [edgePath.livekit.url, edgePath.livekit.publicUrl],
      ['ws://10.0.0.7:7880', '/livekit'],
    );
    assert.equal(
      loadServiceConfig('api', {
        ...server,
        LIVEKIT_PUBLIC_URL: 'wss://quad.school.example/livekit',
      }).livekit.publicUrl,
      'wss://quad.school.example/livekit',
    );
    for (const wrong of ['https://quad.school.example', '//evil.example', 'livekit', '/a b']) {
      const problems = problemsOf(() =>
        loadServiceConfig('api', { ...server, LIVEKIT_PUBLIC_URL: wrong }),
      );
      assert.deepEqual([...problems.keys()], ['LIVEKIT_PUBLIC_URL'], wrong);
    }
  });

  it('takes a Redis Cluster as a list of seed nodes for each role', () => {
    const config = loadServiceConfig('worker', {
      ...minimal,
      REDIS_CLUSTER_NODES: 'redis-1:7000, redis-2:7001,[::1]:7002',
      REDIS_CACHE_CLUSTER_NODES: '10.0.0.5:7100',
    });
    assert.deepEqual(config.redis.state.clusterNodes, [
      { host: 'redis-1', port: 7000 },
      { host: 'redis-2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    assert.equal(config.redis.state.username, 'worker');
    assert.equal(config.redis.state.password, 'redis-secret');
    assert.equal(
      config.redis.state.display,
      'redis-cluster://worker@redis-1:7000,redis-2:7001,[::1]:7002',
    );
    assert.deepEqual(config.redis.cache.clusterNodes, [{ host: '10.0.0.5', port: 7100 }]);
    const single = loadServiceConfig('worker', minimal);
    assert.equal(single.redis.state.clusterNodes, undefined);
  });

  it('names every malformed cluster node list, and a role given both a URL and nodes', () => {
    const problems = problemsOf(() =>
      loadServiceConfig('api', {
        ...minimal,
        REDIS_CLUSTER_NODES: 'redis-1:7000,redis-2,redis-3:99999',
        REDIS_CACHE_URL: 'redis://cache:6379',
        REDIS_CACHE_CLUSTER_NODES: 'cache-1:7000',
      }),
    );
    assert.match(
      problems.get('REDIS_CLUSTER_NODES') ?? '',
      /invalid node\(s\) "redis-2", "redis-3:99999"/,
    );
    assert.match(problems.get('REDIS_CACHE_CLUSTER_NODES') ?? '', /both set/);
    assert.match(
      problemsOf(() =>
        loadServiceConfig('api', { ...minimal, REDIS_CLUSTER_NODES: 'a:1,a:1' }),
      ).get('REDIS_CLUSTER_NODES') ?? '',
      /twice/,
    );
  });

  it('lets *_URL variables override either profile', () => {
    const config = loadServiceConfig('worker', {
      ...minimal,
      QUAD_PROFILE: 'container',
      REDIS_URL: 'rediss://ops:url%40secret@cache.example.internal:7000/2',
      DATABASE_URL: 'postgres://app@db.internal:6543/quaddb',
      LIVEKIT_URL: 'wss://media.example.edu',
    });
    assert.deepEqual(
      {
        host: config.redis.state.host,
        port: config.redis.state.port,
        username: config.redis.state.username,
        password: config.redis.state.password,
        db: config.redis.state.db,
        tls: config.redis.state.tls,
      },
      {
        host: 'cache.example.internal',
        port: 7000,
        username: 'ops',
        password: 'url@secret',
        db: 2,
        tls: true,
      },
    );
    assert.equal(config.redis.state.display, 'rediss://ops@cache.example.internal:7000/2');
    // The cache instance is not overridden and keeps the profile's host.
    assert.equal(config.redis.cache.host, 'redis-cache');
    assert.equal(
      config.postgres.connectionString,
      'postgres://app:pg-secret@db.internal:6543/quaddb',
    );
    assert.equal(config.postgres.display, 'postgres://app@db.internal:6543/quaddb');
    assert.equal(config.livekit.url, 'wss://media.example.edu');
  });

  it('lists every missing or invalid variable in one error', () => {
    const problems = problemsOf(() =>
      loadServiceConfig('api', {
        API_PORT: '70000',
        LOG_LEVEL: 'loud',
        QUAD_PROFILE: 'cloud',
        REDIS_KEY_PREFIX: 'quad:*',
        WORKER_CONCURRENCY: '0',
      }),
    );
    assert.deepEqual([...problems.keys()].sort(), [
      'API_PORT',
      'LOG_LEVEL',
      'POSTGRES_PASSWORD',
      'QUAD_PROFILE',
      'REDIS_KEY_PREFIX',
      'REDIS_PASSWORD',
      'WEBHOOK_SECRET_KEY',
      'WORKER_CONCURRENCY',
    ]);
    assert.match(problems.get('REDIS_PASSWORD') ?? '', /never connects to Redis without/);
  });

  it('names REDIS_PASSWORD when it is missing and never reaches Redis without one', () => {
    const problems = problemsOf(() =>
      loadServiceConfig('socket', { POSTGRES_PASSWORD: 'x', REDIS_URL: 'redis://redis:6379' }),
    );
    assert.deepEqual([...problems.keys()], ['REDIS_PASSWORD']);
  });

  it('rejects malformed REDIS_URL values, naming the variable', () => {
    for (const bad of [
      'redis://nonsense:',
      'nonsense',
      'http://redis:6379',
      'redis://:6379',
      'redis://h:1/99',
    ]) {
      const problems = problemsOf(() => loadServiceConfig('api', { ...minimal, REDIS_URL: bad }));
      assert.ok(problems.has('REDIS_URL'), `${bad} should be rejected: ${[...problems.keys()]}`);
    }
  });

  it('treats empty strings as unset, as compose passes them', () => {
    const config = loadServiceConfig('api', { ...minimal, REDIS_URL: '', API_PORT: '' });
    assert.equal(config.redis.state.port, 6379);
    assert.equal(config.http.port, 3000);
  });

  it('refuses .env.example placeholders and short secrets in production only', () => {
    const placeholders = {
      NODE_ENV: 'production',
      REDIS_PASSWORD: 'change-me',
      POSTGRES_PASSWORD: 'short',
      LIVEKIT_API_KEY: 'change-me',
      LIVEKIT_API_SECRET: 'change-me',
      WEBHOOK_SECRET_KEY: minimal.WEBHOOK_SECRET_KEY,
    };
    const problems = problemsOf(() => loadServiceConfig('api', placeholders));
    assert.match(problems.get('REDIS_PASSWORD') ?? '', /placeholder/);
    assert.match(problems.get('POSTGRES_PASSWORD') ?? '', /too short/);
    assert.match(problems.get('LIVEKIT_API_SECRET') ?? '', /placeholder/);
    assert.match(problems.get('LIVEKIT_API_KEY') ?? '', /placeholder/);

    const urlProblems = problemsOf(() =>
      loadServiceConfig('api', {
        NODE_ENV: 'production',
        REDIS_URL: 'redis://api:change-me@redis:6379',
        REDIS_CACHE_URL: 'redis://api:a-long-enough-cache-secret@redis-cache:6379',
        POSTGRES_PASSWORD: 'a-long-enough-database-secret',
        WEBHOOK_SECRET_KEY: minimal.WEBHOOK_SECRET_KEY,
      }),
    );
    assert.deepEqual([...urlProblems.keys()], ['REDIS_URL']);

    assert.doesNotThrow(() =>
      loadServiceConfig('api', { ...placeholders, NODE_ENV: 'development' }),
    );
  });

  it('requires the LiveKit key and secret together', () => {
    const problems = problemsOf(() =>
      loadServiceConfig('api', { ...minimal, LIVEKIT_API_KEY: 'key-only' }),
    );
    assert.deepEqual([...problems.keys()], ['LIVEKIT_API_SECRET']);
  });

  it('never puts a secret into the error message', () => {
    try {
      loadServiceConfig('api', {
        NODE_ENV: 'production',
        REDIS_PASSWORD: 'sup3r-s3cret',
        POSTGRES_PASSWORD: 'an0ther-s3cret',
        API_PORT: 'x',
      });
      assert.fail('expected rejection');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.doesNotMatch(error.message, /sup3r|an0ther/);
    }
  });
});

describe('loadDatabaseConfig', () => {
  it('needs only PostgreSQL settings', () => {
    const config = loadDatabaseConfig({ POSTGRES_PASSWORD: 'pg', POSTGRES_DB: 'other' });
    assert.equal(config.postgres.connectionString, 'postgres://quad:pg@127.0.0.1:5432/other');
    assert.deepEqual([...problemsOf(() => loadDatabaseConfig({})).keys()], ['POSTGRES_PASSWORD']);
  });
});
