import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export type QuadService = 'api' | 'socket' | 'worker';

const root = join(import.meta.dirname, '..', '..');
const portVariable = { api: 'API_PORT', socket: 'SOCKET_PORT', worker: 'WORKER_PORT' } as const;

export interface ServiceProcess {
  name: QuadService;
  port: number;
  baseUrl: string;
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  /** Raw stdout/stderr text that was not JSON. */
  otherOutput(): string;
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Runs a Quad entrypoint as a real process with exactly `env` (plus PATH and HOME). */
export function spawnEntrypoint(
  relativePath: string,
  env: Record<string, string>,
  args: string[] = [],
): ChildProcess {
  // The tracing preload, as every launcher runs it: a no-op unless `env` sets an OTLP endpoint.
  const preload = join(root, 'lib', 'observability', 'tracing.ts');
  return spawn(
    process.execPath,
    ['--import', 'tsx', '--import', preload, join(root, relativePath), ...args],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** Collects stdout+stderr and the exit of a child process. */
export function collectOutput(child: ChildProcess) {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { output: () => text, exited };
}

/**
 * Starts services/<name>/main.ts on a free port and waits until /healthz answers.
 * `env` is the service's whole configuration, as an operator would set it.
 */
export async function startService(
  name: QuadService,
  env: Record<string, string>,
  /** How long the start may take; the default suits one file's tests, a whole stack on a busy
   *  machine may need more. */
  startTimeoutMs = 20_000,
): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawnEntrypoint(`services/${name}/main.ts`, {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    QUAD_PROFILE: 'host',
    LISTEN_HOST: '127.0.0.1',
    ...env,
    [portVariable[name]]: String(port),
  });
  const { output, exited } = collectOutput(child);
  const logs = () =>
    output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const baseUrl = `http://127.0.0.1:${port}`;
  let exitCode: number | string | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  await waitFor(
    `${name} /healthz`,
    async () => {
      if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode}: ${output()}`);
      const response = await fetch(`${baseUrl}/healthz`);
      return response.ok;
    },
    startTimeoutMs,
  ).catch((error: unknown) => {
    // A process that did not come up in time must not outlive the failure.
    if (exitCode === undefined) child.kill('SIGKILL');
    throw error;
  });
  return {
    name,
    port,
    baseUrl,
    child,
    get logs() {
      return logs();
    },
    otherOutput: () =>
      output()
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('{'))
        .join('\n'),
    exited,
    async stop(signal = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
  };
}
