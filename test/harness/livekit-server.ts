import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { collectOutput } from './service-process.js';
import { waitFor } from './wait-for.js';

const root = join(import.meta.dirname, '..', '..');
export const LIVEKIT_SERVER_BIN = join(root, 'tools', 'bin', 'livekit-server');

export interface TestLiveKitServer {
  /** ws://127.0.0.1:<port>, what the services' LIVEKIT_URL is. */
  url: string;
  port: number;
  apiKey: string;
  apiSecret: string;
  /** The environment a Quad service needs to use this server. */
  serviceEnvironment: Record<string, string>;
  output(): string;
  stop(): Promise<void>;
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** The signalling port to give the services before LiveKit starts (it is started after the api,
 *  whose URL its webhook needs). */
export async function reserveLiveKit(): Promise<{
  port: number;
  apiKey: string;
  apiSecret: string;
  serviceEnvironment: Record<string, string>;
}> {
  const port = await freePort();
  const apiKey = `API${randomBytes(6).toString('hex')}`;
  const apiSecret = randomBytes(24).toString('base64url');
  return {
    port,
    apiKey,
    apiSecret,
    serviceEnvironment: {
      LIVEKIT_URL: `ws://127.0.0.1:${port}`,
      LIVEKIT_API_KEY: apiKey,
      LIVEKIT_API_SECRET: apiSecret,
    },
  };
}

/**
 * A real livekit-server (tools/bin, built by `make tools`) on free loopback ports, through the
 * project's own config/livekit/start-livekit.sh (the config `make dev` runs), with a generated
 * key, `rtc.node_ip` 127.0.0.1 and its webhook pointed at `webhookUrl` (none when undefined).
 */
export async function startLiveKitServer(
  reserved: Awaited<ReturnType<typeof reserveLiveKit>>,
  webhookUrl: string | undefined,
): Promise<TestLiveKitServer> {
  if (!existsSync(LIVEKIT_SERVER_BIN)) {
    throw new Error(
      `${LIVEKIT_SERVER_BIN} is missing: run \`make tools\` (scripts/build-tools.sh builds it from the Go module proxy)`,
    );
  }
  const { port, apiKey, apiSecret } = reserved;
  const tcpPort = await freePort();
  const udpPort = await freeUdpPort();
  const child: ChildProcess = spawn(
    'sh',
    [
      join(root, 'config', 'livekit', 'start-livekit.sh'),
      '--bind',
      '127.0.0.1',
      '--node-ip',
      '127.0.0.1',
      '--udp-port',
      String(udpPort),
    ],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        LIVEKIT_SERVER_BIN,
        LIVEKIT_API_KEY: apiKey,
        LIVEKIT_API_SECRET: apiSecret,
        LIVEKIT_WEBHOOK_URL: webhookUrl ?? '',
        LIVEKIT_PORT: String(port),
        LIVEKIT_RTC_TCP_PORT: String(tcpPort),
        LIVEKIT_RTC_ENABLE_LOOPBACK_CANDIDATE: 'true',
        // A room closes a second after its last participant, so tests see room_finished soon.
        LIVEKIT_ROOM_DEPARTURE_TIMEOUT: '1',
        LIVEKIT_ROOM_EMPTY_TIMEOUT: '30',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const { output, exited } = collectOutput(child);
  let exitCode: number | string | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  const url = `ws://127.0.0.1:${port}`;
  await waitFor(
    'livekit-server answers',
    async () => {
      if (exitCode !== undefined) throw new Error(`livekit-server exited ${exitCode}: ${output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      return response?.ok === true;
    },
    20_000,
  );
  return {
    url,
    port,
    apiKey,
    apiSecret,
    serviceEnvironment: reserved.serviceEnvironment,
    output,
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
