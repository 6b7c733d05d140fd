/**
 * The report's charts as SVG strings, rendered on the server by Apache ECharts' SSR mode (no DOM, no canvas,
 * no script in the page): the HTML stays one self-contained file readable offline.
 */
import * as echarts from 'echarts';
import type { QualityReport, TrendPeriod } from './data.js';
import type { Labels } from './labels.js';

type Option = Parameters<echarts.ECharts['setOption']>[0];

function render(option: Option, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** A chart with nothing to draw: its title and the "no data" note where the plot would be. */
function empty(title: string, t: Labels, width: number, height: number): string {
  return render(
    {
      title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
      graphic: {
        type: 'text',
        left: 'center',
        top: 'middle',
        style: { text: t.noData, fontSize: 16, fill: '#888' },
      },
    },
    width,
    height,
  );
}

const pct = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 10);

/** Departments by score, best at the top. */
export function scorecardChart(report: QualityReport, t: Labels): string {
  const rows = [...report.departments].filter((d) => d.score !== null).reverse();
  if (!rows.length) return empty(t.scorecard, t, 820, 160);
  return render(
    {
      title: { text: t.scorecard, left: 'center', textStyle: { fontSize: 14 } },
      grid: { left: 200, right: 40, top: 40, bottom: 30 },
      xAxis: { type: 'value', min: 0, max: 100 },
      yAxis: { type: 'category', data: rows.map((d) => d.name) },
      series: [
        {
          type: 'bar',
          data: rows.map((d) => ({ value: d.score, itemStyle: { color: d.watch ? '#d9534f' : '#3b7dd8' } })),
          label: { show: true, position: 'right' },
        },
      ],
    },
    820,
    Math.max(160, 60 + rows.length * 28),
  );
}

/** Compliance, late-report and match rates of the last runs. */
export function trendsChart(report: QualityReport, t: Labels): string {
  if (!report.trends.length) return empty(t.trends, t, 820, 300);
  const x = report.trends.map((p) => `#${p.runId}`);
  return render(
    {
      title: { text: t.trends, left: 'center', textStyle: { fontSize: 14 } },
      legend: { bottom: 0, data: [t.complianceRate, t.lateRate, t.matchRate] },
      grid: { left: 50, right: 30, top: 40, bottom: 50 },
      xAxis: { type: 'category', data: x },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      series: [
        { name: t.complianceRate, type: 'line', data: report.trends.map((p) => pct(p.complianceRate)) },
        { name: t.lateRate, type: 'line', data: report.trends.map((p) => pct(p.lateRate)) },
        { name: t.matchRate, type: 'line', data: report.trends.map((p) => pct(p.matchRate)) },
      ],
    },
    820,
    300,
  );
}

/** Rows per resource: loaded, quarantined, duplicates, stacked. */
export function resourcesChart(report: QualityReport, t: Labels): string {
  const rows = report.resources;
  if (!rows.some((r) => r.loaded + r.quarantined + r.duplicates > 0)) return empty(t.resources, t, 820, 320);
  return render(
    {
      title: { text: t.resources, left: 'center', textStyle: { fontSize: 14 } },
      legend: { bottom: 0, data: [t.loaded, t.quarantined, t.duplicates] },
      grid: { left: 60, right: 30, top: 40, bottom: 70 },
      xAxis: { type: 'category', data: rows.map((r) => r.name), axisLabel: { interval: 0, rotate: 20 } },
      yAxis: { type: 'value' },
      series: [
        { name: t.loaded, type: 'bar', stack: 'rows', data: rows.map((r) => r.loaded) },
        { name: t.quarantined, type: 'bar', stack: 'rows', data: rows.map((r) => r.quarantined) },
        { name: t.duplicates, type: 'bar', stack: 'rows', data: rows.map((r) => r.duplicates) },
      ],
    },
    820,
    320,
  );
}

/** Loaded records by match method, all resources together. */
export function matchingChart(report: QualityReport, t: Labels): string {
  const byMethod = new Map<string, number>();
  for (const m of report.matching) byMethod.set(m.method, (byMethod.get(m.method) ?? 0) + m.count);
  const data = [...byMethod]
    .filter(([, n]) => n > 0)
    .map(([method, value]) => ({ name: t.methods[method] ?? method, value }));
  if (!data.length) return empty(t.matching, t, 820, 300);
  return render(
    {
      title: { text: t.matching, left: 'center', textStyle: { fontSize: 14 } },
      legend: { bottom: 0 },
      series: [{ type: 'pie', radius: ['30%', '60%'], data, label: { formatter: '{b}: {c} ({d}%)' } }],
    },
    820,
    300,
  );
}

/**
 * Rows collected per day or month (bars; backfill partitions' rows read beside them, grey, never added in) and
 * the compliance and late-report rates (lines, right axis).
 */
export function periodTrendChart(points: TrendPeriod[], title: string, t: Labels): string {
  if (!points.some((p) => p.runs + p.backfill.runs > 0)) return empty(title, t, 820, 300);
  return render(
    {
      title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
      legend: { bottom: 0, data: [t.read, t.backfillRead, t.complianceRate, t.lateRate] },
      grid: { left: 60, right: 60, top: 40, bottom: 60 },
      xAxis: { type: 'category', data: points.map((p) => p.period) },
      yAxis: [{ type: 'value' }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
      series: [
        { name: t.read, type: 'bar', data: points.map((p) => p.read) },
        {
          name: t.backfillRead,
          type: 'bar',
          itemStyle: { color: '#bbbbbb' },
          data: points.map((p) => p.backfill.read),
        },
        {
          name: t.complianceRate,
          type: 'line',
          yAxisIndex: 1,
          data: points.map((p) => pct(p.complianceRate)),
        },
        { name: t.lateRate, type: 'line', yAxisIndex: 1, data: points.map((p) => pct(p.lateRate)) },
      ],
    },
    820,
    300,
  );
}
