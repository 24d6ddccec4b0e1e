// Government reserve panel of the regulator view: the reserve's balances per pollutant and vintage
// (fed from annual plans, sold to projects, confiscated, swept from closures), its offers to new or
// expanded projects at the guide price, and the closures (关停) executed by governance, from
// GET /reserve/balances, /reserve/offers and /reserve/closures.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { badge, card, el, empty, num, short, table, tokenLabel, when, yuan } from '../ui.js';

const OFFER_BADGE = { open: 'near', accepted: 'within', withdrawn: 'none' };

function balancesTable(rows) {
  return table([
    { label: t('common.pollutant'), render: (b) => b.pollutant },
    { label: t('reserve.vintage'), key: 'vintage' },
    { label: t('reserve.balance'), render: (b) => num(b.balance) },
    { label: t('reserve.fed'), render: (b) => num(b.fed) },
    { label: t('reserve.sold'), render: (b) => num(b.sold) },
    { label: t('reserve.confiscated'), render: (b) => num(b.confiscated) },
    { label: t('reserve.swept'), render: (b) => num(b.swept) },
  ], rows, { id: 'reserve-balances', empty: t('reserve.none') });
}

function offersTable(rows) {
  return table([
    { label: '#', key: 'offer_id' },
    { label: t('reserve.project'), render: (o) => short(o.project) },
    { label: t('reserve.allowance'), render: (o) => tokenLabel(o.token_id) },
    { label: t('reserve.quantity'), render: (o) => num(o.quantity) },
    { label: t('reserve.price'), render: (o) => yuan(o.price) },
    { label: t('reserve.payment'), render: (o) => yuan(o.payment) },
    { label: t('reserve.status'), render: (o) => badge(OFFER_BADGE[o.status] || 'none', t(`reserve.offer.${o.status}`)) },
  ], rows, { id: 'reserve-offers', empty: t('reserve.noOffers') });
}

function closuresTable(rows) {
  const swept = (c) => c.swept.map((s) => `${tokenLabel(s.token_id)} ${num(s.amount)} t`).join(' · ') || '–';
  return table([
    { label: '#', key: 'closure_id' },
    { label: t('reserve.enterprise'), render: (c) => c.enterprise_name || short(c.enterprise) },
    { label: t('reserve.sweptTitle'), render: swept },
    { label: t('reserve.permit'), render: (c) => (c.permit_id ? String(c.permit_id) : '–') },
    { label: t('reserve.devices'), render: (c) => num(c.devices) },
    { label: t('reserve.reason'), key: 'reason' },
    { label: t('reserve.when'), render: (c) => when(c.block_time) },
  ], rows, { id: 'reserve-closures', empty: t('reserve.noClosures') });
}

/** The regulator's government reserve panel. */
export async function regulatorReserve() {
  let balances;
  let offers;
  let closures;
  try {
    [balances, offers, closures] = await Promise.all([
      api('/reserve/balances'),
      api('/reserve/offers', { params: { limit: 50 } }),
      api('/reserve/closures', { params: { limit: 50 } }),
    ]);
  } catch {
    return card(t('reserve.title'), empty(t('reserve.none')));
  }
  return card(t('reserve.title'), balancesTable(balances),
    el('h3', {}, t('reserve.offers')), offersTable(offers.items),
    el('h3', {}, t('reserve.closures')), closuresTable(closures.items));
}
