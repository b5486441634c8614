/**
 * The `media` profile of `make test-compose`, from the host: a real call through the compose
 * stack. An admin (made by scripts/test-compose.sh with the documented `quad admin create`)
 * starts a call in a group through the api, joins LiveKit with the token the api handed out
 * (a real participant, @livekit/rtc-node) and then proves each leg of the wiring:
 *
 *   LiveKit → api   the signed `participant_joined` webhook is applied (api /metrics), so the
 *                   webhook's `api_key` names a key LiveKit and the api share;
 *   state           GET .../call lists the participant;
 *   api → LiveKit   POST .../call/leave makes LiveKit disconnect the participant (the api's
 *                   RoomServiceClient.removeParticipant), and the call ends with them.
 *
 * Everything goes through the edge, as a browser's would: the api at EDGE_URL/api/, LiveKit's
 * signalling at EDGE_URL/livekit/ (the URL the api hands out is that relative path). The webhook
 * reaches whichever api replica Docker's DNS picks, so its counter is summed over every replica.
 *
 * Usage: tsx test/compose/call-check.ts   (stdout: one line per step, the last a summary)
 * Reads: EDGE_URL (the edge's published address), API_CONTAINERS (the api replicas' container
 *        ids, space-separated), QUAD_DOCKER, QUAD_TEST_USERNAME, QUAD_TEST_PASSWORD
 */
import assert from 'node:assert/strict';
import { dispose } from '@livekit/rtc-node';
import { callApi, loginAs } from '../harness/api-client.js';
import { joinLiveKit, type TestParticipant } from '../harness/livekit-participant.js';
import { waitFor } from '../harness/wait-for.js';
import { perReplica, replicasFrom } from './replica-metrics.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const apiUrl = required('EDGE_URL');
const apiReplicas = replicasFrom('API_CONTAINERS');
const webhooksApplied = async () =>
  (
    await perReplica(apiReplicas, 3000, 'livekit_webhook_events_total', {
      event: 'participant_joined',
      result: 'applied',
    })
  ).reduce((sum, count) => sum + count, 0);
const started = Date.now();
const step = (message: string) =>
  console.log(`call-check ${((Date.now() - started) / 1000).toFixed(1)}s: ${message}`);

async function main() {
  const { token, userId } = await loginAs(
    apiUrl,
    required('QUAD_TEST_USERNAME'),
    required('QUAD_TEST_PASSWORD'),
  );
  const group = await callApi(apiUrl, 'POST', '/conversations', {
    token,
    body: { kind: 'group', title: 'Compose call check' },
  });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const callPath = `/conversations/${String(group.body.id)}/call`;

  const joined = await callApi(apiUrl, 'POST', callPath, { token });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  const answer = joined.body as { call: { id: string }; livekit: { url: string; token: string } };
  // The api hands browsers a path on the page's own origin (LIVEKIT_PUBLIC_URL=/livekit).
  const liveKitUrl = new URL(answer.livekit.url, apiUrl.replace(/^http/, 'ws')).toString();
  step(`api started call ${answer.call.id} (LiveKit through the edge: ${liveKitUrl})`);

  const webhooksBefore = await webhooksApplied();
  let participant: TestParticipant | undefined;
  try {
    participant = await joinLiveKit(liveKitUrl, answer.livekit.token);
    step('participant connected to LiveKit with the api’s token');
    await waitFor(
      'the participant_joined webhook applied by the api',
      async () => (await webhooksApplied()) > webhooksBefore,
      30_000,
      200,
    );
    step('LiveKit → api: signed participant_joined webhook applied');
    await waitFor(
      'GET .../call listing the participant',
      async () => {
        const live = await callApi(apiUrl, 'GET', callPath, { token });
        const listed = live.body.participants as Array<{ userId: string }> | undefined;
        return live.status === 200 && listed?.some((entry) => entry.userId === userId);
      },
      15_000,
      200,
    );
    step('GET .../call lists the participant');

    const left = await callApi(apiUrl, 'POST', `${callPath}/leave`, { token });
    assert.equal(left.status, 204, JSON.stringify(left.body));
    const current = participant;
    await waitFor(
      'LiveKit disconnecting the participant the api removed',
      async () => {
        let gone = false;
        await Promise.race([
          current.disconnected.then(() => {
            gone = true;
          }),
          new Promise((resolve) => setTimeout(resolve, 200)),
        ]);
        return gone;
      },
      15_000,
      0,
    );
    step('api → LiveKit: leave made LiveKit disconnect the participant');
    const after = await callApi(apiUrl, 'GET', callPath, { token });
    assert.equal(after.status, 404, `the call should have ended: ${JSON.stringify(after.body)}`);
  } finally {
    await participant?.leave().catch(() => undefined);
    await dispose();
  }
  step(
    `passed: call through the api, LiveKit webhook applied, participant listed, leave → LiveKit disconnect, call ended`,
  );
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
}
