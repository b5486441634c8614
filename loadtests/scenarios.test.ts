import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadScenarios, mixListenersOf, scenariosFileSchema } from './scenarios.js';

test('steady runs with listeners in full and ci, the soak without', () => {
  const file = loadScenarios();
  const steady = file.scenarios.steady;
  const soak = file.scenarios.soak;
  assert.equal(steady.kind, 'mix');
  assert.equal(soak.kind, 'mix');
  if (steady.kind !== 'mix' || soak.kind !== 'mix') return;
  for (const load of [steady.full, steady.ci]) {
    assert.ok(load);
    const listening = mixListenersOf(load, 100);
    assert.ok(listening && listening.listeners > 0);
    // The mix waits for their connect window, and they stay past its last arrival.
    assert.ok(listening.startAfterSeconds > listening.connectSeconds);
    assert.ok(listening.holdSeconds > listening.startAfterSeconds + 100);
  }
  assert.ok(soak.soak);
  assert.equal(mixListenersOf(soak.soak, 3600), undefined);
});

test('listeners come with their connect window, and the mix starts after it', () => {
  const file = JSON.parse(JSON.stringify(loadScenarios()));
  file.scenarios.steady.ci = { phases: [{ duration: 10, arrivalRate: 1 }], listeners: 5 };
  assert.equal(scenariosFileSchema.safeParse(file).success, false);
  file.scenarios.steady.ci = {
    phases: [{ duration: 10, arrivalRate: 1 }],
    listeners: 5,
    connectSeconds: 4,
    startAfterSeconds: 4,
  };
  assert.equal(scenariosFileSchema.safeParse(file).success, false);
  file.scenarios.steady.ci.startAfterSeconds = 6;
  assert.equal(scenariosFileSchema.safeParse(file).success, true);
});
