/**
 * The tracing preload: every Quad process starts with it, before its main module is even
 * loaded (`node --import ./dist/lib/observability/tracing.js dist/services/api/main.js`; under
 * tsx `--import tsx --import ./lib/observability/tracing.ts`). It has to come first: the
 * OpenTelemetry instrumentations patch http, express, pg, ioredis and socket.io as they are
 * loaded, and ESM imports are all loaded before any module body runs, so an import at the top
 * of main.ts would be too late.
 *
 * With no OTLP endpoint configured (or OTEL_SDK_DISABLED=true) this module loads nothing else:
 * no SDK, no loader hook, no patched module — the untraced process is the process without
 * this file. An invalid OTEL_* value is reported and the process exits 78, like any other
 * configuration error.
 */
import { tracesEndpoint, tracingEnvironmentSchema } from '../config/tracing.schema.js';

const parsed = tracingEnvironmentSchema.safeParse(process.env);
if (!parsed.success) {
  for (const issue of parsed.error.issues) {
    process.stderr.write(`invalid configuration: ${issue.path.join('.')} ${issue.message}\n`);
  }
  process.exit(78);
}
const endpoint = tracesEndpoint(parsed.data);
if (endpoint) {
  const { startTracing } = await import('./tracing-sdk.js');
  await startTracing(parsed.data, endpoint);
}
