/**
 * The sum of every series of `name` on a running service's /metrics whose labels include
 * `labels` (so `{ result: 'hit' }` adds up the hits of every cache namespace). 0 when none.
 */
export async function scrapeMetric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const series = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!series || series[1] !== name) continue;
    const present = new Map(
      [...(series[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(
        (label) => [label[1], label[2]],
      ),
    );
    if (Object.entries(labels).every(([label, value]) => present.get(label) === value)) {
      sum += Number(series[3]);
    }
  }
  return sum;
}
