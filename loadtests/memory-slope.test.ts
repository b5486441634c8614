import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_SLOPE_RUN_MS, memorySlopeMiBPerHour } from './memory-slope.js';

const MiB = 1024 * 1024;
const minute = 60_000;

/** One point every 30 s over `minutes`, from a function of the minute. */
function series(minutes: number, mibAt: (minute: number) => number): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (let m = 0; m <= minutes; m += 0.5) points.push([1e12 + m * minute, mibAt(m) * MiB]);
  return points;
}

test('a steady leak reads as its rate in MiB per hour', () => {
  // 100 MiB, growing 0.5 MiB a minute: 30 MiB an hour.
  const slope = memorySlopeMiBPerHour(series(60, (m) => 100 + m / 2));
  assert.ok(slope !== undefined && Math.abs(slope - 30) < 1e-6, `slope ${slope}`);
});

test('a cache that fills during the warm-up and then levels off reads as flat', () => {
  // Fills by 40 MiB in the first 10 minutes of an hour, then holds with ±1 MiB of sawtooth.
  const slope = memorySlopeMiBPerHour(series(60, (m) => (m < 10 ? 100 + 4 * m : 140 + (m % 2))));
  assert.ok(slope !== undefined && Math.abs(slope) < 1, `slope ${slope}`);
  // Over the whole run, the fill would have read as a leak of about 30 MiB an hour.
});

test('a run shorter than the minimum or with one sample has no slope', () => {
  const short = MIN_SLOPE_RUN_MS / minute - 1;
  assert.equal(memorySlopeMiBPerHour(series(short, (m) => 100 + m)), undefined);
  assert.equal(memorySlopeMiBPerHour([[1e12, 100 * MiB]]), undefined);
  assert.equal(memorySlopeMiBPerHour([]), undefined);
});
