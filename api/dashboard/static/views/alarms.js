// Field alarms panel of the regulator: the monitoring sites' alarms (quota 80/90/100 %, over-standard,
// facility stopped, instrument maintenance, parameter tampering) as markers on a map of China (one
// per enterprise and device, coloured by the highest open severity) and as a list with filters
// and the acknowledge action, from GET /alarms/markers, GET /alarms, POST /alarms/{id}/acknowledge.

import { api } from '../api.js';
import { chart, loadChinaMap } from '../charts.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, num, short, table, when } from '../ui.js';

export const KINDS = ['quota', 'over_standard', 'facility_stopped', 'instrument_maintenance', 'parameter_tampering'];
const SEVERITY_COLORS = { 0: '#9aa5b1', 1: '#5b8def', 2: '#ef8f00', 3: '#d32f2f' };
const SEVERITY_BADGE = { 1: 'none', 2: 'near', 3: 'over' };

const kindLabel = (kind) => t(`fieldAlarms.kind.${kind}`);
const severityLabel = (severity) => t(`fieldAlarms.severity.${severity}`);

function drawMarkers(node, markers) {
  const placed = markers.filter((m) => m.longitude !== null && m.latitude !== null);
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: {
      trigger: 'item',
      formatter: (p) => {
        // Tooltips are HTML: names and device codes come from the registry and the sites, so escaped.
        const html = window.echarts.format.encodeHTML;
        const m = placed[p.data.i];
        const kinds = Object.entries(m.kinds).map(([k, n]) => `${kindLabel(k)} ${num(n)}`).join(', ');
        return `${html(m.name || short(m.enterprise))} · ${html(m.mn)}<br>${html(severityLabel(m.severity))} · ${num(m.open)} / ${num(m.total)}<br>${html(kinds)}`;
      },
    },
    geo: {
      map: 'china', roam: true, zoom: 1.15, top: 10, bottom: 10,
      itemStyle: { areaColor: '#eef2f6', borderColor: '#b7c3d0' },
      emphasis: { itemStyle: { areaColor: '#dde6ef' }, label: { show: false } },
    },
    series: [{
      name: t('fieldAlarms.map'),
      type: 'scatter',
      coordinateSystem: 'geo',
      symbolSize: (v, p) => 8 + 3 * placed[p.dataIndex].severity,
      data: placed.map((m, i) => ({ value: [m.longitude, m.latitude], i, itemStyle: { color: SEVERITY_COLORS[m.severity] } })),
    }],
  });
  return c;
}

function markerList(markers) {
  return el('ul', { class: 'list', id: 'field-alarm-markers' }, markers.map((m) =>
    el('li', { dataset: { mn: m.mn, severity: String(m.severity) } },
      badge(SEVERITY_BADGE[m.severity] || 'within', severityLabel(m.severity)),
      el('strong', {}, m.name || short(m.enterprise)), ' ', el('span', { class: 'muted' }, `${m.mn} · ${num(m.open)} / ${num(m.total)}`))));
}

function alarmsTable(items, onAck) {
  const rows = items.map((a) => ({ ...a, __data: { alarm: String(a.id), kind: a.kind } }));
  return table([
    { label: t('fieldAlarms.time'), render: (a) => when(a.at) },
    { label: t('fieldAlarms.severity'), render: (a) => badge(SEVERITY_BADGE[a.severity], severityLabel(a.severity)) },
    { label: t('fieldAlarms.kindLabel'), render: (a) => kindLabel(a.kind) },
    { label: t('fieldAlarms.device'), render: (a) => `${a.mn}${a.pollutant ? ` · ${a.pollutant}` : ''}` },
    { label: t('fieldAlarms.message'), render: (a) => a.message },
    { label: t('fieldAlarms.review'), render: (a) => (a.review ? `${when(a.review.begin_at)} – ${a.review.end_at ? when(a.review.end_at) : t('fieldAlarms.ongoing')}` : '–') },
    {
      label: t('common.actions'),
      render: (a) => {
        if (a.acknowledged_at) return el('span', { class: 'muted acked' }, `${t('fieldAlarms.acknowledged')} ${when(a.acknowledged_at)}`);
        const button = el('button', { type: 'button', class: 'btn small ack' }, t('fieldAlarms.acknowledge'));
        button.addEventListener('click', () => busy(button, () => onAck(a), t('fieldAlarms.acknowledgedToast')));
        return button;
      },
    },
  ], rows, { id: 'field-alarms', empty: t('fieldAlarms.none') });
}

/** The regulator's field alarms panel: map of markers and the filtered list. */
export async function regulatorFieldAlarms() {
  const box = el('div', { id: 'field-alarms-panel' });
  const mapNode = el('div', { class: 'chart map', id: 'field-alarm-map', role: 'img', 'aria-label': t('fieldAlarms.map') });
  const listHost = el('div', { id: 'field-alarm-list' });
  const markersHost = el('div', {});
  const kind = el('select', { id: 'field-alarm-kind', 'aria-label': t('fieldAlarms.kindLabel') },
    el('option', { value: '' }, t('fieldAlarms.allKinds')), KINDS.map((k) => el('option', { value: k }, kindLabel(k))));
  const openOnly = el('input', { type: 'checkbox', id: 'field-alarm-open' });
  let mapChart = null;

  async function load() {
    const params = { limit: 100 };
    if (kind.value) params.kind = kind.value;
    if (openOnly.checked) params.acknowledged = false;
    const [page, markers] = await Promise.all([api('/alarms', { params }), api('/alarms/markers')]);
    listHost.replaceChildren(el('p', { class: 'muted', id: 'field-alarm-total' }, t('fieldAlarms.total', { n: num(page.total) })),
      alarmsTable(page.items, async (a) => {
        await api(`/alarms/${a.id}/acknowledge`, { method: 'POST', body: {} });
        await load();
      }));
    markersHost.replaceChildren(markers.length ? markerList(markers) : empty(t('fieldAlarms.none')));
    if (mapChart) mapChart.dispose();
    mapChart = drawMarkers(mapNode, markers);
    await mapChart.whenDrawn;
    box.dataset.ready = '1';
  }

  try {
    await loadChinaMap();
  } catch {
    return card(t('fieldAlarms.title'), empty(t('fieldAlarms.none')));
  }
  kind.addEventListener('change', () => { box.dataset.ready = ''; load(); });
  openOnly.addEventListener('change', () => { box.dataset.ready = ''; load(); });
  box.append(card(t('fieldAlarms.title'),
    el('div', { class: 'controls' }, kind, el('label', { for: 'field-alarm-open' }, openOnly, ` ${t('fieldAlarms.openOnly')}`)),
    el('div', { class: 'grid' },
      el('div', { class: 'span-7' }, mapNode),
      el('div', { class: 'span-5' }, markersHost)),
    listHost));
  try {
    await load();
  } catch {
    return card(t('fieldAlarms.title'), empty(t('fieldAlarms.none')));
  }
  return box;
}
