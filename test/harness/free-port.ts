import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports are picked below the kernel's ephemeral range. A port the OS hands out for `listen(0)`
 * or an outgoing connection comes from that range, so between this check closing its probe and
 * the server binding the port, any test's client connection could take it (a Redis node once
 * failed to start on exactly that). Below the range only another explicit bind can.
 */
function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    const start = Number(low);
    if (Number.isInteger(start) && start > 2048) return start;
  } catch {
    // Not Linux, or no /proc: the IANA dynamic range starts here.
  }
  return 49152;
}

const rangeEnd = ephemeralRangeStart() - 1;
// 12,000 ports below the range, never the well-known ones (Redis 6379, PostgreSQL 5432 and
// the like sit below 10000).
const rangeStart = Math.max(10_000, rangeEnd - 12_000);
// A port handed out once in this process is not handed out again: servers started side by
// side (a cluster's nodes and their bus ports) each get their own.
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1, outside the ephemeral range (never 6379/5432). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = rangeStart + Math.floor(Math.random() * (rangeEnd - rangeStart + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port on 127.0.0.1 in ${rangeStart}-${rangeEnd} after 200 tries`);
}
