import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'quad-scripts-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('scripts/ensure-env.sh', () => {
  const target = join(work, '.env');
  const ensureEnv = () =>
    execFileSync('sh', [join(root, 'scripts/ensure-env.sh'), target], { encoding: 'utf8' });

  it('creates the env file with a distinct random secret for every placeholder', () => {
    assert.match(ensureEnv(), /created/);
    const text = readFileSync(target, 'utf8');
    assert.doesNotMatch(text, /=change-me$/m);
    const template = readFileSync(join(root, '.env.example'), 'utf8');
    const placeholders = template.match(/^[A-Z_]+=change-me$/gm) ?? [];
    assert.ok(placeholders.length >= 5);
    const secrets = placeholders.map((line) => {
      const name = line.split('=')[0];
      const value = text.match(new RegExp(`^${name}=(.*)$`, 'm'))?.[1] ?? '';
      assert.match(value, /^[0-9a-f]{64}$/, `${name} gets a 256-bit hex secret`);
      return value;
    });
    assert.equal(new Set(secrets).size, secrets.length);
    assert.equal(statSync(target).mode & 0o777, 0o600);
  });

  it('never overwrites an existing file (running it twice is safe)', () => {
    const before = readFileSync(target, 'utf8');
    ensureEnv();
    assert.equal(readFileSync(target, 'utf8'), before);
  });
  it('appends a secret the template gained since (an upgrade), changing no existing line', () => {
    const upgraded = join(work, 'upgraded.env');
    // An env file from before WEBHOOK_SECRET_KEY, its last line without a newline.
    const before = readFileSync(target, 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith('WEBHOOK_SECRET_KEY='))
      .join('\n')
      .trimEnd();
    writeFileSync(upgraded, before);
    const output = execFileSync('sh', [join(root, 'scripts/ensure-env.sh'), upgraded], {
      encoding: 'utf8',
    });
    assert.match(output, /added new secrets to .*: WEBHOOK_SECRET_KEY$/m);
    const after = readFileSync(upgraded, 'utf8');
    assert.ok(after.startsWith(`${before}\n`));
    assert.match(after, /\nWEBHOOK_SECRET_KEY=[0-9a-f]{64}\n$/);
    execFileSync('sh', [join(root, 'scripts/ensure-env.sh'), upgraded]);
    assert.equal(readFileSync(upgraded, 'utf8'), after);
  });
});

describe('config/redis/start-redis.sh', () => {
  it('refuses to start Redis without every password, naming the missing ones', () => {
    const result = spawnSync('sh', [join(root, 'config/redis/start-redis.sh'), 'state'], {
      env: { PATH: process.env.PATH, REDIS_ADMIN_PASSWORD: 'x' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 78);
    assert.match(result.stderr, /REDIS_API_PASSWORD REDIS_SOCKET_PASSWORD REDIS_WORKER_PASSWORD/);
  });

  it('refuses a key prefix that would widen the ACL key pattern', () => {
    const result = spawnSync('sh', [join(root, 'config/redis/start-redis.sh'), 'cache'], {
      env: {
        PATH: process.env.PATH,
        REDIS_ADMIN_PASSWORD: 'a',
        REDIS_API_PASSWORD: 'b',
        REDIS_SOCKET_PASSWORD: 'c',
        REDIS_WORKER_PASSWORD: 'd',
        REDIS_KEY_PREFIX: '*',
        REDIS_ACL_DIR: join(work, 'acl'),
      },
      encoding: 'utf8',
    });
    assert.equal(result.status, 78);
    assert.match(result.stderr, /REDIS_KEY_PREFIX/);
  });
});
