// Total-control plans panel of the regulator view: the plans (five-year and annual, with their
// status and version), one plan's content, its progress chart (per pollutant and region: the
// planned amount against metered and verified emissions) and the progress table (per pollutant,
// region and year: path, adopted annual cap, reserve, metered, verified), from GET /plans and
// /plans/{id}/progress.

import { api } from '../api.js';
import { chart, dispose } from '../charts.js';
import { t } from '../i18n.js';
import { badge, card, el, empty, num, POLLUTANTS, table } from '../ui.js';

const STATUS_BADGE = { draft: 'near', adopted: 'within', superseded: 'none' };

function progressRows(progress, kind) {
  if (kind === 'annual') return progress.rows;
  // a five-year plan: one bar group per pollutant and year, regions summed
  const sums = new Map();
  for (const r of progress.rows) {
    const key = `${r.pollutant}:${r.year}`;
    const s = sums.get(key) || { ...r, region: null, planned_t: 0, metered_t: 0, verified_t: 0 };
    s.planned_t += r.planned_t; s.metered_t += r.metered_t; s.verified_t += r.verified_t;
    sums.set(key, s);
  }
  return [...sums.values()];
}

function drawProgress(node, progress, kind) {
  const rows = progressRows(progress, kind);
  const label = (r) => `${POLLUTANTS[r.pollutant] || r.pollutant} ${r.region ?? r.year}`;
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0 },
    grid: { left: 60, right: 16, top: 16, bottom: 56 },
    xAxis: { type: 'category', data: rows.map(label), axisLabel: { interval: 0, rotate: rows.length > 8 ? 30 : 0 } },
    yAxis: { type: 'value', name: 't' },
    series: [
      { name: t('plans.planned'), type: 'bar', data: rows.map((r) => r.planned_t), itemStyle: { color: '#7a4fd6' } },
      { name: t('plans.metered'), type: 'bar', data: rows.map((r) => Math.round(r.metered_t)), itemStyle: { color: '#5b8def' } },
      { name: t('plans.verified'), type: 'bar', data: rows.map((r) => r.verified_t), itemStyle: { color: '#2e7d32' } },
    ],
  });
  return c;
}

/** Every progress row: the path and the adopted annual cap (less its reserve) against metered and
 * verified emissions, per pollutant, region and year (the figures of GET /plans/{id}/progress). */
function progressTable(progress) {
  const share = (r) => (r.annual_cap_t ? `${((100 * r.metered_t) / r.annual_cap_t).toFixed(1)}%` : '–');
  const rows = progress.rows.map((r) => ({ ...r, __data: { row: `${r.pollutant}-${r.region}-${r.year}` } }));
  return table([
    { label: t('common.pollutant'), render: (r) => POLLUTANTS[r.pollutant] || r.pollutant },
    { label: t('plans.region'), key: 'region' },
    { label: t('plans.year'), key: 'year' },
    { label: t('plans.pathT'), num: true, render: (r) => num(r.path_t) },
    { label: t('plans.annualCap'), num: true, render: (r) => num(r.annual_cap_t) },
    { label: t('plans.reserveT'), num: true, render: (r) => num(r.reserve_t) },
    { label: t('plans.metered'), num: true, render: (r) => num(r.metered_t, 1) },
    { label: t('plans.verified'), num: true, render: (r) => num(r.verified_t) },
    { label: t('plans.meteredOfCap'), num: true, render: share },
  ], rows, { id: 'plan-progress-table' });
}

function contentTable(plan) {
  if (plan.kind === 'five_year') {
    const regions = (plan.content.regions || []).map((r) => `${r.region} ${(r.share_bps / 100).toFixed(2)}%`).join(' · ');
    return el('div', {},
      table([
        { label: t('common.pollutant'), render: (r) => POLLUTANTS[r.pollutant] || r.pollutant },
        { label: t('plans.base'), num: true, render: (r) => num(r.base_emissions) },
        { label: t('plans.target'), num: true, render: (r) => `${(r.target_bps / 100).toFixed(2)}%` },
        { label: t('plans.path'), render: (r) => r.path.map((v) => num(v)).join(' → ') },
      ], plan.content.pollutants || [], { id: 'plan-paths' }),
      el('p', { class: 'muted' }, `${t('plans.regions')}: ${regions}`));
  }
  return table([
    { label: t('common.pollutant'), render: (r) => POLLUTANTS[r.pollutant] || r.pollutant },
    { label: t('plans.region'), key: 'region' },
    { label: t('plans.cap'), num: true, render: (r) => num(r.cap) },
    { label: t('plans.reserve'), num: true, render: (r) => `${(r.reserve_share_bps / 100).toFixed(2)}%` },
    { label: t('plans.guidePrice'), num: true, render: (r) => num(r.guide_price) },
  ], plan.content.caps || [], { id: 'plan-caps' });
}

/** The plans panel: a list, and the selected plan's content and progress. */
export async function regulatorPlans() {
  let plans;
  try {
    plans = (await api('/plans', { params: { limit: 50 } })).items;
  } catch {
    return card(t('plans.title'), empty(t('plans.none')));
  }
  const detail = el('div', { id: 'plan-detail' });
  let drawn = null;
  const show = async (plan) => {
    const progress = await api(`/plans/${plan.plan_id}/progress`);
    if (drawn) dispose(drawn);
    const node = el('div', { class: 'chart small', id: 'plan-progress', role: 'img', 'aria-label': t('plans.progress') });
    detail.replaceChildren(
      el('h3', {}, `${t(`plans.kind.${plan.kind}`)} #${plan.plan_id} v${plan.version} · ${plan.start_year}–${plan.end_year}`),
      contentTable(plan), el('h3', {}, t('plans.progress')), node, progressTable(progress));
    drawn = drawProgress(node, progress, plan.kind);
  };
  const rows = plans.map((p) => ({ ...p, __data: { plan: String(p.plan_id) } }));
  const list = table([
    { label: '#', key: 'plan_id' },
    { label: t('plans.kindLabel'), render: (p) => t(`plans.kind.${p.kind}`) },
    { label: t('plans.period'), render: (p) => (p.start_year === p.end_year ? String(p.start_year) : `${p.start_year}–${p.end_year}`) },
    { label: t('plans.version'), num: true, key: 'version' },
    { label: t('plans.status'), render: (p) => badge(STATUS_BADGE[p.status] || 'none', t(`plans.status.${p.status}`)) },
  ], rows, { id: 'plans', empty: t('plans.none') });
  list.addEventListener('click', (event) => {
    const row = event.target.closest('tr[data-plan]');
    const plan = row && plans.find((p) => String(p.plan_id) === row.dataset.plan);
    if (plan) show(plan);
  });
  if (plans.length) await show(plans.find((p) => p.kind === 'annual' && p.status === 'adopted') || plans[0]);
  return card(t('plans.title'), el('div', { class: 'grid' },
    el('div', { class: 'span-5' }, list), el('div', { class: 'span-7' }, detail)));
}
