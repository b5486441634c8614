import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { BullMQOtel } from 'bullmq-otel';

/**
 * Trace context across the hops that are not HTTP: the outbox row (written in the request's
 * transaction, read later by the worker's relay) and BullMQ jobs. Everything here goes
 * through @opentelemetry/api, which is a no-op until the tracing preload
 * (lib/observability/tracing.ts) registered an SDK, so the untraced path costs a function call.
 */

/** W3C trace-context fields (traceparent, tracestate) as stored with an outbox row. */
export type TraceCarrier = Record<string, string>;

/** The name every Quad span and BullMQ's own spans are recorded under. */
export const TRACER_NAME = 'quad';

let tracingStarted = false;

/** Called once by the tracing preload after the SDK started. */
export function markTracingStarted(): void {
  tracingStarted = true;
}

export function isTracingStarted(): boolean {
  return tracingStarted;
}

const shutdownHooks: Array<() => Promise<void>> = [];

/** The preload registers the SDK's flush-and-stop here; ServiceRuntime.close() calls it. */
export function onTracingShutdown(hook: () => Promise<void>): void {
  shutdownHooks.push(hook);
}

/** Exports the spans still buffered and stops the SDK; a no-op when tracing is off. */
export async function shutdownTracing(): Promise<void> {
  for (const hook of shutdownHooks.splice(0)) await hook().catch(() => {});
}

/** The active context as W3C fields, or undefined when no sampled span is active (nothing
 *  worth storing: the untraced path writes NULL). */
export function activeTraceCarrier(): TraceCarrier | undefined {
  if (!tracingStarted) return undefined;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : undefined;
}

/** A span for one hop of a stored trace (the outbox relay handing a row over), and the trace
 *  context to pass on from it. */
export interface HopSpan {
  /** The context the next hop continues (this span), or the stored one when not traced. */
  readonly carrier: TraceCarrier | undefined;
  end(error?: unknown): void;
}

/**
 * Starts a consumer span continuing the trace stored in `carrier`. Without tracing, or for a
 * row written without a trace, nothing is recorded and the stored context passes through.
 */
export function startHopSpan(
  carrier: TraceCarrier | undefined,
  name: string,
  attributes: Record<string, string>,
): HopSpan {
  if (!tracingStarted || !carrier) return { carrier, end() {} };
  const parent = propagation.extract(ROOT_CONTEXT, carrier);
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent);
  const next: TraceCarrier = {};
  propagation.inject(trace.setSpan(parent, span), next);
  return {
    carrier: next,
    end(error) {
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}

/** BullMQ job options that make the job's spans continue `carrier` (bullmq-otel's format). */
export function jobTraceOptions(
  carrier: TraceCarrier | undefined,
): { telemetry: { metadata: string } } | Record<string, never> {
  return tracingStarted && carrier ? { telemetry: { metadata: JSON.stringify(carrier) } } : {};
}

/** A synchronous internal span around `work` in the active trace (only when tracing is on). */
export function withSpan<T>(name: string, attributes: Record<string, string>, work: () => T): T {
  if (!tracingStarted) return work();
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes }, (span) => {
    try {
      return work();
    } finally {
      span.end();
    }
  });
}

/** The `telemetry` option for every BullMQ Queue and Worker: job spans, and the producer's
 *  trace context carried in the job so the worker's span continues it. Undefined when
 *  tracing is off, so BullMQ does no telemetry work at all. */
export function queueTelemetry(): BullMQOtel | undefined {
  return tracingStarted ? new BullMQOtel({ tracerName: 'bullmq' }) : undefined;
}

/** Trace and span ids for a log line (pino mixin), in OpenTelemetry's log field names. */
export function logTraceFields(): Record<string, string> {
  if (!tracingStarted) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
}
