/**
 * Figures of one compose replica, read from inside its container: the api and the gateways
 * publish no host port (the edge is the way in), so `docker exec` runs Node's fetch against
 * the replica's own /metrics, as an operator would (`docker compose exec --index N ...`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { seriesIn, sumOf } from '../harness/service-metrics.js';

const run = promisify(execFile);
const docker = process.env.QUAD_DOCKER || 'docker';
const PRINT_BODY =
  'fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))';

/** The container ids of a service's replicas, from a space-separated environment variable. */
export function replicasFrom(variable: string): string[] {
  const ids = (process.env[variable] ?? '').split(/\s+/).filter(Boolean);
  if (ids.length === 0) throw new Error(`${variable} names no container`);
  return ids;
}

/** The sum of the series of `name` matching `labels` on one replica's /metrics. */
export async function replicaMetric(
  container: string,
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const { stdout } = await run(
    docker,
    ['exec', container, 'node', '-e', PRINT_BODY, `http://127.0.0.1:${port}/metrics`],
    { maxBuffer: 16 * 1024 * 1024, timeout: 20_000 },
  );
  return sumOf(seriesIn(stdout, name), labels);
}

/** The same figure on every replica, in the order given. */
export function perReplica(
  containers: readonly string[],
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number[]> {
  return Promise.all(containers.map((id) => replicaMetric(id, port, name, labels)));
}
