// Regulator view: supply per pollutant and vintage, map of enterprises by quota status, annual
// trend with the proposed cap, compliance progress with the review action, alarms, proposals; the
// market's large holders of a settled day and the surveillance alerts (market-ops.js).

import { api } from '../api.js';
import { chart, loadChinaMap, STATUS_COLORS } from '../charts.js';
import { lang, t, tn } from '../i18n.js';
import { badge, busy, card, el, empty, field, kpi, num, pct, POLLUTANTS, short, table, toast, when } from '../ui.js';
import { sendAction } from '../wallet.js';
import { regulatorMarket } from './market-ops.js';
import { regulatorPlans } from './plans.js';
import { regulatorPermits } from './permits.js';
import { regulatorReserve } from './reserve.js';
import { regulatorCards } from './cards.js';
import { regulatorFieldAlarms } from './alarms.js';
import { reviewPanel } from './review.js';

const STATUSES = ['over', 'near', 'within', 'none'];

function provinceLabel(name, ids) {
  const id = ids[name];
  if (lang() === 'zh' || !id) return name;
  const label = t(`province.${id}`);
  return label === `province.${id}` ? name : label;
}

function drawMap(node, overview, geo, details) {
  const ids = {};
  const nameOf = {};
  for (const f of geo.features) {
    ids[f.properties.name] = f.id;
    nameOf[String(f.id).slice(0, 2)] = f.properties.name;
  }
  const overBy = {};
  for (const e of overview.enterprises) {
    if (e.status !== 'over' || !e.region_code) continue;
    const name = nameOf[String(e.region_code).slice(0, 2)];
    if (name) overBy[name] = (overBy[name] || 0) + 1;
  }
  const maxOver = Math.max(1, ...Object.values(overBy));
  const series = STATUSES.map((status) => ({
    name: t(`status.${status}`),
    type: 'scatter',
    coordinateSystem: 'geo',
    symbolSize: status === 'over' ? 8 : 6,
    itemStyle: { color: STATUS_COLORS[status], borderColor: '#fff', borderWidth: 0.5 },
    z: { over: 5, near: 4, within: 3, none: 2 }[status],
    data: overview.enterprises
      .map((e, i) => (e.status === status && e.longitude !== null ? { value: [e.longitude, e.latitude], i } : null))
      .filter(Boolean),
  }));
  series.unshift({
    type: 'map',
    geoIndex: 0,
    name: t('map.overByProvince'),
    data: Object.entries(overBy).map(([name, value]) => ({ name, value })),
  });
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: {
      trigger: 'item',
      formatter: (p) => {
        // Tooltips are HTML: names come from the registry, so they are escaped.
        const html = window.echarts.format.encodeHTML;
        if (p.seriesType === 'map') return html(`${provinceLabel(p.name, ids)}: ${num(p.value || 0)} ${t('map.over')}`);
        const e = overview.enterprises[p.data.i];
        return `${html(e.name || short(e.address))}<br>${html(t(`status.${e.status}`))} · ${num(e.used)} / ${num(e.quota)} t`;
      },
    },
    legend: { bottom: 0, data: STATUSES.map((s) => t(`status.${s}`)) },
    visualMap: {
      // The scale's ends carry their numbers: 0 and the most enterprises over quota in a province.
      min: 0, max: maxOver, seriesIndex: 0, left: 8, bottom: 40, itemHeight: 80,
      text: [`${num(maxOver)} · ${t('map.overByProvince')}`, num(0)], inRange: { color: ['#f5f7fa', '#f4b6b6'] },
      calculable: false, id: 'province-legend',
    },
    geo: {
      map: 'china', roam: true, zoom: 1.15, top: 20, bottom: 60,
      itemStyle: { areaColor: '#eef2f6', borderColor: '#b7c3d0' },
      emphasis: { itemStyle: { areaColor: '#dde6ef' }, label: { show: false } },
    },
    series,
  });
  c.on('click', (p) => {
    if (p.seriesType === 'scatter') details(overview.enterprises[p.data.i]);
  });
  return c;
}

function drawTrend(node, overview) {
  const points = overview.trend;
  const outlook = overview.outlook;
  const years = points.map((p) => p.year);
  if (outlook && !years.includes(outlook.target_year)) years.push(outlook.target_year);
  const at = (year, key) => {
    const p = points.find((x) => x.year === year);
    return p && p[key] !== null ? p[key] : null;
  };
  const scale = Math.max(1, ...points.map((p) => Math.max(p.emissions || 0, p.allocated || 0)));
  const caps = years.map((y) => at(y, 'cap'));
  const capsShown = caps.some((c) => c !== null && c <= 5 * scale);
  const series = [
    { name: t('trend.emissions'), type: 'bar', data: years.map((y) => at(y, 'emissions')), itemStyle: { color: '#5b8def' } },
    { name: t('trend.allocated'), type: 'line', data: years.map((y) => at(y, 'allocated')), itemStyle: { color: '#2e7d32' } },
  ];
  if (capsShown) series.push({ name: t('trend.cap'), type: 'line', step: 'middle', data: caps, itemStyle: { color: '#7a4fd6' } });
  if (outlook) {
    series.push({
      name: t('trend.proposedCap'),
      type: 'scatter',
      symbol: 'diamond',
      symbolSize: 14,
      itemStyle: { color: '#d32f2f' },
      data: years.map((y) => (y === outlook.target_year ? outlook.proposed_cap : null)),
      label: { show: true, position: 'top', formatter: () => num(outlook.proposed_cap) },
    });
    series.push({
      name: t('trend.fitted'),
      type: 'line',
      symbol: 'none',
      lineStyle: { type: 'dashed', color: '#8a96a3' },
      itemStyle: { color: '#8a96a3' },
      data: years.map((y) => Math.max(0, Math.round(outlook.projected + outlook.slope * (y - outlook.target_year)))),
    });
  }
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { top: 0, type: 'scroll' },
    grid: { left: 60, right: 16, top: 40, bottom: 30 },
    xAxis: { type: 'category', data: years.map(String) },
    yAxis: { type: 'value', name: 't', axisLabel: { formatter: (v) => num(v) } },
    series,
  });
  return c;
}

function drawSupply(node, overview) {
  const rows = overview.supply.filter((r) => r.kind === 'allowance');
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 16, top: 36, bottom: 30 },
    xAxis: { type: 'category', data: rows.map((r) => String(r.vintage)) },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => num(v) } },
    series: [
      { name: t('supply.issued'), type: 'bar', data: rows.map((r) => r.issued), itemStyle: { color: '#5b8def' } },
      { name: t('supply.held'), type: 'bar', data: rows.map((r) => r.held), itemStyle: { color: '#2e7d32' } },
      { name: t('supply.retired'), type: 'bar', data: rows.map((r) => r.retired), itemStyle: { color: '#8a96a3' } },
    ],
  });
  return c;
}

function detailsPanel(box) {
  return (e) => {
    box.replaceChildren(
      el('h3', {}, e.name || short(e.address)),
      el('dl', { class: 'details', id: 'enterprise-details' },
        el('dt', {}, t('common.address')), el('dd', { class: 'mono' }, e.address),
        el('dt', {}, t('common.region')), el('dd', {}, e.region_code ?? '–'),
        el('dt', {}, t('common.status')), el('dd', {}, badge(e.status)),
        el('dt', {}, t('map.used')), el('dd', {}, `${num(e.used)} t${e.verified ? ` (${t('map.verified')})` : ` (${t('map.metered')})`}`),
        el('dt', {}, t('map.quota')), el('dd', {}, `${num(e.quota)} t ${e.quota ? `· ${pct(e.used / e.quota)}` : ''}`),
        el('dt', {}, t('common.location')), el('dd', {}, e.latitude !== null ? `${e.latitude.toFixed(3)}, ${e.longitude.toFixed(3)}` : '–')),
      el('a', { href: `#/audit?account=${e.address}` }, t('map.trail')),
    );
  };
}

function applicationsCard(rows, names, ctx) {
  const reasonBox = el('div');
  const columns = [
    { label: '#', render: (a) => String(a.application_id) },
    { label: t('common.enterprise'), render: (a) => names[a.enterprise] || short(a.enterprise) },
    { label: t('common.year'), render: (a) => String(a.year) },
    { label: t('compliance.verified'), num: true, render: (a) => num(a.verified) },
    { label: t('compliance.allowances'), num: true, render: (a) => num(a.allowances) },
    { label: t('compliance.offsets'), num: true, render: (a) => num(a.offsets) },
    { label: t('common.status'), render: (a) => badge(a.status === 'approved' ? 'within' : a.status === 'rejected' ? 'over' : 'info', t(`application.${a.status}`)) },
    { label: t('common.submitted'), render: (a) => when(a.submitted_time) },
    {
      label: t('common.actions'),
      render: (a) => (a.status !== 'submitted' ? '' : el('span', {},
        el('button', {
          class: 'btn small primary', dataset: { approve: a.application_id },
          onclick: (ev) => busy(ev.currentTarget, async () => {
            await sendAction(await ctx.signer(), 'ComplianceManager', 'approve', [a.application_id]);
            toast(t('compliance.approvedToast', { id: a.application_id }), 'ok');
            await ctx.refresh();
          }),
        }, t('compliance.approve')), ' ',
        el('button', { class: 'btn small danger', dataset: { reject: a.application_id }, onclick: () => rejectForm(reasonBox, a, ctx) }, t('compliance.reject')))),
    },
  ];
  return card(t('compliance.applications'), table(columns, rows, { id: 'applications', empty: t('compliance.noApplications') }), reasonBox);
}

function rejectForm(box, application, ctx) {
  const code = el('select', { id: 'reject-code' }, [1, 2, 3, 4].map((c) => el('option', { value: c }, t(`reject.code${c}`))));
  const reason = el('input', { id: 'reject-reason', maxlength: 200, placeholder: t('reject.reasonHint') });
  const send = el('button', { class: 'btn danger', id: 'reject-send', type: 'button' }, t('compliance.reject'));
  send.addEventListener('click', () => busy(send, async () => {
    await sendAction(await ctx.signer(), 'ComplianceManager', 'reject', [application.application_id, Number(code.value), reason.value || t('reject.default')]);
    toast(t('compliance.rejectedToast', { id: application.application_id }), 'ok');
    await ctx.refresh();
  }));
  box.replaceChildren(el('h3', {}, t('reject.title', { id: application.application_id })),
    el('div', { class: 'form' }, field(t('reject.code'), code), field(t('reject.reason'), reason), send));
}

/** An alarm's detail in the page's language, from its code and figures. */
export function alarmDetail(a) {
  const p = a.params || {};
  if (a.code === 'quota') {
    const share = p.quota ? ` (${pct(p.used / p.quota)})` : '';
    return t('alarmDetail.quota', { used: num(p.used), quota: num(p.quota), share });
  }
  if (a.code === 'flagged') return tn('alarmDetail.flagged', p.count);
  if (a.code === 'ack_overdue') return t('alarmDetail.ack_overdue', { year: p.year });
  return t(`alarmDetail.${a.code}`);
}

function alarmsCard(overview, names) {
  const list = overview.alarms.map((a) => el('li', { dataset: { alarm: a.code } },
    badge(a.severity, t(`severity.${a.severity}`)), el('strong', {}, t(`alarm.${a.kind}`)),
    el('span', { class: 'who' }, a.name || names[a.subject] || short(a.subject)), el('span', { class: 'muted detail' }, alarmDetail(a))));
  const counts = overview.alarm_counts;
  const summary = [tn('alarms.ack', counts.ack_overdue || 0), tn('alarms.quota', counts.quota || 0), tn('alarms.device', counts.device || 0)];
  return card(t('alarms.title'),
    el('p', { class: 'muted', id: 'alarm-summary' }, summary.join(' · ')),
    list.length ? el('ul', { class: 'list scroll alarms', id: 'alarms' }, list) : empty(t('alarms.none')));
}

function proposalsCard(rows, now, ctx) {
  const open = rows.filter((p) => !p.executed && p.deadline > now);
  const columns = [
    { label: '#', render: (p) => String(p.proposal_id) },
    { label: t('proposals.description'), render: (p) => p.description },
    { label: t('proposals.proposer'), render: (p) => short(p.proposer) },
    { label: t('proposals.approvals'), num: true, render: (p) => String(p.approvals) },
    { label: t('proposals.deadline'), render: (p) => when(p.deadline) },
    {
      label: t('common.actions'),
      render: (p) => el('span', {},
        el('button', { class: 'btn small', dataset: { approveProposal: p.proposal_id }, onclick: (ev) => busy(ev.currentTarget, async () => {
          await sendAction(await ctx.signer(), 'ConsortiumRegistry', 'approve', [p.proposal_id]);
          await ctx.refresh();
        }, t('proposals.approvedToast')) }, t('proposals.approve')), ' ',
        el('button', { class: 'btn small', dataset: { executeProposal: p.proposal_id }, onclick: (ev) => busy(ev.currentTarget, async () => {
          await sendAction(await ctx.signer(), 'ConsortiumRegistry', 'execute', [p.proposal_id]);
          await ctx.refresh();
        }, t('proposals.executedToast')) }, t('proposals.execute'))),
    },
  ];
  return card(t('proposals.title'), table(columns, open, { id: 'proposals', empty: t('proposals.none') }));
}

export async function render(root, ctx) {
  const pollutant = Number(ctx.params.pollutant || 1);
  const year = ctx.params.year ? Number(ctx.params.year) : undefined;
  const [overview, proposals, geo] = await Promise.all([
    api('/dashboard/api/overview', { params: { pollutant, year } }),
    api('/proposals', { params: { executed: false, limit: 100 } }),
    loadChinaMap(),
  ]);
  const names = Object.fromEntries(overview.enterprises.map((e) => [e.address, e.name]));
  const c = overview.compliance;
  const counts = overview.counts;

  const pollutantSelect = el('select', { id: 'pollutant', 'aria-label': t('common.pollutant') },
    Object.entries(POLLUTANTS).map(([code, label]) => el('option', { value: code, selected: Number(code) === pollutant }, label)));
  const yearSelect = el('select', { id: 'year', 'aria-label': t('common.year') },
    overview.years.map((y) => el('option', { value: y, selected: y === overview.year }, String(y))));
  const navigate = () => { location.hash = `#/regulator?pollutant=${pollutantSelect.value}&year=${yearSelect.value}`; };
  pollutantSelect.addEventListener('change', () => { location.hash = `#/regulator?pollutant=${pollutantSelect.value}`; });
  yearSelect.addEventListener('change', navigate);

  const mapNode = el('div', { class: 'chart map', id: 'map', role: 'img', 'aria-label': t('map.title') });
  const trendNode = el('div', { class: 'chart', id: 'trend', role: 'img', 'aria-label': t('trend.title') });
  const supplyNode = el('div', { class: 'chart small', id: 'supply-chart', role: 'img', 'aria-label': t('supply.title') });
  const detailsBox = el('div', { id: 'details' }, el('p', { class: 'muted' }, t('map.clickHint')));
  const supplyRows = overview.supply;
  const supplyTable = table([
    { label: t('supply.token'), render: (r) => `${POLLUTANTS[r.pollutant] || r.pollutant} ${r.vintage}${r.kind === 'offset' ? ` (${t('supply.offset')})` : ''}` },
    { label: t('supply.cap'), num: true, render: (r) => num(r.cap) },
    { label: t('supply.issued'), num: true, render: (r) => num(r.issued) },
    { label: t('supply.held'), num: true, render: (r) => num(r.held) },
    { label: t('supply.retired'), num: true, render: (r) => num(r.retired) },
  ], supplyRows, { id: 'supply' });
  const market = el('div', { id: 'regulator-market-host' });
  const trendNote = overview.outlook
    ? t('trend.outlook', { year: overview.outlook.target_year, cap: num(overview.outlook.proposed_cap), rate: pct(overview.outlook.reduction_rate) })
    : t('trend.noOutlook');

  root.append(
    el('div', { class: 'view-head' },
      el('h1', {}, t('regulator.title', { pollutant: POLLUTANTS[pollutant] || pollutant, year: overview.year ?? '–' })),
      el('div', { class: 'controls' }, pollutantSelect, yearSelect)),
    el('div', { class: 'grid' }, el('div', { class: 'span-12 card' }, el('div', { class: 'kpis', id: 'kpis' },
      kpi(t('kpi.enterprises'), num(overview.enterprises.length)),
      kpi(t('status.within'), num(counts.within), 'within'),
      kpi(t('status.near'), num(counts.near), 'near'),
      kpi(t('status.over'), num(counts.over), 'over'),
      kpi(t('kpi.notices'), num(c.notices)),
      kpi(t('kpi.acknowledged'), `${num(c.acknowledged)} / ${num(c.notices)}`),
      kpi(t('kpi.pending'), num(c.pending)),
      kpi(t('kpi.approved'), num(c.approved)),
      kpi(t('kpi.rate'), pct(c.rate), '', 'kpi-rate'),
      kpi(t('kpi.outcomes'), t('kpi.outcomesValue', { a: num(c.compliant), b: num(c.shortfall), c: num(c.no_verified) }), '', 'kpi-outcomes'),
      kpi(t('kpi.proposals'), num(overview.proposals_open))))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-8' }, card(t('map.title'), mapNode)),
      el('div', { class: 'span-4' }, card(t('map.details'), detailsBox))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-7' }, card(t('trend.title'), trendNode, el('p', { class: 'muted', id: 'outlook' }, trendNote))),
      el('div', { class: 'span-5' }, card(t('supply.title'), supplyNode, supplyTable))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-7' }, applicationsCard(overview.applications, names, ctx)),
      el('div', { class: 'span-5' }, alarmsCard(overview, names))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, proposalsCard(proposals.items, overview.generated_at, ctx))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'regulator-plans-host' })),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'regulator-permits-host' })),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'regulator-reserve-host' })),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'regulator-cards-host' })),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'regulator-field-alarms-host' })),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'regulator-review-host' })),
    el('h2', { class: 'section-head' }, t('ops.regulatorTitle')),
    market,
  );

  const charts = [drawMap(mapNode, overview, geo, detailsPanel(detailsBox)), drawTrend(trendNode, overview), drawSupply(supplyNode, overview)];
  // the market panel loads alongside; the overview is ready without it
  const marketDone = regulatorMarket().then((panel) => market.replaceChildren(panel));
  const plansDone = regulatorPlans().then((panel) => root.querySelector('#regulator-plans-host').replaceChildren(panel));
  await Promise.all(charts.map((x) => x.whenDrawn));
  performance.mark('overview-ready');
  root.dataset.overviewReady = '1';
  const permitsDone = regulatorPermits(ctx).then((panel) => root.querySelector('#regulator-permits-host').replaceChildren(panel));
  const reserveDone = regulatorReserve().then((panel) => root.querySelector('#regulator-reserve-host').replaceChildren(panel));
  const fieldAlarmsDone = regulatorFieldAlarms().then((panel) => root.querySelector('#regulator-field-alarms-host').replaceChildren(panel));
  const reviewDone = reviewPanel(ctx, overview.enterprises).then((panel) => root.querySelector('#regulator-review-host').replaceChildren(panel));
  const cardsDone = regulatorCards().then((panel) => root.querySelector('#regulator-cards-host').replaceChildren(panel));
  await Promise.all([marketDone, plansDone, permitsDone, fieldAlarmsDone, reviewDone, reserveDone, cardsDone]);
}
