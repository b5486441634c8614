import { z } from 'zod';

/**
 * The OpenTelemetry variables Quad reads, by their standard names, so an operator's usual
 * OTEL_* settings work unchanged. They are read by the tracing preload
 * (lib/observability/tracing.ts) before anything else in the process, and are part of every
 * service's environment schema so that a typo is reported with the rest of the configuration.
 */

const unsetIfEmpty = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const optionalUrl = z.preprocess(
  unsetIfEmpty,
  z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
);

/** The libraries Quad's tracing instruments, by their OpenTelemetry instrumentation names. */
export const tracedLibraries = ['http', 'express', 'ioredis', 'pg', 'socket.io'] as const;
export type TracedLibrary = (typeof tracedLibraries)[number];

export const tracingEnvironmentShape = {
  /** OTLP/HTTP base URL (e.g. http://jaeger:4318); traces go to <url>/v1/traces. Unset (and
   *  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT unset): the tracing SDK is not loaded at all. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  /** Full traces URL, overriding the base URL above (standard OTLP precedence). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl,
  /** `true` keeps tracing off even with an endpoint set. */
  OTEL_SDK_DISABLED: z.preprocess(
    unsetIfEmpty,
    z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  ),
  /** Defaults to quad-<service> (quad-api, quad-socket, quad-worker, quad-cli). */
  OTEL_SERVICE_NAME: z.preprocess(unsetIfEmpty, z.string().optional()),
  /** Head sampling. parentbased_*: a request that arrives with a sampled traceparent is
   *  traced whatever the ratio, so a trace is never cut in the middle of a hop. */
  OTEL_TRACES_SAMPLER: z.preprocess(
    unsetIfEmpty,
    z
      .enum(
        [
          'always_on',
          'always_off',
          'traceidratio',
          'parentbased_always_on',
          'parentbased_always_off',
          'parentbased_traceidratio',
        ],
        {
          error:
            'must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio',
        },
      )
      .default('parentbased_traceidratio'),
  ),
  /** The ratio of root traces kept by the *traceidratio samplers, 0 to 1. */
  OTEL_TRACES_SAMPLER_ARG: z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: 'must be a number between 0 and 1' })
      .min(0, { error: 'must be a number between 0 and 1' })
      .max(1, { error: 'must be a number between 0 and 1' })
      .default(0.1),
  ),
  /** Instrumentations to leave out, comma-separated, by the names OpenTelemetry's Node
   *  auto-instrumentation uses for this variable (http, express, ioredis, pg, socket.io): to
   *  trim the cost of tracing, or to drop spans an operator does not want. */
  OTEL_NODE_DISABLED_INSTRUMENTATIONS: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .optional()
      .transform((value, context) => {
        const names = (value ?? '')
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '');
        for (const name of names) {
          if (!(tracedLibraries as readonly string[]).includes(name)) {
            context.addIssue({
              code: 'custom',
              message: `names ${name}; the instrumentations are ${tracedLibraries.join(', ')}`,
            });
          }
        }
        return names as TracedLibrary[];
      }),
  ),
};

export const tracingEnvironmentSchema = z.object(tracingEnvironmentShape);
export type TracingEnvironment = z.infer<typeof tracingEnvironmentSchema>;

/** Where spans go, or undefined when tracing is off (no endpoint, or disabled). */
export function tracesEndpoint(environment: TracingEnvironment): string | undefined {
  if (environment.OTEL_SDK_DISABLED === 'true') return undefined;
  if (environment.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    return environment.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = environment.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}
