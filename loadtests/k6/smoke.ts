// k6 smoke test: a short, bounded load on a running stack's operational and API endpoints, before
// the scenarios of school-day.ts. Run it with your own k6 (Quad neither ships nor runs k6):
// `k6 run loadtests/k6/smoke.ts` (API_URL defaults to http://127.0.0.1:3000).
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';

const base = __ENV.API_URL || 'http://127.0.0.1:3000';

export const options: Options = {
  vus: 5,
  duration: '10s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{endpoint:api}': ['p(99)<100'],
  },
};

// Five virtual users from one address exceed the anonymous per-IP budget (api-anonymous) on
// purpose: a 429 is the rate limiter doing its job, so it counts as an expected response and is
// checked for its headers instead.
http.setResponseCallback(http.expectedStatuses(200, 429));

export default function () {
  const root = http.get(`${base}/api/v1`, { tags: { endpoint: 'api' } });
  check(root, {
    'api answers 200 or 429': (r) => r.status === 200 || r.status === 429,
    'RateLimit header on every answer': (r) => r.headers.Ratelimit !== undefined,
    '429 says when to retry': (r) => r.status !== 429 || r.headers['Retry-After'] !== undefined,
  });
  const ready = http.get(`${base}/readyz`, { tags: { endpoint: 'readyz' } });
  check(ready, { 'stack is ready': (r) => r.status === 200 && r.json('status') === 'ready' });
}
