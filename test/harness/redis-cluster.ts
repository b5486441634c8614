import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { RedisEndpoint } from '../../lib/config/index.js';
import { freePort } from './free-port.js';
import { type RedisUser, startRedisServer, type TestRedisServer } from './redis-server.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/**
 * How fast the test cluster declares a master dead and promotes its replica. Production keeps
 * Redis' 15 s default (docs/scaling.md); a test cannot wait that long for each failover.
 */
const CLUSTER_NODE_TIMEOUT_MS = 2_000;

export interface TestRedisCluster {
  role: 'state' | 'cache';
  passwords: Record<RedisUser, string>;
  /** Every node, masters first as created (their roles change after a failover). */
  nodes: TestRedisServer[];
  /** `127.0.0.1:port,...` of every node: REDIS_[CACHE_]CLUSTER_NODES. */
  seedNodes: string;
  /** The connection settings a Quad service would resolve for `user` (lib/config's shape). */
  endpoint(user: RedisUser): RedisEndpoint;
  /** A plain connection to one node as the admin user (for CLUSTER and INFO questions). */
  adminOf(node: TestRedisServer): Redis;
  /** The node currently serving `key` as master. */
  masterFor(key: string): Promise<TestRedisServer>;
  /** A replica currently following `master`. */
  replicaOf(master: TestRedisServer): Promise<TestRedisServer>;
  /** Waits until every running node reports cluster_state:ok with all 16384 slots served. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  dispose(): Promise<void>;
}

/**
 * A real Redis Cluster on free loopback ports: `masters` masters with `replicasPerMaster`
 * replicas each, every node started through config/redis/start-redis.sh (the same ACL users
 * and rules as compose and `make dev`, rendered on every node), joined by
 * `redis-cli --cluster create`. Each node gets its own cluster bus port (cluster-port), since
 * port + 10000 may not be free or may not exist.
 */
export async function startRedisCluster(
  role: 'state' | 'cache' = 'state',
  options: {
    masters?: number;
    replicasPerMaster?: number;
    sharedPasswords?: Record<RedisUser, string>;
  } = {},
): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const secret = () => randomBytes(18).toString('hex');
  const passwords: Record<RedisUser, string> = options.sharedPasswords ?? {
    default: secret(),
    api: secret(),
    socket: secret(),
    worker: secret(),
  };
  const count = masters * (1 + replicasPerMaster);
  const nodes = await Promise.all(
    Array.from({ length: count }, async () =>
      startRedisServer(role, passwords, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        '{dir}/nodes.conf',
        '--cluster-port',
        String(await freePort()),
        '--cluster-node-timeout',
        String(CLUSTER_NODE_TIMEOUT_MS),
        // Replicas authenticate to their master as the admin user.
        '--masteruser',
        'default',
        '--masterauth',
        passwords.default,
      ]),
    ),
  );
  const admins = new Map<TestRedisServer, Redis>();
  const adminOf = (node: TestRedisServer) => {
    let admin = admins.get(node);
    if (!admin) {
      admin = new Redis({
        port: node.port,
        host: '127.0.0.1',
        password: passwords.default,
        maxRetriesPerRequest: 0,
        retryStrategy: () => 200,
      });
      admin.on('error', () => {});
      admins.set(node, admin);
    }
    return admin;
  };
  const dispose = async () => {
    for (const admin of admins.values()) admin.disconnect();
    await Promise.allSettled(nodes.map((node) => node.dispose()));
  };

  const waitUntilHealthy = async (timeoutMs = 30_000) => {
    await waitFor(
      `redis cluster (${role}) healthy`,
      async () => {
        // A node that was stopped (a failover test's victim) has no say.
        const running = nodes.filter((node) => adminOf(node).status === 'ready');
        if (running.length === 0) return false;
        for (const node of running) {
          const info = String(await adminOf(node).call('CLUSTER', 'INFO'));
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) {
            return false;
          }
        }
        return true;
      },
      timeoutMs,
      100,
    );
  };

  try {
    await run(
      'redis-cli',
      [
        '--user',
        'default',
        '--pass',
        passwords.default,
        '--no-auth-warning',
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
    await waitUntilHealthy();
    // Replicas are only useful (promotable without loss) once they have synced.
    await waitFor(`redis cluster (${role}) replicas in sync`, async () => {
      let synced = 0;
      for (const node of nodes) {
        const info = String(await adminOf(node).info('replication'));
        if (/role:slave/.test(info) && /master_link_status:up/.test(info)) synced++;
      }
      return synced === masters * replicasPerMaster;
    });
  } catch (error) {
    await dispose();
    throw error;
  }

  const seedNodes = nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  return {
    role,
    passwords,
    nodes,
    seedNodes,
    endpoint: (user) => ({
      host: '127.0.0.1',
      port: nodes[0]?.port ?? 0,
      clusterNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      username: user,
      password: passwords[user],
      db: 0,
      tls: false,
      display: `redis-cluster://${user}@${seedNodes}`,
    }),
    adminOf,
    async masterFor(key) {
      // Any node that answers knows the slot map (after a failover, the promoted replica's).
      for (const node of nodes) {
        const admin = adminOf(node);
        if (admin.status !== 'ready') continue;
        const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', key));
        const ranges = (await admin.call('CLUSTER', 'SLOTS')) as Array<
          [number, number, [string, number]]
        >;
        const range = ranges.find(([first, last]) => slot >= first && slot <= last);
        const found = range && nodes.find((candidate) => candidate.port === Number(range[2][1]));
        if (found) return found;
      }
      throw new Error(`no master found for ${key}`);
    },
    async replicaOf(master) {
      for (const node of nodes) {
        if (node === master) continue;
        const role = (await adminOf(node).call('ROLE')) as unknown[];
        if (role[0] === 'slave' && Number(role[2]) === master.port) return node;
      }
      throw new Error(`no replica follows :${master.port}`);
    },
    waitUntilHealthy,
    dispose,
  };
}
