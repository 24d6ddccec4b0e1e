// Who may bid in an auction, for every auctions table and card: a primary auction restricted to
// named bidders (createRestrictedPrimary; GET /auctions' `restricted`, `named_bidders`, `may_bid`)
// shows its list, and an enterprise it does not name is told it cannot bid (the contract would
// refuse its commit with AuctionBidderNotAllowed). The regulator's list of bidders for a new one.

import { t } from '../i18n.js';
import { badge, el, short } from '../ui.js';

/** Most bidders a restricted primary auction may name (the contract's limit). */
export const MAX_NAMED_BIDDERS = 16;

/** The table cell: "anyone" or a "restricted" badge and the named accounts (full in the title). */
export function whoMayBid(a) {
  if (!a.restricted) return el('span', { dataset: { whoMayBid: a.auction_id } }, t('auction.anyone'));
  return el('span', { dataset: { whoMayBid: a.auction_id, restricted: '1' }, title: a.named_bidders.join('\n') },
    badge('warning', t('auction.restricted')), ' ', a.named_bidders.map(short).join(', '));
}

/** The card's note on a restricted auction: who it names, and whether the signed-in account may bid. */
export function restrictionNote(a) {
  if (!a.restricted) return null;
  const named = t('auction.restrictedTo', { n: a.named_bidders.length, bidders: a.named_bidders.map(short).join(', ') });
  return el('p', { class: a.may_bid ? 'muted' : 'error', dataset: { restrictedNote: a.auction_id, mayBid: String(a.may_bid) } },
    badge('warning', t('auction.restricted')), ' ', named, ' ', a.may_bid ? t('auction.youAreNamed') : t('auction.notNamed'));
}

/** The bidders typed by the regulator (addresses separated by spaces, commas or lines), checked
 *  as the contract will: 0x addresses, 1 to 16 of them once each ([] when the field is empty). */
export function parseBidders(text) {
  const words = text.split(/[\s,;]+/).filter(Boolean);
  const seen = new Map();
  for (const w of words) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(w)) throw new Error(t('auction.badBidder', { value: w }));
    if (!seen.has(w.toLowerCase())) seen.set(w.toLowerCase(), w);
  }
  if (seen.size > MAX_NAMED_BIDDERS) throw new Error(t('auction.tooManyBidders', { max: MAX_NAMED_BIDDERS }));
  return [...seen.values()];
}

/** The regulator's field naming the bidders of a new primary auction (empty: unrestricted). */
export function biddersInput() {
  return el('textarea', { id: 'create-bidders', rows: 2, placeholder: t('auction.biddersPlaceholder') });
}
