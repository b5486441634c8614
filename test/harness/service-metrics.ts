import type { Registry } from 'prom-client';

/**
 * The value of the first series of `name` in an in-process registry whose labels include
 * `labels`; undefined while there is none (a labelled counter never incremented has none).
 */
export async function registryValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((value) =>
    Object.entries(labels).every(([label, wanted]) => value.labels[label] === wanted),
  )?.value;
}

/** Every series of `name` on a running service's /metrics: its labels and its value. */
export async function scrapeSeries(
  baseUrl: string,
  name: string,
): Promise<Array<{ labels: Map<string, string>; value: number }>> {
  return seriesIn(await (await fetch(`${baseUrl}/metrics`)).text(), name);
}

/** Every series of `name` in a Prometheus text exposition: its labels and its value. */
export function seriesIn(
  text: string,
  name: string,
): Array<{ labels: Map<string, string>; value: number }> {
  const found: Array<{ labels: Map<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const series = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!series || series[1] !== name) continue;
    const labels = new Map(
      [...(series[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(
        (label) => [label[1] ?? '', label[2] ?? ''],
      ),
    );
    found.push({ labels, value: Number(series[3]) });
  }
  return found;
}

/**
 * The sum of every series of `name` on a running service's /metrics whose labels include
 * `labels` (so `{ result: 'hit' }` adds up the hits of every cache namespace). 0 when none.
 */
export async function scrapeMetric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sumOf(await scrapeSeries(baseUrl, name), labels);
}

/** The sum of the series whose labels include `labels`; 0 when none. */
export function sumOf(
  series: ReadonlyArray<{ labels: Map<string, string>; value: number }>,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const entry of series) {
    if (Object.entries(labels).every(([label, value]) => entry.labels.get(label) === value)) {
      sum += entry.value;
    }
  }
  return sum;
}
