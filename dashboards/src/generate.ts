/**
 * `npm run dashboards`: writes dashboards/<uid>.json from dashboards/src/dashboards.ts with the
 * Grafana Foundation SDK (Apache-2.0), whose builders produce the dashboard schema Grafana
 * provisions. `--check` writes nothing and exits 1 when a file differs from what it would write
 * (make test-observability runs it), so the JSON is never edited by hand.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  type DataSourceRef,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { type DashboardSpec, dashboards, type PanelSpec } from './dashboards.js';

/** The provisioned Prometheus data source (config/grafana/provisioning/datasources). */
const prometheus: DataSourceRef = { type: 'prometheus', uid: 'prometheus' };

function panelOf(spec: PanelSpec) {
  const panel =
    spec.kind === 'stat'
      ? new StatPanelBuilder()
          .height(4)
          .span(8)
          .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
      : new TimeseriesPanelBuilder().height(8).span(12).fillOpacity(10);
  panel.title(spec.title).description(spec.description).unit(spec.unit).datasource(prometheus);
  spec.queries.forEach((query, index) => {
    panel.withTarget(
      new DataqueryBuilder()
        .expr(query.expr)
        .legendFormat(query.legend)
        .refId(String.fromCharCode(65 + index))
        .datasource(prometheus),
    );
  });
  return panel;
}

export function buildDashboard(spec: DashboardSpec): unknown {
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['quad', 'generated'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser');
  if (spec.serviceVariable) {
    builder.withVariable(
      new QueryVariableBuilder('service')
        .label('Service')
        .datasource(prometheus)
        .query('label_values(up{job="quad"}, service)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    );
  }
  for (const row of spec.rows) {
    builder.withRow(new RowBuilder(row.title));
    for (const panel of row.panels) builder.withPanel(panelOf(panel));
  }
  return builder.build();
}

export const dashboardFile = (uid: string) => join(import.meta.dirname, '..', `${uid}.json`);

export const renderDashboard = (spec: DashboardSpec) =>
  `${JSON.stringify(buildDashboard(spec), null, 2)}\n`;

if (import.meta.filename === process.argv[1]) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const spec of dashboards) {
    const file = dashboardFile(spec.uid);
    const text = renderDashboard(spec);
    if (!check) {
      writeFileSync(file, text);
      continue;
    }
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== text) {
      stale += 1;
      console.error(`${file} differs from dashboards/src: run npm run dashboards`);
    }
  }
  process.exit(stale === 0 ? 0 : 1);
}
