// The trading floor's charts (vendored Apache ECharts): the day's listing trades per minute (price
// line over the reference, volume bars) and the daily candlesticks (open, high, low, close,
// volume) from /market/quotes. A rise shows red and a fall green, as Chinese exchanges show them.

import { chart } from '../charts.js';
import { t } from '../i18n.js';
import { num, TIME_ZONE, yuan } from '../ui.js';

const RISE = '#d32f2f';
const FALL = '#2e7d32';

function clock(unix) {
  return new Date(unix * 1000).toLocaleTimeString('en-GB', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit' });
}

/** Price per minute (¥/t, last trade of the minute) over the reference, tonnes per minute below. */
export function drawIntraday(node, intraday, reference) {
  const minutes = intraday.minutes;
  const c = chart(node);
  const times = minutes.map((x) => clock(x.time));
  c.setOption({
    animation: false,
    tooltip: { trigger: 'axis', valueFormatter: (v) => num(v, 2) },
    legend: { top: 0 },
    grid: [{ left: 60, right: 16, top: 30, height: '52%' }, { left: 60, right: 16, top: '72%', bottom: 24 }],
    xAxis: [
      { type: 'category', data: times, gridIndex: 0, axisLabel: { show: false } },
      { type: 'category', data: times, gridIndex: 1 },
    ],
    yAxis: [
      { type: 'value', scale: true, gridIndex: 0, name: t('market.priceYuan') },
      { type: 'value', gridIndex: 1, splitNumber: 2 },
    ],
    series: [
      {
        name: t('market.price'), type: 'line', xAxisIndex: 0, yAxisIndex: 0, showSymbol: minutes.length < 30,
        data: minutes.map((x) => x.close / 100), itemStyle: { color: '#5b8def' },
        markLine: { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: '#8a96a3' },
          label: { position: 'insideEndTop', formatter: () => `${t('market.reference')} ${yuan(reference)}` }, data: [{ yAxis: reference / 100 }] },
      },
      {
        name: t('market.volume'), type: 'bar', xAxisIndex: 1, yAxisIndex: 1,
        data: minutes.map((x, i) => ({ value: x.volume, itemStyle: { color: x.close >= (i ? minutes[i - 1].close : reference) ? RISE : FALL } })),
      },
    ],
  });
  return c;
}

/** Daily candlesticks of the official listing quote, oldest day first, with the volume below. */
export function drawCandles(node, quotes) {
  const days = [...quotes].sort((a, b) => (a.day < b.day ? -1 : 1));
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'cross' } },
    grid: [{ left: 60, right: 16, top: 16, height: '58%' }, { left: 60, right: 16, top: '78%', bottom: 24 }],
    xAxis: [
      { type: 'category', data: days.map((q) => q.day), gridIndex: 0, axisLabel: { show: false } },
      { type: 'category', data: days.map((q) => q.day), gridIndex: 1 },
    ],
    yAxis: [
      { type: 'value', scale: true, gridIndex: 0, name: t('market.priceYuan') },
      { type: 'value', gridIndex: 1, splitNumber: 2 },
    ],
    series: [
      {
        name: t('market.candles'), type: 'candlestick', xAxisIndex: 0, yAxisIndex: 0,
        // ECharts wants [open, close, low, high]; the close is the day's VWAP (the official close)
        data: days.map((q) => [q.open / 100, q.close / 100, q.low / 100, q.high / 100]),
        itemStyle: { color: RISE, color0: FALL, borderColor: RISE, borderColor0: FALL },
      },
      {
        name: t('market.volume'), type: 'bar', xAxisIndex: 1, yAxisIndex: 1,
        data: days.map((q) => ({ value: q.volume, itemStyle: { color: q.close >= q.open ? RISE : FALL } })),
      },
    ],
  });
  return c;
}
