// Market view (read-only, every signed-in account): per listed token id the best five price
// levels of each side (anonymous, aggregated), the last listing price and its change against the
// reference price, the day's listing and block bands, the recent trades and the day's quotes per
// trade mode, from the API's /market routes. A rise shows red and a fall green, as Chinese
// exchanges show them.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { card, el, empty, field, kpi, num, table, tokenLabel, when, yuan } from '../ui.js';

const LEVELS = 5;
const RECENT = 20;
/** Quote rows in this order: the official listing quote first, then each trade mode. */
const MODES = ['listing', 'call', 'continuous', 'take', 'block'];

function tonnes(value) {
  return `${num(value)} t`;
}

/** `+1.23%` / `−0.40%` / `0.00%` of `last` against `reference`. */
export function change(last, reference) {
  if (last === null || last === undefined || !reference) return null;
  return (last - reference) / reference;
}

function signed(share) {
  if (share === null) return '–';
  const text = `${Math.abs(share * 100).toFixed(2)}%`;
  return share > 0 ? `+${text}` : share < 0 ? `−${text}` : text;
}

function levelRows(levels) {
  // ui.table renders `render(row)`; the level number is carried on the row
  return levels.map((l, i) => ({ ...l, n: i + 1, __data: { level: String(i + 1), price: String(l.price) } }));
}

function bookCard(book) {
  const columns = [
    { label: t('market.level'), num: true, render: (l) => String(l.n) },
    { label: t('market.price'), num: true, render: (l) => yuan(l.price) },
    { label: t('market.quantity'), num: true, render: (l) => tonnes(l.quantity) },
    { label: t('market.orders'), num: true, render: (l) => num(l.orders) },
  ];
  return card(t('market.book'), el('div', { class: 'grid' },
    el('div', { class: 'span-6' }, el('h3', {}, t('market.bids')), table(columns, levelRows(book.bids), { id: 'market-bids', empty: t('market.noLevels') })),
    el('div', { class: 'span-6' }, el('h3', {}, t('market.asks')), table(columns, levelRows(book.asks), { id: 'market-asks', empty: t('market.noLevels') }))),
  el('p', { class: 'muted' }, t('market.anonymous')));
}

function tradesCard(trades) {
  return card(t('market.trades'), table([
    { label: t('market.time'), render: (x) => el('time', { datetime: new Date(x.block_time * 1000).toISOString() }, when(x.block_time, { seconds: true })) },
    { label: t('market.mode'), render: (x) => t(`market.mode.${x.mode}`) },
    { label: t('market.price'), num: true, render: (x) => yuan(x.price) },
    { label: t('market.quantity'), num: true, render: (x) => tonnes(x.quantity) },
    { label: t('market.value'), num: true, render: (x) => yuan(x.value) },
  ], trades.map((x) => ({ ...x, __data: { trade: String(x.id), mode: x.mode } })), { id: 'market-trades', empty: t('market.noTrades') }));
}

function quotesCard(quotes, day) {
  const rows = MODES.map((mode) => quotes.find((q) => q.mode === mode)).filter(Boolean)
    .map((q) => ({ ...q, __data: { mode: q.mode } }));
  return card(day ? t('market.quotesOf', { day }) : t('market.quotes'), table([
    { label: t('market.mode'), render: (q) => t(`market.mode.${q.mode}`) },
    { label: t('market.open'), num: true, render: (q) => yuan(q.open) },
    { label: t('market.high'), num: true, render: (q) => yuan(q.high) },
    { label: t('market.low'), num: true, render: (q) => yuan(q.low) },
    { label: t('market.close'), num: true, render: (q) => yuan(q.close) },
    { label: t('market.volume'), num: true, render: (q) => tonnes(q.volume) },
    { label: t('market.turnover'), num: true, render: (q) => yuan(q.turnover) },
    { label: t('market.fills'), num: true, render: (q) => num(q.trades) },
    { label: t('market.fees'), num: true, render: (q) => yuan(q.fees) },
  ], rows, { id: 'market-quotes', empty: t('market.noQuotes') }), el('p', { class: 'muted' }, t('market.closeRule')));
}

async function tokenPanel(box, rules) {
  const id = rules.token_id;
  const [book, trades, latest] = await Promise.all([
    api(`/market/book/${id}`, { params: { levels: LEVELS } }),
    api('/market/trades', { params: { token_id: id, limit: RECENT } }),
    api('/market/quotes', { params: { token_id: id, mode: 'listing', limit: 1 } }),
  ]);
  const listing = latest.items[0] || null;
  const day = listing ? listing.day : null;
  const quotes = day ? (await api('/market/quotes', { params: { token_id: id, day_from: day, day_to: day, limit: 10 } })).items : [];
  const last = listing ? listing.last : null;
  const share = change(last, rules.reference_price);
  const facts = el('div', { class: 'kpis', id: 'market-kpis' },
    kpi(t('market.last'), last !== null ? yuan(last) : '–', null, 'market-last'),
    kpi(t('market.change'), signed(share), share > 0 ? 'over' : share < 0 ? 'within' : '', 'market-change'),
    kpi(t('market.close'), listing ? yuan(listing.close) : '–', null, 'market-close'),
    kpi(t('market.reference'), yuan(rules.reference_price), null, 'market-reference'),
    kpi(t('market.band'), `${yuan(rules.band_lower)} – ${yuan(rules.band_upper)}`, null, 'market-band'),
    kpi(t('market.blockBand'), `${yuan(rules.block_band_lower)} – ${yuan(rules.block_band_upper)}`, null, 'market-block-band'),
    kpi(t('market.fee'), `${num(rules.fee_bps)} bps`, null, 'market-fee'));
  const status = rules.halted
    ? el('p', { class: 'error', id: 'market-halted', role: 'status' }, t('market.halted', { reason: rules.halt_reason || '' }))
    : null;
  box.replaceChildren(card(null, el('h2', {}, tokenLabel(id)), status, facts,
    el('p', { class: 'muted' }, t('market.rules', { min: num(rules.block_minimum) }))),
  el('div', { class: 'grid' },
    el('div', { class: 'span-6' }, bookCard(book)),
    el('div', { class: 'span-6' }, tradesCard(trades.items))),
  el('div', { class: 'grid' }, el('div', { class: 'span-12' }, quotesCard(quotes, day))));
}

export async function render(root, ctx) {
  const listed = (await api('/market/rulebooks', { params: { limit: 200 } })).items;
  const head = el('div', { class: 'view-head' }, el('h1', {}, t('market.title')));
  root.append(head);
  if (!listed.length) {
    root.append(card(null, empty(t('market.none'))));
    return;
  }
  const wanted = Number(ctx.params.token_id);
  const chosen = listed.find((r) => r.token_id === wanted) || listed[0];
  const select = el('select', { id: 'market-token' },
    listed.map((r) => el('option', { value: r.token_id, selected: r.token_id === chosen.token_id }, tokenLabel(r.token_id))));
  select.addEventListener('change', () => {
    location.hash = `#/market?token_id=${select.value}`;
  });
  const box = el('div', { id: 'market-panel', dataset: { token: String(chosen.token_id) } });
  head.append(field(t('market.token'), select));
  root.append(box);
  await tokenPanel(box, chosen);
}
