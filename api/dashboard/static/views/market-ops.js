// The market's operations panels: the exchange's rulebook per token id with its halt switch
// (per token id and for the whole market, token id 0, with a reason, through POST /tx/market), the
// day's quotes and the surveillance alerts with the trades behind them; the regulator's
// large-holder report of a settled day and the same alerts.

import { api, all } from '../api.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, num, short, table, tokenLabel, yuan } from '../ui.js';
import { quoteColumns, tonnes } from './market.js';
import { marketAction } from './market-live.js';

/** Seconds of the CST day as `HH:MM`. */
function hhmm(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

function bps(value) {
  return value === null || value === undefined ? '–' : `${(value / 100).toFixed(2)}%`;
}

function positionLimit(r) {
  const parts = [];
  if (r.position_limit) parts.push(tonnes(r.position_limit));
  if (r.position_limit_bps) parts.push(t('ops.ofIssued', { share: bps(r.position_limit_bps) }));
  return parts.length ? parts.join(' · ') : t('ops.none');
}

/** Halt (with a reason) or resume `tokenId` (0: the whole market) as the exchange. */
function haltControl(ctx, tokenId, halted, after) {
  const key = tokenId === 0 ? 'all' : String(tokenId);
  if (halted) {
    const resume = el('button', { class: 'btn small', type: 'button', id: `resume-${key}` }, t('ops.resume'));
    resume.addEventListener('click', () => busy(resume, async () => {
      await marketAction(await ctx.signer(), { action: 'resume', token_id: tokenId });
      await after();
    }, t('ops.resumed')));
    return resume;
  }
  const reason = el('input', { id: `halt-reason-${key}`, placeholder: t('ops.reason'), maxlength: 200, class: 'small' });
  const halt = el('button', { class: 'btn small danger', type: 'button', id: `halt-${key}` }, t('ops.halt'));
  halt.addEventListener('click', () => busy(halt, async () => {
    if (!reason.value.trim()) throw new Error(t('ops.reasonNeeded'));
    await marketAction(await ctx.signer(), { action: 'halt', token_id: tokenId, reason: reason.value.trim() });
    await after();
  }, t('ops.halted')));
  return el('span', { class: 'halt-control' }, reason, ' ', halt);
}

/** A rulebook's status: its own halt (with its reason) and the whole market's, each named. */
function haltStatus(r) {
  if (!r.halted) return badge('within', t('ops.trading'));
  const parts = [];
  if (r.halted_self) parts.push(badge('over', t('ops.haltedBadge')), ' ', r.halt_reason_self || '');
  if (r.market_halted) parts.push(parts.length ? ' · ' : '', badge('over', t('ops.wholeMarket')), ' ', r.market_halt_reason || '');
  return el('span', {}, ...parts);
}

function rulebookTable(rules, ctx, after) {
  const exchange = ctx.me.roles.includes('EXCHANGE');
  const columns = [
    { label: t('market.token'), render: (r) => tokenLabel(r.token_id) },
    { label: t('market.reference'), num: true, render: (r) => yuan(r.reference_price) },
    { label: t('market.band'), num: true, render: (r) => `${yuan(r.band_lower)} – ${yuan(r.band_upper)} (±${bps(r.band_bps)})` },
    { label: t('market.blockBand'), num: true, render: (r) => `${yuan(r.block_band_lower)} – ${yuan(r.block_band_upper)} (±${bps(r.block_band_bps)})` },
    { label: t('ops.blockMinimum'), num: true, render: (r) => tonnes(r.block_minimum) },
    { label: t('market.fee'), num: true, render: (r) => `${num(r.fee_bps)} bps` },
    { label: t('ops.sessions'), render: (r) => `${hhmm(r.call_start)}–${hhmm(r.open1)} · ${hhmm(r.open1)}–${hhmm(r.close1)} · ${hhmm(r.open2)}–${hhmm(r.close2)} (${t('ops.blocksFrom', { time: hhmm(r.block_from) })})` },
    { label: t('ops.positionLimit'), render: positionLimit },
    { label: t('ops.governed'), render: (r) => (r.governed ? t('ops.yes') : t('ops.no')) },
    { label: t('ops.status'), render: haltStatus },
  ];
  // the switch acts on the token id's own halt (the whole market's has its own switch)
  if (exchange) columns.push({ label: t('ops.switch'), render: (r) => haltControl(ctx, r.token_id, r.halted_self, after) });
  const data = (r) => ({ token: String(r.token_id), halted: String(r.halted), haltedSelf: String(r.halted_self), marketHalted: String(r.market_halted) });
  return table(columns, rules.map((r) => ({ ...r, __data: data(r) })), { id: 'rulebooks', empty: t('market.none') });
}

function quotesTable(quotes) {
  const order = ['listing', 'call', 'continuous', 'take', 'block'];
  const sorted = [...quotes].sort((a, b) => a.token_id - b.token_id || order.indexOf(a.mode) - order.indexOf(b.mode));
  return table([
    { label: t('market.token'), render: (q) => tokenLabel(q.token_id) },
    ...quoteColumns(),
  ], sorted.map((q) => ({ ...q, __data: { token: String(q.token_id), mode: q.mode } })), { id: 'ops-quotes', empty: t('market.noQuotes') });
}

/** The trades behind an alert (the day's trades of its token id, matched by id). */
async function alertTrades(alert) {
  const trades = await all('/market/trades', { token_id: alert.token_id, day_from: alert.day, day_to: alert.day }, 20000);
  const wanted = new Set(alert.trade_ids.map(Number));
  return table([
    { label: '#', render: (x) => String(x.id) },
    { label: t('market.mode'), render: (x) => t(`market.mode.${x.mode}`) },
    { label: t('market.price'), num: true, render: (x) => yuan(x.price) },
    { label: t('market.quantity'), num: true, render: (x) => tonnes(x.quantity) },
    { label: t('ops.buyer'), render: (x) => short(x.buyer) },
    { label: t('ops.seller'), render: (x) => short(x.seller) },
  ], trades.filter((x) => wanted.has(Number(x.id))).map((x) => ({ ...x, __data: { trade: String(x.id) } })), { id: `alert-trades-${alert.id}`, empty: t('market.noTrades') });
}

/** The surveillance alerts (GET /market/alerts), each with a button showing its trades. */
export async function alertsCard(params = {}) {
  let page;
  try {
    page = await api('/market/alerts', { params: { limit: 100, ...params } });
  } catch (err) {
    return card(t('ops.alerts'), el('p', { class: 'error', role: 'alert', id: 'alerts-error' }, `${t('common.failed')}: ${err.message || err}`));
  }
  const items = page.items || [];
  const detail = (a) => (typeof a.detail === 'string' ? a.detail : Object.entries(a.detail || {}).map(([k, v]) => `${k} ${v}`).join(', '));
  const box = el('div', { id: 'alert-trades' });
  const rows = items.map((a) => ({ ...a, __data: { alert: String(a.id), kind: a.kind } }));
  return card(t('ops.alerts'), table([
    { label: t('ops.day'), render: (a) => a.day },
    { label: t('ops.kind'), render: (a) => badge('warning', t(`ops.kind.${a.kind}`)) },
    { label: t('market.token'), render: (a) => tokenLabel(a.token_id) },
    { label: t('ops.accounts'), render: (a) => (a.accounts || []).map(short).join(', ') },
    { label: t('ops.detail'), render: detail },
    { label: t('ops.trades'), render: (a) => {
      const b = el('button', { class: 'btn small', type: 'button', dataset: { alertTrades: String(a.id) } }, t('ops.showTrades', { n: num((a.trade_ids || []).length) }));
      b.addEventListener('click', () => busy(b, async () => box.replaceChildren(el('h3', {}, t('ops.tradesOf', { id: a.id })), await alertTrades(a))));
      return b;
    } },
  ], rows, { id: 'alerts', empty: t('ops.noAlerts') }), box);
}

/** The whole market's switch (token id 0, GET /market/state): halt with a reason, or resume. */
function wideControl(ctx, state, after) {
  return el('p', { id: 'market-wide', dataset: { halted: String(state.halted) } }, el('strong', {}, t('ops.wholeMarket')), ' ',
    state.halted ? [badge('over', t('ops.haltedBadge')), ' ', state.halt_reason || '', ' '] : null,
    haltControl(ctx, 0, state.halted, after));
}

/** The exchange's market panel: rulebooks and halts, the day's quotes, the alerts. */
export async function marketOperations(ctx) {
  const host = el('div', { id: 'market-ops' });
  const paint = async () => {
    const [rules, latest, state] = await Promise.all([
      all('/market/rulebooks', {}, 500),
      api('/market/quotes', { params: { mode: 'listing', limit: 1 } }),
      api('/market/state'),
    ]);
    const day = latest.items.length ? latest.items[0].day : null;
    const quotes = day ? await all('/market/quotes', { day_from: day, day_to: day }, 1000) : [];
    const exchange = ctx.me.roles.includes('EXCHANGE');
    const wide = exchange ? wideControl(ctx, state, paint) : null;
    host.replaceChildren(
      el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(t('ops.rulebooks'), wide, rulebookTable(rules, ctx, paint),
        el('p', { class: 'muted' }, t('ops.rulebookNote'))))),
      el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(day ? t('market.quotesOf', { day }) : t('market.quotes'), quotesTable(quotes)))),
      el('div', { class: 'grid' }, el('div', { class: 'span-12' }, await alertsCard())));
  };
  await paint();
  return host;
}

/** The regulator's market panel: the large holders of a settled day, and the alerts. */
export async function regulatorMarket() {
  // only the settled days whose report has the large-holder section (format 2 on): a day settled
  // before it has none, so it is not offered (newest first, as GET /market/bulletin-days lists them)
  const { days } = await api('/market/bulletin-days');
  const picker = el('select', { id: 'holders-day' }, days.map((d) => el('option', { value: d }, d)));
  const box = el('div', { id: 'large-holders' });
  const show = async () => {
    if (!picker.value) {
      box.replaceChildren(empty(t('ops.noDay')));
      return;
    }
    try {
      const report = await api(`/market/large-holders/${picker.value}`);
      box.replaceChildren(el('p', { class: 'muted', id: 'holders-threshold' }, t('ops.threshold', { share: bps(report.threshold_bps) })), table([
        { label: t('market.token'), render: (r) => tokenLabel(r.token_id) },
        { label: t('ops.account'), render: (r) => el('span', { title: r.account }, r.name || short(r.account)) },
        { label: t('market.balance'), num: true, render: (r) => tonnes(r.balance) },
        { label: t('ops.issued'), num: true, render: (r) => tonnes(r.issued) },
        { label: t('ops.share'), num: true, render: (r) => bps(r.share_bps) },
      ], report.rows.map((r) => ({ ...r, __data: { token: String(r.token_id), account: r.account } })), { id: 'large-holders-table', empty: t('ops.noHolders') }));
    } catch (err) {
      box.replaceChildren(el('p', { class: err.status === 404 ? 'muted' : 'error', role: 'status', id: 'holders-error' }, `${err.status === 404 ? t('ops.notSettled') : t('common.failed')}: ${err.message || err}`));
    }
  };
  picker.addEventListener('change', () => busy(picker, show));
  await show();
  return el('div', { id: 'regulator-market' },
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(t('ops.largeHolders'), el('div', { class: 'form' }, field(t('ops.day'), picker)), box))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, await alertsCard())));
}
