import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectOutput, spawnEntrypoint } from '../harness/service-process.js';

// Fail fast on configuration: each real entrypoint exits at start-up,
// before touching any server, with a message naming the bad variable. No servers are needed.
const valid = {
  NODE_ENV: 'development',
  QUAD_PROFILE: 'host',
  REDIS_PASSWORD: 'redis-password-for-test',
  POSTGRES_PASSWORD: 'postgres-password-for-test',
  // Ports nothing listens on: the process must exit before it would connect anyway.
  REDIS_PORT: '1',
  REDIS_CACHE_PORT: '1',
  POSTGRES_PORT: '1',
};

async function runToExit(service: string, env: Record<string, string>) {
  const child = spawnEntrypoint(`services/${service}/main.ts`, env);
  const { output, exited } = collectOutput(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, output: output() };
}

describe('start-up configuration errors', () => {
  for (const service of ['api', 'socket', 'worker']) {
    it(`${service} exits 78 naming REDIS_PASSWORD when it is missing`, async () => {
      const { REDIS_PASSWORD: _omitted, ...env } = valid;
      const { code, output } = await runToExit(service, env);
      assert.equal(code, 78, output);
      assert.match(output, new RegExp(`Invalid configuration for quad ${service}`));
      assert.match(output, /REDIS_PASSWORD: is required/);
    });

    it(`${service} exits 78 naming REDIS_URL for redis://nonsense:`, async () => {
      const { code, output } = await runToExit(service, {
        ...valid,
        REDIS_URL: 'redis://nonsense:',
      });
      assert.equal(code, 78, output);
      assert.match(output, /REDIS_URL: has an empty port/);
    });
  }

  it('lists several problems at once and refuses placeholders in production', async () => {
    const { code, output } = await runToExit('api', {
      NODE_ENV: 'production',
      REDIS_PASSWORD: 'change-me',
      POSTGRES_PASSWORD: 'change-me',
      API_PORT: 'eighty',
    });
    assert.equal(code, 78, output);
    assert.match(output, /4 problems/);
    assert.match(output, /WEBHOOK_SECRET_KEY: is required/);
    assert.match(output, /API_PORT: must be a port number/);
    assert.match(output, /REDIS_PASSWORD: is the placeholder "change-me"/);
    assert.match(output, /POSTGRES_PASSWORD: is the placeholder "change-me"/);
  });

  it('the migrate command needs only PostgreSQL settings and names what is missing', async () => {
    const child = spawnEntrypoint('services/cli/main.ts', {}, ['migrate']);
    const { output, exited } = collectOutput(child);
    assert.equal(await exited, 78);
    assert.match(output(), /POSTGRES_PASSWORD: is required/);
    assert.doesNotMatch(output(), /REDIS/);
  });
});
