// Market view, the trading floor (every signed-in account): per listed token id the best five price
// levels of each side (anonymous, aggregated), the last listing price and its change against the
// reference price, the day's listing and block bands, the intraday price and volume chart, the
// daily candlesticks, the recent trades and the day's quotes per trade mode. Enterprises trade
// here too (market-floor.js): order entry with the value, fee and escrow shown before signing,
// click-to-take from the levels, cancels, block proposals and their inbox, their open orders,
// fills and T+1 sellable quantities. The screen follows the market's event stream, so a fill
// shows without reloading. A rise shows red and a fall green, as Chinese exchanges show them.

import { api } from '../api.js';
import { dispose } from '../charts.js';
import { t } from '../i18n.js';
import { card, el, empty, field, kpi, num, table, toast, tokenLabel, when, yuan } from '../ui.js';
import { drawCandles, drawIntraday } from './market-charts.js';
import { entryCard, levelClicked, mineSections, refreshMine } from './market-floor.js';
import { followMarket } from './market-live.js';

const LEVELS = 5;
const RECENT = 20;
/** Daily candles shown (newest days). */
const CANDLE_DAYS = 120;
/** Quote rows in this order: the official listing quote first, then each trade mode. */
const MODES = ['listing', 'call', 'continuous', 'take', 'block'];

export function tonnes(value) {
  return `${num(value)} t`;
}

/** The columns of a day's quote per mode (the trading floor's and the exchange's quote tables). */
export function quoteColumns() {
  return [
    { label: t('market.mode'), render: (q) => t(`market.mode.${q.mode}`) },
    { label: t('market.open'), num: true, render: (q) => yuan(q.open) },
    { label: t('market.high'), num: true, render: (q) => yuan(q.high) },
    { label: t('market.low'), num: true, render: (q) => yuan(q.low) },
    { label: t('market.close'), num: true, render: (q) => yuan(q.close) },
    { label: t('market.volume'), num: true, render: (q) => tonnes(q.volume) },
    { label: t('market.turnover'), num: true, render: (q) => yuan(q.turnover) },
    { label: t('market.fills'), num: true, render: (q) => num(q.trades) },
  ];
}

/** `+1.23%` / `−0.40%` / `0.00%` of `last` against `reference`. */
export function change(last, reference) {
  if (last === null || last === undefined || !reference) return null;
  return (last - reference) / reference;
}

export function signed(share) {
  if (share === null) return '–';
  const text = `${Math.abs(share * 100).toFixed(2)}%`;
  return share > 0 ? `+${text}` : share < 0 ? `−${text}` : text;
}

function levelRows(levels, side) {
  // ui.table renders `render(row)`; the level number is carried on the row
  return levels.map((l, i) => ({ ...l, n: i + 1, __data: { level: String(i + 1), price: String(l.price), side } }));
}

function bookCard(book, onLevel) {
  const columns = [
    { label: t('market.level'), num: true, render: (l) => String(l.n) },
    { label: t('market.price'), num: true, render: (l) => yuan(l.price) },
    { label: t('market.quantity'), num: true, render: (l) => tonnes(l.quantity) },
    { label: t('market.orders'), num: true, render: (l) => num(l.orders) },
  ];
  const side = (title, id, levels, name) => {
    const box = el('div', { class: 'span-6' }, el('h3', {}, title), table(columns, levelRows(levels, name), { id, empty: t('market.noLevels') }));
    if (onLevel) {
      box.querySelectorAll('tbody tr').forEach((tr) => {
        tr.classList.add('clickable');
        tr.title = t(name === 'sell' ? 'market.clickToBuy' : 'market.clickToSell');
        tr.addEventListener('click', () => onLevel(name, Number(tr.dataset.price), levels[Number(tr.dataset.level) - 1].quantity));
      });
    }
    return box;
  };
  return card(t('market.book'), el('div', { class: 'grid' },
    side(t('market.bids'), 'market-bids', book.bids, 'buy'),
    side(t('market.asks'), 'market-asks', book.asks, 'sell')),
  el('p', { class: 'muted' }, onLevel ? t('market.anonymousTake') : t('market.anonymous')));
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
    ...quoteColumns(),
    { label: t('market.fees'), num: true, render: (q) => yuan(q.fees) },
  ], rows, { id: 'market-quotes', empty: t('market.noQuotes') }), el('p', { class: 'muted' }, t('market.closeRule')));
}

function factsCard(id, rules, book, listing) {
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
  const halted = book.halted || rules.halted;
  const status = halted
    ? el('p', { class: 'error', id: 'market-halted', role: 'status' }, t('market.halted', { reason: rules.halt_reason || '' }))
    : null;
  return card(null, el('h2', {}, tokenLabel(id)), status, facts,
    el('p', { class: 'muted' }, t('market.rules', { min: num(rules.block_minimum) })));
}

/** Everything the public part of the floor shows for one token id. */
async function loadPublic(id) {
  const [rules, book, trades, latest, intraday] = await Promise.all([
    api(`/market/rulebooks/${id}`),
    api(`/market/book/${id}`, { params: { levels: LEVELS } }),
    api('/market/trades', { params: { token_id: id, limit: RECENT } }),
    api('/market/quotes', { params: { token_id: id, mode: 'listing', limit: CANDLE_DAYS } }),
    api(`/dashboard/api/market/${id}/intraday`),
  ]);
  const listing = latest.items[0] || null;
  const day = listing ? listing.day : null;
  const quotes = day ? (await api('/market/quotes', { params: { token_id: id, day_from: day, day_to: day, limit: 10 } })).items : [];
  return { rules, book, trades: trades.items, listing, day, quotes, intraday, candles: latest.items };
}

async function tokenPanel(box, chosen, ctx) {
  const id = chosen.token_id;
  const trader = ctx.me.roles.includes('ENTERPRISE');
  const parts = {
    facts: el('div', { id: 'market-facts' }),
    book: el('div', { class: 'span-6', id: 'market-book' }),
    trades: el('div', { class: trader ? 'span-12' : 'span-6', id: 'market-tape' }),
    quotes: el('div', { class: 'span-12', id: 'market-day-quotes' }),
  };
  const intradayNode = el('div', { class: 'chart small', id: 'market-intraday' });
  const candleNode = el('div', { class: 'chart small', id: 'market-candles' });
  const floor = trader ? { id, ctx, rules: chosen } : null;
  const entry = trader ? entryCard(floor) : null;
  const mine = trader ? mineSections(floor) : null;
  const drawn = { intraday: null, candles: null };
  const mineLoaded = mine ? refreshMine(floor) : null; // alongside the public data
  let data = await loadPublic(id);
  const onLevel = trader ? (side, price, quantity) => levelClicked(floor, side, price, quantity) : null;

  const paint = async () => {
    if (floor) floor.rules = data.rules;
    parts.facts.replaceChildren(factsCard(id, data.rules, data.book, data.listing));
    parts.book.replaceChildren(bookCard(data.book, onLevel));
    parts.trades.replaceChildren(tradesCard(data.trades));
    parts.quotes.replaceChildren(quotesCard(data.quotes, data.day));
    for (const c of Object.values(drawn)) if (c) dispose(c);
    const waits = [];
    if (data.intraday.minutes.length) {
      intradayNode.replaceChildren();
      drawn.intraday = drawIntraday(intradayNode, data.intraday, data.rules.reference_price);
      waits.push(drawn.intraday.whenDrawn);
    } else {
      drawn.intraday = null;
      intradayNode.replaceChildren(empty(t('market.noTrades')));
    }
    if (data.candles.length) {
      candleNode.replaceChildren();
      drawn.candles = drawCandles(candleNode, data.candles);
      waits.push(drawn.candles.whenDrawn);
    } else {
      drawn.candles = null;
      candleNode.replaceChildren(empty(t('market.noQuotes')));
    }
    await Promise.all(waits);
  };

  box.replaceChildren(parts.facts,
    el('div', { class: 'grid' }, parts.book, trader ? el('div', { class: 'span-6' }, entry) : parts.trades),
    el('div', { class: 'grid' },
      el('div', { class: 'span-6' }, card(t('market.intraday'), intradayNode)),
      el('div', { class: 'span-6' }, card(t('market.candles'), candleNode))),
    ...(mine ? mine.nodes : []),
    trader ? el('div', { class: 'grid' }, parts.trades) : null,
    el('div', { class: 'grid' }, parts.quotes));
  await Promise.all([paint(), mineLoaded]);

  // Live: every market event touching this token id (or one of our orders) repaints the floor.
  let pending = null;
  let updates = 0;
  const refresh = async (block) => {
    data = await loadPublic(id);
    await Promise.all([paint(), mine ? refreshMine(floor) : null]);
    updates += 1;
    box.dataset.block = String(block);
    box.dataset.updates = String(updates);
  };
  floor && (floor.refresh = () => refresh(box.dataset.block || 0));
  followMarket((event) => {
    const touched = (event.tokens || []).includes(id) || (event.orders || []).length
      || (event.halts || []).some((h) => h.token_id === id || h.token_id === 0);
    if (!touched || !box.isConnected) return;
    // one repaint at a time; events arriving meanwhile fold into the next one
    const run = () => refresh(event.block).catch((err) => {
      (window.__etsLog ||= []).push(`market refresh failed: ${err.message || err}`);
    });
    pending = pending ? pending.then(run) : run();
    pending.finally(() => { pending = null; });
  }, () => box.isConnected, () => {
    box.dataset.live = '0';
    toast(t('market.signedOut'), 'error');
  });
  box.dataset.live = '1';
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
  const box = el('div', { id: 'market-panel', dataset: { token: String(chosen.token_id), block: '0', updates: '0' } });
  head.append(field(t('market.token'), select));
  root.append(box);
  await tokenPanel(box, chosen, ctx);
  performance.mark('market-ready');
  root.dataset.marketReady = '1';
}
