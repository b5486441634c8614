// Container healthcheck: `node dist/services/healthcheck.js <url>` exits 0 on a 2xx answer.
// The runtime image has no curl or wget; Node's fetch does the job.
const url = process.argv[2] ?? 'http://127.0.0.1:3000/readyz';
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
