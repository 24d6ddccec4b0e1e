// IC cards tied to rights: the enterprise's cards with each active card's balance (the months it
// committed allowances to, loads and recharges, settled use) from GET /cards and
// /cards/{card}/statement, and the load/recharge form whose transaction the API builds
// (POST /cards/tx/approve once, then POST /cards/tx/load) and the enterprise signs in its wallet;
// the regulator's list of every card.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, num, POLLUTANTS, short, table, tokenLabel, when } from '../ui.js';
import { sendBuilt } from '../wallet.js';

const STATUS_BADGE = { active: 'within', replaced: 'none', revoked: 'over' };

function cardsTable(rows, id) {
  return table([
    { label: t('cards.number'), key: 'card' },
    { label: t('cards.enterprise'), render: (c) => short(c.enterprise) },
    { label: 'MN', key: 'mn' },
    { label: t('cards.status'), render: (c) => badge(STATUS_BADGE[c.status] || 'none', t(`cards.${c.status}`)) },
    { label: t('cards.issued'), render: (c) => when(c.issued_time) },
  ], rows, { id, empty: t('cards.none') });
}

function monthsTable(rows) {
  const state = (m) => (m.settled ? t('cards.settled') : t('cards.open'));
  return table([
    { label: t('cards.allowance'), render: (m) => tokenLabel(m.token_id) },
    { label: t('cards.month'), render: (m) => `${m.vintage}-${String(m.month).padStart(2, '0')}` },
    { label: t('cards.committed'), render: (m) => num(m.committed) },
    { label: t('cards.loads'), render: (m) => num(m.loads) },
    { label: t('cards.used'), render: (m) => (m.used === null ? '–' : num(m.used)) },
    { label: t('cards.returned'), render: (m) => (m.returned === null ? '–' : num(m.returned)) },
    { label: t('cards.status'), render: state },
  ], rows, { id: 'card-months', empty: t('cards.noMonths') });
}

function loadForm(ctx, cards) {
  const number = el('select', { id: 'card-number' }, cards.map((c) => el('option', { value: String(c.card) }, String(c.card))));
  const pollutant = el('select', { id: 'card-pollutant' }, [2, 3, 4, 5, 6, 1].map((p) => el('option', { value: POLLUTANTS[p] }, POLLUTANTS[p])));
  const year = el('input', { id: 'card-year', type: 'number', min: 2000, max: 2200, step: 1, value: 2027 });
  const month = el('input', { id: 'card-month', type: 'number', min: 1, max: 12, step: 1, value: 3 });
  const amount = el('input', { id: 'card-amount', type: 'number', min: 1, step: 1 });
  const button = el('button', { type: 'submit', class: 'primary', id: 'card-load' }, t('cards.load'));
  const form = el('form', { id: 'card-load-form', class: 'form-row' },
    field(t('cards.number'), number), field(t('common.pollutant'), pollutant), field(t('cards.year'), year),
    field(t('cards.month'), month), field(t('cards.amount'), amount), button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const signer = await ctx.signer();
      if (!ctx.cardsApproved) {
        await sendBuilt(signer, '/cards/tx/approve', {}); // once: the cards contract takes custody
        ctx.cardsApproved = true;
      }
      const body = { card: Number(number.value), pollutant: pollutant.value, year: Number(year.value),
        month: Number(month.value), amount: Number(amount.value) };
      await sendBuilt(signer, '/cards/tx/load', body); // built by the API, signed in the wallet
      await ctx.refresh();
    }, t('cards.loaded'));
  });
  return form;
}

/** The enterprise's cards panel: its cards, the active card's months, the load/recharge form. */
export async function enterpriseCards(ctx, me) {
  let cards;
  try {
    cards = (await api('/cards', { params: { enterprise: me, limit: 50 } })).items;
  } catch {
    return card(t('cards.title'), empty(t('cards.none')));
  }
  const active = cards.filter((c) => c.status === 'active');
  if (!active.length) return card(t('cards.title'), cardsTable(cards, 'cards-own'));
  const statement = await api(`/cards/${active[0].card}/statement`);
  return card(t('cards.title'), cardsTable(cards, 'cards-own'),
    el('h3', {}, t('cards.balance', { card: active[0].card })), monthsTable(statement.months),
    loadForm(ctx, active));
}

/** The regulator's list of every card. */
export async function regulatorCards() {
  let cards;
  try {
    cards = await api('/cards', { params: { limit: 200 } });
  } catch {
    return card(t('cards.title'), empty(t('cards.none')));
  }
  return card(t('cards.title'), cardsTable(cards.items, 'cards-all'));
}
