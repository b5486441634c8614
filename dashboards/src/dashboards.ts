/**
 * Quad's Grafana dashboards, one per audience, as data: each panel is a title, a kind and its
 * PromQL. `npm run dashboards` turns them into dashboards/*.json with the Grafana Foundation
 * SDK's builders (dashboards/src/generate.ts), and `make test-observability` evaluates every
 * expression below against a Prometheus scraping a live stack, so a panel that errors or shows
 * nothing fails the build. Grafana variables: `$service` (Overview), `$__rate_interval`.
 *
 * A ratio whose numerator only exists once something went wrong (5xx) is written
 * `(errors or total * 0) / total`: it shows 0 on a healthy stack instead of "No data".
 */

export type PanelKind = 'timeseries' | 'stat';

export interface PanelSpec {
  title: string;
  kind: PanelKind;
  unit: string;
  description: string;
  /** Expression and legend of each query. */
  queries: ReadonlyArray<{ expr: string; legend: string }>;
}

export interface DashboardSpec {
  /** Also the file name: dashboards/<uid>.json. */
  uid: string;
  title: string;
  description: string;
  /** Rows of panels, each row titled. */
  rows: ReadonlyArray<{ title: string; panels: readonly PanelSpec[] }>;
  /** Whether the dashboard offers the `$service` selector. */
  serviceVariable?: boolean;
}

const q = (expr: string, legend: string) => ({ expr, legend });
const ts = (title: string, unit: string, description: string, ...queries: PanelSpec['queries']) =>
  ({ title, kind: 'timeseries', unit, description, queries }) as const;
const stat = (title: string, unit: string, description: string, ...queries: PanelSpec['queries']) =>
  ({ title, kind: 'stat', unit, description, queries }) as const;

const RATE = '[$__rate_interval]';
const QUAD = 'job="quad", service=~"$service"';
const PROBES = 'route!~"/metrics|/healthz|/readyz"';
const requests = `http_request_duration_seconds_count{${QUAD}}`;
const serverErrors = `http_request_duration_seconds_count{${QUAD}, status_code=~"5.."}`;

export const dashboards: readonly DashboardSpec[] = [
  {
    uid: 'quad-overview',
    title: 'Quad / Overview',
    description: 'Is Quad up and within its objectives? Availability, traffic, errors, latency.',
    serviceVariable: true,
    rows: [
      {
        title: 'Availability',
        panels: [
          stat(
            'Instances up',
            'none',
            'Scraped instances per service',
            q(`sum by (service) (up{${QUAD}})`, '{{service}}'),
          ),
          stat(
            'Availability (last hour)',
            'percentunit',
            'Share of scrapes that succeeded',
            q(`avg by (service) (avg_over_time(up{${QUAD}}[1h]))`, '{{service}}'),
          ),
          stat(
            'Exporters up',
            'none',
            'Redis and PostgreSQL exporters: their dashboards and alerts depend on them',
            q('sum by (job) (up{job=~"redis|postgres"})', '{{job}}'),
          ),
        ],
      },
      {
        title: 'Traffic, errors, latency',
        panels: [
          ts(
            'Request rate',
            'reqps',
            'HTTP requests per second per service',
            q(`sum by (service) (rate(${requests}${RATE}))`, '{{service}}'),
          ),
          ts(
            '5xx ratio (objective < 5 %)',
            'percentunit',
            'Share of requests answered 5xx; alert QuadHttpErrorRatioHigh',
            q(
              `(sum by (service) (rate(${serverErrors}${RATE})) or sum by (service) (rate(${requests}${RATE})) * 0) / sum by (service) (rate(${requests}${RATE}))`,
              '{{service}}',
            ),
          ),
          ts(
            'Latency p99 (objective < 500 ms)',
            's',
            'Probes and scrapes excluded; alert QuadHttpLatencyP99OverSlo',
            q(
              `histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{${QUAD}, ${PROBES}}${RATE})))`,
              '{{service}} p99',
            ),
            q(
              `histogram_quantile(0.5, sum by (le, service) (rate(http_request_duration_seconds_bucket{${QUAD}, ${PROBES}}${RATE})))`,
              '{{service}} p50',
            ),
          ),
          ts(
            'Requests by route and status',
            'reqps',
            'The busiest routes',
            q(
              `topk(10, sum by (route, status_code) (rate(http_request_duration_seconds_count{${QUAD}, ${PROBES}}${RATE})))`,
              '{{route}} {{status_code}}',
            ),
          ),
        ],
      },
      {
        title: 'Processes',
        panels: [
          ts(
            'Event-loop lag p99',
            's',
            'A saturated process shows here before anywhere else',
            q(`max by (service) (nodejs_eventloop_lag_p99_seconds{${QUAD}})`, '{{service}}'),
          ),
          ts(
            'CPU',
            'percentunit',
            'CPU seconds per second',
            q(`sum by (service) (rate(process_cpu_seconds_total{${QUAD}}${RATE}))`, '{{service}}'),
          ),
          ts(
            'Memory (RSS)',
            'bytes',
            'Resident memory per service',
            q(`sum by (service) (process_resident_memory_bytes{${QUAD}})`, '{{service}}'),
          ),
        ],
      },
    ],
  },
  {
    uid: 'quad-realtime',
    title: 'Quad / Real time',
    description: 'The gateways: connections, deliveries and their latency, presence, catch-ups.',
    rows: [
      {
        title: 'Connections and presence',
        panels: [
          ts(
            'Socket connections',
            'none',
            'Open Socket.IO connections per gateway instance',
            q('sum by (instance) (socket_connections{job="quad"})', '{{instance}}'),
          ),
          ts(
            'Online users and active rooms',
            'none',
            'Presence as the gateways record it in Redis',
            q('max(presence_online_users{job="quad"})', 'online users'),
            q('max(presence_active_rooms{job="quad"})', 'active rooms'),
          ),
          ts(
            'Handshakes by result',
            'ops',
            'Accepted connections and refusals by code',
            q(
              'sum by (result) (rate(socket_handshakes_total{job="quad"}[$__rate_interval]))',
              '{{result}}',
            ),
          ),
          ts(
            'Disconnects by reason',
            'ops',
            'Why sockets went away',
            q(
              'sum by (reason) (rate(socket_disconnects_total{job="quad"}[$__rate_interval]))',
              '{{reason}}',
            ),
          ),
        ],
      },
      {
        title: 'Deliveries',
        panels: [
          ts(
            'Delivery latency p99 (objective < 250 ms)',
            's',
            'From publish (any service) to the socket write; alert QuadSocketDeliveryP99High',
            q(
              'histogram_quantile(0.99, sum by (le, event) (rate(socket_broadcast_delivery_seconds_bucket{job="quad"}[$__rate_interval])))',
              '{{event}}',
            ),
          ),
          ts(
            'Events published',
            'ops',
            'Real-time events the api and worker publish through Redis',
            q(
              'sum by (service, event) (rate(realtime_events_published_total{job="quad"}[$__rate_interval]))',
              '{{service}} {{event}}',
            ),
          ),
          ts(
            'Events sent to sockets',
            'ops',
            'Writes to client sockets by event',
            q(
              'sum by (event) (rate(socket_events_sent_total{job="quad"}[$__rate_interval]))',
              '{{event}}',
            ),
          ),
          ts(
            'Client events received',
            'ops',
            'Events clients send, by event and result',
            q(
              'sum by (event, result) (rate(socket_events_received_total{job="quad"}[$__rate_interval]))',
              '{{event}} {{result}}',
            ),
          ),
          ts(
            'Event handler p99',
            's',
            'Time the gateway takes to answer a client event',
            q(
              'histogram_quantile(0.99, sum by (le, event) (rate(socket_event_handler_seconds_bucket{job="quad"}[$__rate_interval])))',
              '{{event}}',
            ),
          ),
          ts(
            'Reconnect catch-ups',
            'ops',
            'Catch-ups answered after a reconnect, and the messages they carried',
            q('sum(rate(socket_catch_ups_total{job="quad"}[$__rate_interval]))', 'catch-ups'),
            q(
              'sum(rate(socket_catch_up_messages_total{job="quad"}[$__rate_interval]))',
              'messages',
            ),
          ),
        ],
      },
    ],
  },
  {
    uid: 'quad-cache-redis',
    title: 'Quad / Cache and Redis',
    description: 'The cache-aside layer and both Redis instances (state: noeviction, cache: LRU).',
    rows: [
      {
        title: 'Cache',
        panels: [
          ts(
            'Hit ratio per namespace',
            'percentunit',
            'Alert QuadCacheHitRatioCollapse',
            q(
              'sum by (cache) (rate(cache_requests_total{job="quad", result="hit"}[$__rate_interval])) / sum by (cache) (rate(cache_requests_total{job="quad"}[$__rate_interval]))',
              '{{cache}}',
            ),
          ),
          ts(
            'Reads by namespace and result',
            'ops',
            'Cache-aside reads',
            q(
              'sum by (cache, result) (rate(cache_requests_total{job="quad"}[$__rate_interval]))',
              '{{cache}} {{result}}',
            ),
          ),
          ts(
            'Cache errors',
            'ops',
            'Redis failures the cache absorbed (the value came from PostgreSQL)',
            q(
              'sum by (cache) (rate(cache_errors_total{job="quad"}[$__rate_interval]))',
              '{{cache}}',
            ),
          ),
        ],
      },
      {
        title: 'Breakers',
        panels: [
          ts(
            'Breaker state',
            'none',
            '0 closed, 1 half-open, 2 open; alert QuadRedisBreakerOpen',
            q(
              'max by (service, redis) (redis_breaker_state{job="quad"})',
              '{{service}} → {{redis}}',
            ),
          ),
          ts(
            'Calls refused by an open breaker',
            'ops',
            'Calls that did not touch Redis',
            q(
              'sum by (service, redis) (rate(redis_breaker_rejections_total{job="quad"}[$__rate_interval]))',
              '{{service}} → {{redis}}',
            ),
          ),
        ],
      },
      {
        title: 'Redis instances (redis_exporter)',
        panels: [
          ts(
            'Memory against maxmemory',
            'bytes',
            'At maxmemory the state Redis refuses writes; alert QuadStateRedisMemoryNearMax',
            q('redis_memory_used_bytes{job="redis"}', '{{redis}} used'),
            q('redis_memory_max_bytes{job="redis"}', '{{redis}} maxmemory'),
          ),
          ts(
            'Evicted keys',
            'ops',
            'Must stay 0 on the state Redis; alerts QuadStateRedisEvictions, QuadCacheRedisEvictionSurge',
            q('rate(redis_evicted_keys_total{job="redis"}[$__rate_interval])', '{{redis}}'),
          ),
          ts(
            'Commands per second',
            'ops',
            'All commands each instance processed',
            q('rate(redis_commands_processed_total{job="redis"}[$__rate_interval])', '{{redis}}'),
          ),
          ts(
            'Slow log length',
            'none',
            'Entries in SLOWLOG (commands over slowlog-log-slower-than)',
            q('redis_slowlog_length{job="redis"}', '{{redis}}'),
          ),
          ts(
            'Connected clients',
            'none',
            'Client connections per instance',
            q('redis_connected_clients{job="redis"}', '{{redis}}'),
          ),
        ],
      },
    ],
  },
  {
    uid: 'quad-rate-limits',
    title: 'Quad / Rate limits',
    description: 'Decisions and rejections per policy (lib/policy/rate-limit.policies.ts).',
    rows: [
      {
        title: 'Decisions',
        panels: [
          ts(
            'Decisions by policy and result',
            'ops',
            'Every rate-limit check',
            q(
              'sum by (policy, result) (rate(rate_limit_decisions_total{job="quad"}[$__rate_interval]))',
              '{{policy}} {{result}}',
            ),
          ),
          ts(
            'Rejections per policy',
            'ops',
            'Requests refused with 429; alert QuadRateLimitRejectionSpike',
            q(
              'sum by (policy) (rate(rate_limit_decisions_total{job="quad", result="rejected"}[$__rate_interval]))',
              '{{policy}}',
            ),
          ),
          ts(
            'Rejected share per policy',
            'percentunit',
            'Rejections over decisions',
            q(
              '(sum by (policy) (rate(rate_limit_decisions_total{job="quad", result="rejected"}[$__rate_interval])) or sum by (policy) (rate(rate_limit_decisions_total{job="quad"}[$__rate_interval])) * 0) / sum by (policy) (rate(rate_limit_decisions_total{job="quad"}[$__rate_interval]))',
              '{{policy}}',
            ),
          ),
          ts(
            'Check latency p99',
            's',
            'Time one check takes (a Redis round trip)',
            q(
              'histogram_quantile(0.99, sum by (le) (rate(rate_limit_check_duration_seconds_bucket{job="quad"}[$__rate_interval])))',
              'p99',
            ),
          ),
          ts(
            'Login outcomes',
            'ops',
            'Logins that reached the password check',
            q(
              'sum by (result) (rate(auth_logins_total{job="quad"}[$__rate_interval]))',
              '{{result}}',
            ),
          ),
        ],
      },
    ],
  },
  {
    uid: 'quad-queues',
    title: 'Quad / Queues and worker',
    description: 'BullMQ queues, job outcomes, dead letters, the outbox relay and webhooks.',
    rows: [
      {
        title: 'Queues',
        panels: [
          ts(
            'Queue depth by state',
            'none',
            'Read from Redis at each scrape; alert QuadQueueBacklog',
            q('sum by (queue, state) (worker_queue_depth{job="quad"})', '{{queue}} {{state}}'),
          ),
          ts(
            'Jobs finished',
            'ops',
            'By queue and result',
            q(
              'sum by (queue, result) (rate(worker_jobs_total{job="quad"}[$__rate_interval]))',
              '{{queue}} {{result}}',
            ),
          ),
          ts(
            'Job duration p95',
            's',
            'From an attempt starting to its end',
            q(
              'histogram_quantile(0.95, sum by (le, queue) (rate(worker_job_duration_seconds_bucket{job="quad"}[$__rate_interval])))',
              '{{queue}}',
            ),
          ),
          ts(
            'Retries',
            'ops',
            'Failed attempts BullMQ retries',
            q(
              'sum by (queue) (rate(worker_job_retries_total{job="quad"}[$__rate_interval]))',
              '{{queue}}',
            ),
          ),
          ts(
            'Dead letters',
            'none',
            'Failed jobs kept, and webhook deliveries given up; alert QuadDeadLetters',
            q('max by (queue) (worker_queue_depth{job="quad", state="failed"})', '{{queue}}'),
            q('max(webhook_dead_letters{job="quad"})', 'webhook deliveries'),
          ),
        ],
      },
      {
        title: 'Outbox and webhooks',
        panels: [
          ts(
            'Outbox lag per consumer',
            's',
            'Age of the oldest row not yet handed over; alert QuadOutboxRelayLag',
            q('max by (consumer) (outbox_lag_seconds{job="quad"})', '{{consumer}}'),
          ),
          ts(
            'Outbox rows relayed',
            'ops',
            'Rows handed to each consumer',
            q(
              'sum by (consumer) (rate(outbox_rows_relayed_total{job="quad"}[$__rate_interval]))',
              '{{consumer}}',
            ),
          ),
          ts(
            'Webhook attempts by result',
            'ops',
            'Deliveries to integrations',
            q(
              'sum by (result) (rate(webhook_delivery_attempts_total{job="quad"}[$__rate_interval]))',
              '{{result}}',
            ),
          ),
        ],
      },
    ],
  },
  {
    uid: 'quad-calls',
    title: 'Quad / Calls',
    description:
      'Voice and video calls on LiveKit: live calls, participants, call minutes, webhooks, reconciliation, media keys (docs/calls.md).',
    rows: [
      {
        title: 'Calls',
        panels: [
          stat(
            'Live calls',
            'none',
            "Calls live now, as the worker's reconciler last counted them",
            q('max(calls_live{job="quad"})', 'live calls'),
          ),
          stat(
            'Participants in calls',
            'none',
            "Participants of the live calls, as the worker's reconciler last counted them",
            q('max(call_participants{job="quad"})', 'participants'),
          ),
          stat(
            'Call minutes (last hour)',
            'none',
            'Time in calls summed over participants, counted when each one leaves',
            q('sum(increase(call_participant_seconds_total{job="quad"}[1h])) / 60', 'minutes'),
          ),
          ts(
            'Live calls and participants',
            'none',
            'Over time; the reconciler refreshes both every few seconds',
            q('max(calls_live{job="quad"})', 'calls'),
            q('max(call_participants{job="quad"})', 'participants'),
          ),
          ts(
            'LiveKit webhook events by type and result',
            'ops',
            'applied, duplicate (a redelivery), ignored (stale or not ours), refused (bad signature)',
            q(
              'sum by (event, result) (rate(livekit_webhook_events_total{job="quad"}[$__rate_interval]))',
              '{{event}} {{result}}',
            ),
          ),
          ts(
            'Reconciliation corrections',
            'ops',
            'What the reconciler fixed against LiveKit and PostgreSQL: missed joins or leaves (lost webhooks), abandoned calls, live state or media key lost from Redis',
            q(
              'sum by (kind) (rate(call_reconciliation_corrections_total{job="quad"}[$__rate_interval]))',
              '{{kind}}',
            ),
          ),
          ts(
            'Media key rotations',
            'ops',
            'By reason: leave (someone left or was removed), lost (Redis lost the key), age (a long call)',
            q(
              'sum by (reason) (rate(call_key_rotations_total{job="quad"}[$__rate_interval]))',
              '{{reason}}',
            ),
          ),
        ],
      },
    ],
  },
  {
    uid: 'quad-postgres',
    title: 'Quad / PostgreSQL',
    description: 'The source of truth, from postgres_exporter.',
    rows: [
      {
        title: 'Connections and activity',
        panels: [
          ts(
            'Connections against max_connections',
            'none',
            'Alert QuadPostgresConnectionsNearMax',
            q('sum by (instance) (pg_stat_activity_count{job="postgres"})', 'connections'),
            q('max by (instance) (pg_settings_max_connections{job="postgres"})', 'max_connections'),
          ),
          ts(
            'Connections by state',
            'none',
            'Many "idle in transaction" means a stuck client',
            q('sum by (state) (pg_stat_activity_count{job="postgres"})', '{{state}}'),
          ),
          ts(
            'Transactions per second',
            'ops',
            'Commits and rollbacks',
            q(
              'sum by (datname) (rate(pg_stat_database_xact_commit{job="postgres"}[$__rate_interval]))',
              '{{datname}} commits',
            ),
            q(
              'sum by (datname) (rate(pg_stat_database_xact_rollback{job="postgres"}[$__rate_interval]))',
              '{{datname}} rollbacks',
            ),
          ),
          ts(
            'Rows read and written',
            'ops',
            'Tuples fetched and inserted',
            q(
              'sum(rate(pg_stat_database_tup_fetched{job="postgres"}[$__rate_interval]))',
              'fetched',
            ),
            q(
              'sum(rate(pg_stat_database_tup_inserted{job="postgres"}[$__rate_interval]))',
              'inserted',
            ),
          ),
          ts(
            'Buffer cache hit ratio',
            'percentunit',
            'Blocks found in shared buffers',
            q(
              'sum(rate(pg_stat_database_blks_hit{job="postgres"}[$__rate_interval])) / (sum(rate(pg_stat_database_blks_hit{job="postgres"}[$__rate_interval])) + sum(rate(pg_stat_database_blks_read{job="postgres"}[$__rate_interval])))',
              'hit ratio',
            ),
          ),
          ts(
            'Locks by mode',
            'none',
            'Locks held',
            q('sum by (mode) (pg_locks_count{job="postgres"})', '{{mode}}'),
          ),
          ts(
            'Database size',
            'bytes',
            'Per database',
            q('pg_database_size_bytes{job="postgres"}', '{{datname}}'),
          ),
        ],
      },
    ],
  },
];
