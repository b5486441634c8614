import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createOpsEndpoints, createOpsServer } from './ops-endpoints.js';

describe('ops endpoints', () => {
  const ops = createOpsEndpoints({ service: 'api', registry: new Registry(), checks: [] });
  const server = createOpsServer(ops);
  let baseUrl = '';

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('names the instance that answered on /healthz and /readyz, draining included', async () => {
    const instance = `${hostname()}:${process.pid}`;
    const health = (await (await fetch(`${baseUrl}/healthz`)).json()) as Record<string, unknown>;
    assert.equal(health.status, 'ok');
    assert.equal(health.instance, instance);
    const ready = (await (await fetch(`${baseUrl}/readyz`)).json()) as Record<string, unknown>;
    assert.equal(ready.status, 'ready');
    assert.equal(ready.instance, instance);
    ops.markDraining();
    const draining = await fetch(`${baseUrl}/readyz`);
    assert.equal(draining.status, 503);
    assert.equal(((await draining.json()) as Record<string, unknown>).instance, instance);
  });
});
