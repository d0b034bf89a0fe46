// The charts bundle (window.echarts and window.SanjiCharts) for the dashboards.
//
//   SanjiCharts.bar(el, { title: '季度完成率', categories: ['新升', '许厂'], series: [{ name: '完成', data: [3, 5] }] });
//   SanjiCharts.render(el, anyEChartsOption);
import * as echarts from 'echarts';

const charts = new Set();
let listening = false;

/** Render an ECharts option into `el` (resizes with the window; returns the chart). */
export function render(el, option, { renderer = 'canvas' } = {}) {
  const chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer });
  chart.setOption(option, true);
  charts.add(chart);
  if (!listening) {
    listening = true;
    window.addEventListener('resize', () => charts.forEach(c => c.isDisposed() ? charts.delete(c) : c.resize()));
  }
  el.dataset.chart = 'ready';
  return chart;
}

/** A bar chart of categories × series ({ name, data }), stacked when `stack` is true. */
export function bar(el, { title, categories, series, stack = false, horizontal = false }) {
  const categoryAxis = { type: 'category', data: categories, axisLabel: { interval: 0, hideOverlap: true } };
  const valueAxis = { type: 'value', minInterval: 1 };
  return render(el, {
    title: title ? { text: title, left: 'center', textStyle: { fontSize: 14 } } : undefined,
    tooltip: { trigger: 'axis' },
    legend: series.length > 1 ? { bottom: 0 } : undefined,
    grid: { left: 8, right: 16, top: title ? 40 : 16, bottom: series.length > 1 ? 36 : 8, containLabel: true },
    xAxis: horizontal ? valueAxis : categoryAxis,
    yAxis: horizontal ? categoryAxis : valueAxis,
    series: series.map(s => ({ type: 'bar', stack: stack ? 'total' : undefined, ...s })),
  });
}

/** A line chart over categories (e.g. months). */
export function line(el, { title, categories, series }) {
  return render(el, {
    title: title ? { text: title, left: 'center', textStyle: { fontSize: 14 } } : undefined,
    tooltip: { trigger: 'axis' },
    legend: series.length > 1 ? { bottom: 0 } : undefined,
    grid: { left: 8, right: 16, top: title ? 40 : 16, bottom: series.length > 1 ? 36 : 8, containLabel: true },
    xAxis: { type: 'category', data: categories },
    yAxis: { type: 'value', minInterval: 1 },
    series: series.map(s => ({ type: 'line', smooth: false, ...s })),
  });
}

/** A pie chart of { name, value } items. */
export function pie(el, { title, items }) {
  return render(el, {
    title: title ? { text: title, left: 'center', textStyle: { fontSize: 14 } } : undefined,
    tooltip: { trigger: 'item' },
    legend: { bottom: 0 },
    series: [{ type: 'pie', radius: ['35%', '65%'], data: items }],
  });
}

const SanjiCharts = { render, bar, line, pie, echarts };
window.echarts = echarts;
window.SanjiCharts = SanjiCharts;
export default SanjiCharts;
