import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tracingEnvironmentSchema } from './tracing.schema.js';

describe('OTEL_NODE_DISABLED_INSTRUMENTATIONS', () => {
  it('reads a comma-separated list of instrumentation names, spaces and empties ignored', () => {
    const parsed = tracingEnvironmentSchema.parse({
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: ' pg, socket.io,,express ',
    });
    assert.deepEqual(parsed.OTEL_NODE_DISABLED_INSTRUMENTATIONS, ['pg', 'socket.io', 'express']);
    assert.deepEqual(tracingEnvironmentSchema.parse({}).OTEL_NODE_DISABLED_INSTRUMENTATIONS, []);
  });

  it('names an unknown instrumentation and the ones there are', () => {
    const parsed = tracingEnvironmentSchema.safeParse({
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http,redis',
    });
    assert.equal(parsed.success, false);
    assert.match(
      parsed.error?.issues[0]?.message ?? '',
      /names redis; the instrumentations are http, express, ioredis, pg, socket.io/,
    );
  });
});
