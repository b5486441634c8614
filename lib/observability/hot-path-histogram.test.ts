import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { HotPathHistogram } from './hot-path-histogram.js';

const buckets = [0.001, 0.01, 0.1, 1];
// Values on the bounds, between them, below the first and above the last.
const observations: Array<[{ policy: string; algorithm: string }, number]> = [
  [{ policy: 'login-ip', algorithm: 'gcra' }, 0.0004],
  [{ policy: 'login-ip', algorithm: 'gcra' }, 0.001],
  [{ policy: 'api', algorithm: 'sliding-window-log' }, 0.05],
  [{ policy: 'login-ip', algorithm: 'gcra' }, 0.0101],
  [{ policy: 'api', algorithm: 'sliding-window-log' }, 1],
  [{ policy: 'api', algorithm: 'sliding-window-log' }, 7.5],
  [{ policy: 'login-ip', algorithm: 'gcra' }, 0.3],
];

function both() {
  const ours = new Registry();
  const theirs = new Registry();
  const options = {
    name: 'check_duration_seconds',
    help: 'One check',
    labelNames: ['policy', 'algorithm'] as const,
    buckets,
  };
  return {
    ours,
    theirs,
    hot: new HotPathHistogram({ ...options, registers: [ours] }),
    reference: new Histogram({ ...options, registers: [theirs] }),
  };
}

test('exposes exactly what prom-client Histogram exposes for the same observations', async () => {
  const { ours, theirs, hot, reference } = both();
  for (const [labels, value] of observations) {
    reference.observe(labels, value);
    // Half through a bound observer, half by labels: both paths feed one series.
    if (value < 0.05) hot.bind(labels)(value);
    else hot.observe(labels, value);
  }
  const text = await ours.metrics();
  assert.equal(text, await theirs.metrics());
  assert.match(
    text,
    /check_duration_seconds_bucket\{le="0.01",policy="login-ip",algorithm="gcra"\} 2/,
  );
  // The JSON form (cluster aggregation reads it), without prom-client's empty exemplar slots.
  const plain = async (registry: Registry) =>
    JSON.parse(
      JSON.stringify(await registry.getMetricsAsJSON(), (key, value) =>
        key === 'exemplar' ? undefined : value,
      ),
    );
  assert.deepEqual(await plain(ours), await plain(theirs));
});

test('without labels it shows zeros before the first observation, as prom-client does', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const options = {
    name: 'batch_size',
    help: 'Per batch',
    labelNames: [] as const,
    buckets: [2, 5],
  };
  const hot = new HotPathHistogram({ ...options, registers: [ours] });
  new Histogram({ ...options, registers: [theirs] });
  assert.equal(await ours.metrics(), await theirs.metrics());
  hot.observe({}, 3);
  assert.match(
    await ours.metrics(),
    /batch_size_bucket\{le="5"\} 1\nbatch_size_bucket\{le="\+Inf"\} 1/,
  );
});

test('reset zeroes every series; a non-finite value is not counted', async () => {
  const { ours, hot } = both();
  const observe = hot.bind({ policy: 'p', algorithm: 'gcra' });
  observe(0.002);
  observe(Number.NaN);
  assert.match(
    await ours.metrics(),
    /check_duration_seconds_count\{policy="p",algorithm="gcra"\} 1/,
  );
  ours.resetMetrics();
  assert.match(
    await ours.metrics(),
    /check_duration_seconds_count\{policy="p",algorithm="gcra"\} 0/,
  );
  observe(0.002);
  assert.match(
    await ours.metrics(),
    /check_duration_seconds_sum\{policy="p",algorithm="gcra"\} 0.002/,
  );
});

test('buckets out of order are refused', () => {
  assert.throws(
    () =>
      new HotPathHistogram({
        name: 'x',
        help: 'x',
        labelNames: [],
        buckets: [1, 0.5],
        registers: [],
      }),
    /strictly ascending/,
  );
});
