import type { IncomingMessage } from 'node:http';
import { register } from 'node:module';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { SocketIoInstrumentation } from '@opentelemetry/instrumentation-socket.io';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import {
  type TracedLibrary,
  type TracingEnvironment,
  tracedLibraries,
} from '../config/tracing.schema.js';
import { readPackageVersion } from '../runtime/version.js';
import { markTracingStarted, onTracingShutdown } from './trace-context.js';

/** Probes and scrapes are not traffic: tracing them would bury the requests in noise. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz', '/livez']);

function samplerFor(environment: TracingEnvironment): Sampler {
  const ratio = new TraceIdRatioBasedSampler(environment.OTEL_TRACES_SAMPLER_ARG);
  switch (environment.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

type Instrumentation = NonNullable<
  NonNullable<ConstructorParameters<typeof NodeSDK>[0]>['instrumentations']
>[number];

/** The instrumentations Quad's traces need, less those OTEL_NODE_DISABLED_INSTRUMENTATIONS names. */
function instrumentationsFor(environment: TracingEnvironment): Instrumentation[] {
  const all: Record<TracedLibrary, () => Instrumentation> = {
    http: () =>
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request: IncomingMessage) =>
          UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
      }),
    // The route's handler only: a span per middleware and router layer (a dozen per request)
    // told operators nothing the handler span does not, and cost the most of any instrumentation.
    express: () =>
      new ExpressInstrumentation({
        ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER],
      }),
    // A span only inside a trace: BullMQ's blocking polls and the relay's idle reads would
    // otherwise each start a trace of their own, many per second, for nothing.
    ioredis: () =>
      new IORedisInstrumentation({
        requireParentSpan: true,
        // The command name only: arguments carry message text and session tokens.
        dbStatementSerializer: (command) => command,
      }),
    pg: () => new PgInstrumentation({ requireParentSpan: true }),
    'socket.io': () => new SocketIoInstrumentation(),
  };
  const disabled = new Set(environment.OTEL_NODE_DISABLED_INSTRUMENTATIONS);
  return tracedLibraries.filter((name) => !disabled.has(name)).map((name) => all[name]());
}

/** quad-api, quad-socket, quad-worker, quad-cli: from the entrypoint's path. */
function defaultServiceName(): string {
  const entry = process.argv[1] ?? '';
  const match = /services[\\/]([a-z-]+)[\\/]main\.[jt]s$/.exec(entry);
  return `quad-${match?.[1] ?? 'process'}`;
}

/**
 * Starts the OpenTelemetry SDK with exactly the instrumentations Quad's traces need. The
 * auto-instrumentation bundle is deliberately not used: its fs, dns and net spans multiply the
 * span count for no operator value, and they are where most of tracing's published overhead
 * comes from (docs/performance.md has Quad's own figures).
 */
export async function startTracing(environment: TracingEnvironment, url: string): Promise<void> {
  // ESM modules (and CommonJS packages imported from ESM) are only patchable through a loader
  // hook; the message channel limits the hook to the modules the instrumentations name.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: environment.OTEL_SERVICE_NAME ?? defaultServiceName(),
      [ATTR_SERVICE_VERSION]: readPackageVersion(),
    }),
    sampler: samplerFor(environment),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
    // Traces only. Without these two, NodeSDK defaults OTEL_METRICS_EXPORTER and
    // OTEL_LOGS_EXPORTER to OTLP and posts metrics and logs to the traces backend (which has no
    // use for them: Jaeger answers 404), and the http instrumentation records a duration
    // histogram on every request for them whatever the sampling. Quad's metrics are
    // Prometheus' (prom-client), its logs pino's.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: instrumentationsFor(environment),
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
  markTracingStarted();
  onTracingShutdown(() => sdk.shutdown());
}
