/**
 * `make test-compose` after `--scale api=2 --scale socket=2`, from the host: everything goes
 * through the edge's one published port, and each replica's own counters (read inside its
 * container) show where it went.
 *
 *   requests   GET /api/v1/openapi.json through the edge until every api replica has served
 *              some (the edge looks the replicas up in Docker's DNS every 5 s);
 *   sockets    WebSocket connections through the edge until every gateway replica holds some;
 *   delivery   messages sent through the edge reach every socket, whichever gateway holds it,
 *              and the sends were served by every api replica (cross-instance broadcast).
 *
 * Usage: tsx test/compose/scale-check.ts   (stdout: one line per step, the last a summary)
 * Reads: EDGE_URL, API_CONTAINERS and SOCKET_CONTAINERS (container ids, space-separated),
 *        QUAD_DOCKER, QUAD_TEST_USERNAME, QUAD_TEST_PASSWORD
 */
import assert from 'node:assert/strict';
import type { Socket } from 'socket.io-client';
import { callApi, loginAs } from '../harness/api-client.js';
import { connectSocket, record, request, waitForEntry } from '../harness/socket-client.js';
import { waitFor } from '../harness/wait-for.js';
import { perReplica, replicasFrom } from './replica-metrics.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const edge = required('EDGE_URL');
const apis = replicasFrom('API_CONTAINERS');
const gateways = replicasFrom('SOCKET_CONTAINERS');
const started = Date.now();
const step = (message: string) =>
  console.log(`scale-check ${((Date.now() - started) / 1000).toFixed(1)}s: ${message}`);
const everyOneRose = (before: readonly number[], after: readonly number[]) =>
  after.every((count, index) => count > (before[index] ?? 0));

async function main() {
  const openApiServed = () =>
    perReplica(apis, 3000, 'http_request_duration_seconds_count', {
      route: '/api/v1/openapi.json',
    });
  const servedBefore = await openApiServed();
  let requests = 0;
  const servedAfter = await waitFor(
    'every api replica serving requests that came through the edge',
    async () => {
      for (let batch = 0; batch < 4; batch++) {
        const response = await fetch(`${edge}/api/v1/openapi.json`);
        assert.equal(response.status, 200);
        await response.arrayBuffer();
        requests++;
      }
      const now = await openApiServed();
      return everyOneRose(servedBefore, now) ? now : undefined;
    },
    60_000,
    1_000,
  );
  step(
    `${requests} requests through the edge, served per api replica: ${servedAfter.map((count, index) => count - (servedBefore[index] ?? 0)).join(', ')}`,
  );

  const { token } = await loginAs(
    edge,
    required('QUAD_TEST_USERNAME'),
    required('QUAD_TEST_PASSWORD'),
  );
  const group = await callApi(edge, 'POST', '/conversations', {
    token,
    body: { kind: 'group', title: 'Compose scale check' },
  });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const groupId = String(group.body.id);

  const connectionsBefore = await perReplica(gateways, 3001, 'socket_connections');
  const sockets: Socket[] = [];
  try {
    const connections = await waitFor(
      'sockets through the edge on every gateway replica',
      async () => {
        const socket = await connectSocket(edge, token);
        sockets.push(socket);
        const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
        assert.deepEqual(joined.refused, []);
        const now = await perReplica(gateways, 3001, 'socket_connections');
        return everyOneRose(connectionsBefore, now) ? now : undefined;
      },
      60_000,
      500,
    );
    step(
      `${sockets.length} sockets through the edge, connections per gateway replica: ${connections.join(', ')}`,
    );

    const sendsServed = () =>
      perReplica(apis, 3000, 'http_request_duration_seconds_count', {
        route: '/api/v1/conversations/:id/messages',
        method: 'POST',
      });
    const sendsBefore = await sendsServed();
    const received = sockets.map((socket) =>
      record<{ message: { id: string } }>(socket, 'message:new'),
    );
    const sends = 4;
    for (let send = 1; send <= sends; send++) {
      const sent = await callApi(edge, 'POST', `/conversations/${groupId}/messages`, {
        token,
        body: { body: `scaled send ${send}`, idempotencyKey: crypto.randomUUID() },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const id = String(sent.body.id);
      for (const list of received) {
        await waitForEntry(
          list,
          (event) => event.message.id === id,
          `send ${send} on every socket`,
        );
      }
    }
    const sendsAfter = await sendsServed();
    const servedSends = sendsAfter.map((count, index) => count - (sendsBefore[index] ?? 0));
    assert.ok(
      servedSends.every((count) => count > 0),
      `every api replica served some of the sends: ${servedSends}`,
    );
    step(
      `${sends} messages sent through the edge (served per api replica: ${servedSends.join(', ')}), each received on all ${sockets.length} sockets`,
    );
  } finally {
    for (const socket of sockets) socket.close();
  }
  step(
    `passed: ${apis.length} api and ${gateways.length} socket replicas behind the edge, each reached; every message on every gateway`,
  );
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
}
