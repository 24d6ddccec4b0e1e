// The enterprise's side of the trading floor: order entry with the API's preview (value, fee,
// escrow, band, sellable, position limit, the contract's refusal by name) shown before the wallet
// signs; click-to-take from the best five levels; cancels; block-trade proposals and the
// accept/decline inbox; the account's open orders, fills and T+1 sellable quantities.
// Every action is built by POST /tx/market and signed in the wallet (market-live.js).

import { api } from '../api.js';
import { t } from '../i18n.js';
import { busy, card, el, field, num, short, table, tokenLabel, when, yuan } from '../ui.js';
import { ensureApprovals, marketAction } from './market-live.js';

const PREVIEW_DELAY_MS = 200;
const FILLS = 20;

function tonnes(value) {
  return `${num(value)} t`;
}

function fen(input) {
  return Math.round(Number(input.value) * 100);
}

/** Sign and send a market action, then repaint the floor. */
async function act(floor, body) {
  const signer = await floor.ctx.signer();
  await ensureApprovals(signer);
  await marketAction(signer, body);
  if (floor.refresh) await floor.refresh();
}

function refusalText(refusal) {
  return `${t('market.refused')}: ${refusal.error}${refusal.detail ? ` — ${refusal.detail}` : ''}`;
}

/** The order entry card: place a limit order, or take a resting order picked from the book. */
export function entryCard(floor) {
  const side = el('select', { id: 'order-side' },
    el('option', { value: 'buy' }, t('market.buy')), el('option', { value: 'sell' }, t('market.sell')));
  const price = el('input', { id: 'order-price', type: 'number', min: 0.01, step: 0.01, value: (floor.rules.reference_price / 100).toFixed(2) });
  const quantity = el('input', { id: 'order-quantity', type: 'number', min: 1, step: 1, value: 100 });
  const takeNote = el('p', { id: 'take-note', class: 'muted', hidden: true });
  const preview = el('dl', { class: 'details', id: 'order-preview' });
  const refusal = el('p', { class: 'error', id: 'preview-refusal', role: 'status', hidden: true });
  const place = el('button', { class: 'btn primary', type: 'button', id: 'order-place' }, t('market.signPlace'));
  const takeButton = el('button', { class: 'btn primary', type: 'button', id: 'order-take', hidden: true }, t('market.signTake'));
  const clear = el('button', { class: 'btn', type: 'button', id: 'order-clear-take', hidden: true }, t('market.placeInstead'));
  floor.entry = { side, price, quantity, takeNote, place, takeButton, clear, take: null };

  let timer = null;
  let asked = 0;
  const showPreview = async () => {
    const mine = ++asked;
    const body = { token_id: floor.id, side: side.value, price: fen(price), quantity: Number(quantity.value) };
    if (!(body.price > 0) || !(body.quantity > 0)) return;
    let p;
    try {
      p = await api('/market/preview', { params: body });
    } catch (err) {
      if (mine !== asked) return;
      preview.replaceChildren();
      refusal.hidden = false;
      refusal.textContent = `${t('market.previewFailed')}: ${err.message || err}`;
      return;
    }
    if (mine !== asked) return;
    const row = (key, id, value) => [el('dt', {}, t(key)), el('dd', { id, class: 'num' }, value)];
    const escrow = side.value === 'buy' ? yuan(p.escrow_cash) : tonnes(p.escrow_allowances);
    preview.replaceChildren(
      ...row('market.value', 'preview-value', yuan(p.value)),
      ...row('market.fee', 'preview-fee', yuan(p.fee)),
      ...row('market.escrow', 'preview-escrow', escrow),
      ...row('market.band', 'preview-band', `${yuan(p.band_lower)} – ${yuan(p.band_upper)}`),
      ...row('market.sellable', 'preview-sellable', tonnes(p.sellable)),
      ...row('market.position', 'preview-position', p.position_limit ? `${tonnes(p.position)} / ${tonnes(p.position_limit)}` : tonnes(p.position)));
    preview.dataset.value = String(p.value);
    preview.dataset.fee = String(p.fee);
    refusal.hidden = !p.refusal;
    refusal.textContent = p.refusal ? refusalText(p.refusal) : '';
    refusal.dataset.error = p.refusal ? p.refusal.error : '';
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(showPreview, PREVIEW_DELAY_MS);
  };
  floor.schedulePreview = schedule;
  for (const input of [side, price, quantity]) {
    input.addEventListener('input', schedule);
    input.addEventListener('change', schedule);
  }
  place.addEventListener('click', () => busy(place, () => act(floor, {
    action: 'place', token_id: floor.id, side: side.value, price: fen(price), quantity: Number(quantity.value),
  }), t('market.placed')));
  takeButton.addEventListener('click', () => busy(takeButton, () => act(floor, {
    action: 'take', order_id: floor.entry.take.order_id, quantity: Number(quantity.value),
  }).then(() => setTake(floor, null)), t('market.taken')));
  clear.addEventListener('click', () => setTake(floor, null));
  showPreview();
  return card(t('market.entry'),
    el('div', { class: 'form' }, field(t('market.side'), side), field(t('market.priceYuan'), price), field(t('market.quantityT'), quantity)),
    takeNote, el('h3', {}, t('market.beforeSigning')), preview, refusal,
    el('div', { class: 'actions' }, place, takeButton, clear));
}

function setTake(floor, take) {
  const e = floor.entry;
  e.take = take;
  e.takeNote.hidden = !take;
  e.takeButton.hidden = !take;
  e.clear.hidden = !take;
  e.place.hidden = !!take;
  e.side.disabled = !!take;
  e.price.disabled = !!take;
  if (take) {
    e.takeNote.textContent = t('market.takeNote', { id: take.order_id, price: yuan(take.price), remaining: num(take.remaining) });
    e.takeNote.dataset.order = String(take.order_id);
  }
  floor.schedulePreview();
}

/** A level of the book clicked: take the oldest order there that is not ours (the opposite side). */
export async function levelClicked(floor, levelSide, price, quantity) {
  const e = floor.entry;
  const found = await api(`/dashboard/api/market/${floor.id}/level`, { params: { side: levelSide, price } });
  const order = found.orders[0];
  e.side.value = levelSide === 'sell' ? 'buy' : 'sell';
  e.price.value = (price / 100).toFixed(2);
  if (!order) {
    setTake(floor, null);
    e.takeNote.hidden = false;
    e.takeNote.textContent = t('market.onlyOwn');
    return;
  }
  e.quantity.value = String(Math.min(order.remaining, quantity));
  setTake(floor, { ...order, price });
}

/** The account's own sections: open orders, fills, blocks (inbox and proposals), sellable. */
export function mineSections(floor) {
  floor.mine = {
    orders: el('div', { id: 'my-orders' }),
    fills: el('div', { id: 'my-fills' }),
    inbox: el('div', { id: 'block-inbox' }),
    proposals: el('div', { id: 'block-proposals' }),
    sellable: el('div', { id: 'my-sellable' }),
  };
  const m = floor.mine;
  return {
    nodes: [
      el('div', { class: 'grid' },
        el('div', { class: 'span-6' }, card(t('market.myOrders'), m.orders)),
        el('div', { class: 'span-6' }, card(t('market.myFills'), m.fills))),
      el('div', { class: 'grid' },
        el('div', { class: 'span-6' }, card(t('market.blocks'), el('h3', {}, t('market.inbox')), m.inbox,
          el('h3', {}, t('market.myProposals')), m.proposals, proposeForm(floor))),
        el('div', { class: 'span-6' }, card(t('market.sellableTitle'), m.sellable, el('p', { class: 'muted' }, t('market.sellableNote'))))),
    ],
  };
}

function proposeForm(floor) {
  const buyer = el('input', { id: 'block-buyer', placeholder: '0x…' });
  const price = el('input', { id: 'block-price', type: 'number', min: 0.01, step: 0.01, value: (floor.rules.reference_price / 100).toFixed(2) });
  const quantity = el('input', { id: 'block-quantity', type: 'number', min: 1, step: 1, value: floor.rules.block_minimum });
  const propose = el('button', { class: 'btn', type: 'button', id: 'block-propose' }, t('market.propose'));
  propose.addEventListener('click', () => busy(propose, () => act(floor, {
    action: 'propose_block', token_id: floor.id, buyer: buyer.value.trim(), price: fen(price), quantity: Number(quantity.value),
  }), t('market.proposed')));
  return el('div', {}, el('h3', {}, t('market.proposeTitle')), el('div', { class: 'form' },
    field(t('market.buyer'), buyer), field(t('market.priceYuan'), price), field(t('market.quantityT'), quantity), propose));
}

function button(label, id, data, work, ok) {
  const b = el('button', { class: 'btn small', type: 'button', id, dataset: data }, label);
  b.addEventListener('click', () => busy(b, work, ok));
  return b;
}

/** Load and paint the account's sections. */
export async function refreshMine(floor) {
  const id = floor.id;
  const me = floor.ctx.me.address;
  const [orders, fills, inbox, proposals, sellable] = await Promise.all([
    api('/market/orders', { params: { token_id: id, status: 'open', limit: 100 } }),
    api('/market/fills', { params: { token_id: id, limit: FILLS } }),
    api('/market/blocks', { params: { role: 'buyer', status: 'pending', token_id: id, limit: 50 } }),
    api('/market/blocks', { params: { role: 'seller', status: 'pending', token_id: id, limit: 50 } }),
    api('/market/sellable').catch((error) => ({ error })),
  ]);
  const m = floor.mine;
  m.orders.replaceChildren(table([
    { label: '#', render: (o) => String(o.order_id) },
    { label: t('market.side'), render: (o) => t(`market.${o.side}`) },
    { label: t('market.price'), num: true, render: (o) => yuan(o.price) },
    { label: t('market.quantity'), num: true, render: (o) => tonnes(o.quantity) },
    { label: t('market.remaining'), num: true, render: (o) => tonnes(o.remaining) },
    { label: '', render: (o) => button(t('market.cancel'), `cancel-${o.order_id}`, { cancel: String(o.order_id) },
      () => act(floor, { action: 'cancel', order_id: o.order_id }), t('market.cancelled')) },
  ], orders.items.map((o) => ({ ...o, __data: { order: String(o.order_id) } })), { id: 'my-orders-table', empty: t('market.noOrders') }));
  m.fills.replaceChildren(table([
    { label: t('market.time'), render: (x) => when(x.block_time, { seconds: true }) },
    { label: t('market.side'), render: (x) => t(x.buyer === me ? 'market.buy' : 'market.sell') },
    { label: t('market.mode'), render: (x) => t(`market.mode.${x.mode}`) },
    { label: t('market.price'), num: true, render: (x) => yuan(x.price) },
    { label: t('market.quantity'), num: true, render: (x) => tonnes(x.quantity) },
    { label: t('market.fee'), num: true, render: (x) => yuan(x.buyer === me ? x.buyer_fee : x.seller_fee) },
  ], fills.items.map((x) => ({ ...x, __data: { trade: String(x.id) } })), { id: 'my-fills-table', empty: t('market.noFills') }));
  const blockColumns = (actions) => [
    { label: '#', render: (b) => String(b.block_id) },
    { label: actions === 'inbox' ? t('market.seller') : t('market.buyer'), render: (b) => short(actions === 'inbox' ? b.seller : b.buyer) },
    { label: t('market.price'), num: true, render: (b) => yuan(b.price) },
    { label: t('market.quantity'), num: true, render: (b) => tonnes(b.quantity) },
    { label: t('market.value'), num: true, render: (b) => yuan(b.price * b.quantity) },
    { label: '', render: (b) => (actions === 'inbox'
      ? el('span', {},
        button(t('market.accept'), `accept-${b.block_id}`, { accept: String(b.block_id) }, () => act(floor, { action: 'accept_block', block_id: b.block_id }), t('market.accepted')), ' ',
        button(t('market.decline'), `decline-${b.block_id}`, { decline: String(b.block_id) }, () => act(floor, { action: 'decline_block', block_id: b.block_id }), t('market.declined')))
      : button(t('market.cancel'), `cancel-block-${b.block_id}`, {}, () => act(floor, { action: 'cancel_block', block_id: b.block_id }), t('market.cancelled'))) },
  ];
  m.inbox.replaceChildren(table(blockColumns('inbox'), inbox.items.map((b) => ({ ...b, __data: { block: String(b.block_id) } })), { id: 'block-inbox-table', empty: t('market.noBlocks') }));
  m.proposals.replaceChildren(table(blockColumns('own'), proposals.items.map((b) => ({ ...b, __data: { block: String(b.block_id) } })), { id: 'block-proposals-table', empty: t('market.noBlocks') }));
  if (sellable.error) {
    m.sellable.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${t('common.failed')}: ${sellable.error.message || sellable.error}`));
  } else {
    m.sellable.replaceChildren(table([
      { label: t('market.token'), render: (s) => (s.token_id === id ? el('strong', {}, tokenLabel(s.token_id)) : tokenLabel(s.token_id)) },
      { label: t('market.balance'), num: true, render: (s) => tonnes(s.balance) },
      { label: t('market.boughtToday'), num: true, render: (s) => tonnes(s.bought_today) },
      { label: t('market.sellable'), num: true, render: (s) => tonnes(s.sellable) },
    ], sellable.map((s) => ({ ...s, __data: { token: String(s.token_id) } })), { id: 'my-sellable-table', empty: t('market.noHoldings') }));
  }
  if (floor.schedulePreview) floor.schedulePreview();
}
