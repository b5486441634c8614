/** A memory slope is reported for runs of at least this long: over a shorter one, a cache
 *  still filling reads as a leak. */
export const MIN_SLOPE_RUN_MS = 10 * 60_000;

/** Least-squares slope in MiB per hour of the points after the first quarter of the run (the
 *  warm-up, while caches, pools and the JIT fill); undefined for a run too short to say. */
export function memorySlopeMiBPerHour(points: Array<[number, number]>): number | undefined {
  if (points.length < 2) return undefined;
  const first = points[0]?.[0] ?? 0;
  const last = points.at(-1)?.[0] ?? 0;
  if (last - first < MIN_SLOPE_RUN_MS) return undefined;
  const settled = points.filter(([at]) => at >= first + (last - first) / 4);
  const n = settled.length;
  const hours = settled.map(([at]) => (at - first) / 3_600_000);
  const mib = settled.map(([, bytes]) => bytes / 1024 / 1024);
  const meanX = hours.reduce((a, b) => a + b, 0) / n;
  const meanY = mib.reduce((a, b) => a + b, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    covariance += ((hours[i] ?? 0) - meanX) * ((mib[i] ?? 0) - meanY);
    variance += ((hours[i] ?? 0) - meanX) ** 2;
  }
  return variance === 0 ? undefined : covariance / variance;
}
