// Enterprise view: holdings by pollutant and vintage, transfers, monthly quota use (gauge and
// series from metered emissions), notices to acknowledge, the compliance application, and
// sealed-bid auctions (commit and reveal, built by the API and signed in the wallet).

import { api } from '../api.js';
import { chart } from '../charts.js';
import { t, tn } from '../i18n.js';
import { badge, busy, card, el, empty, field, kpi, num, pct, POLLUTANTS, short, table, toast, tokenLabel, when, yuan } from '../ui.js';
import { loadEthers, sendAction } from '../wallet.js';
import { enterprisePermits } from './permits.js';
import { enterpriseCards } from './cards.js';
import { restrictionNote } from './auctions.js';

/** A quantity of allowances in tonnes (one allowance is one tonne). */
function tonnes(value) {
  return `${num(value)} t`;
}

const BID_KEY = (auction, bidder) => `ets.bid.${auction}.${bidder.toLowerCase()}`;

/** Merge same-price bids and sort by price, highest first (the contract wants strictly descending). */
export function normalize(bids) {
  const merged = new Map();
  for (const { price, quantity } of bids) {
    if (price > 0 && quantity > 0) merged.set(price, (merged.get(price) || 0) + quantity);
  }
  return [...merged.entries()].sort((a, b) => b[0] - a[0]);
}

/** The value of a schedule after the rules (reserve, purchase limit): the guarantee it needs. */
export function guaranteeOf(schedule, reserve, limit) {
  let left = limit > 0 ? limit : Infinity;
  let value = 0;
  for (const [price, quantity] of schedule) {
    if (price < reserve || left <= 0) continue;
    const q = Math.min(quantity, left);
    value += price * q;
    left -= q;
  }
  return value;
}

function holdingsCard(holdings) {
  const rows = holdings.filter((h) => h.kind !== 'cash' && h.balance > 0);
  return card(t('enterprise.holdings'), table([
    { label: t('common.pollutant'), render: (h) => h.pollutant_symbol || POLLUTANTS[h.pollutant] || h.pollutant },
    { label: t('enterprise.vintage'), render: (h) => String(h.vintage) },
    { label: t('enterprise.kind'), render: (h) => t(`kind.${h.kind}`) },
    { label: t('enterprise.balance'), num: true, render: (h) => tonnes(h.balance) },
    { label: t('enterprise.frozen'), render: (h) => (h.frozen_reason ? badge('over', t('enterprise.frozen')) : '') },
  ], rows, { id: 'holdings', empty: t('enterprise.noHoldings') }));
}

function transfersCard(transfers, me, holdings, ctx) {
  const rows = transfers.map((x) => ({ ...x, direction: x.recipient === me ? 'in' : 'out' }));
  const tokens = holdings.filter((h) => h.kind !== 'cash' && h.balance > 0);
  const to = el('input', { id: 'transfer-to', placeholder: '0x…' });
  const token = el('select', { id: 'transfer-token' }, tokens.map((h) => el('option', { value: h.token_id }, `${h.label} (${tonnes(h.balance)})`)));
  const amount = el('input', { id: 'transfer-amount', type: 'number', min: 1, step: 1 });
  const send = el('button', { class: 'btn primary', type: 'button', id: 'transfer-send' }, t('enterprise.transfer'));
  send.addEventListener('click', () => busy(send, async () => {
    await sendAction(await ctx.signer(), 'AllowanceToken', 'safeTransferFrom', [me, to.value.trim(), token.value, Number(amount.value), '0x']);
    toast(t('enterprise.transferred'), 'ok');
    await ctx.refresh();
  }));
  return card(t('enterprise.transfers'),
    table([
      { label: t('common.time'), render: (x) => when(x.block_time) },
      { label: t('enterprise.token'), key: 'label' },
      { label: t('enterprise.direction'), render: (x) => t(`direction.${x.direction}`) },
      { label: t('enterprise.counterparty'), render: (x) => short(x.direction === 'in' ? x.sender : x.recipient) },
      { label: t('enterprise.amount'), num: true, render: (x) => (x.kind === 'cash' ? yuan(x.amount) : tonnes(x.amount)) },
    ], rows.slice(0, 20), { id: 'transfers' }),
    tokens.length ? el('div', { class: 'form' }, field(t('enterprise.recipient'), to), field(t('enterprise.token'), token), field(t('enterprise.amount'), amount), send) : null);
}

/** Which pollutants have anchored (metered) readings and which of the notices' pollutants have none. */
function readingsLine(metered, notices) {
  const wanted = [...new Set(notices.map((n) => POLLUTANTS[n.pollutant] || String(n.pollutant)))];
  const without = wanted.filter((p) => !metered.includes(p));
  return el('p', { class: 'muted', id: 'readings-by-pollutant', dataset: { metered: metered.join(','), none: without.join(',') } },
    metered.length ? t('enterprise.readingsOf', { pollutants: metered.join(', ') }) : t('enterprise.readingsNone'),
    without.length ? ` · ${t('enterprise.readingsMissing', { pollutants: without.join(', ') })}` : '');
}

function quotaCard(monthly, notice, metered, notices) {
  const gaugeNode = el('div', { class: 'chart small', id: 'quota-gauge' });
  const seriesNode = el('div', { class: 'chart small', id: 'quota-series' });
  const box = card(t('enterprise.quota'), readingsLine(metered, notices));
  if (!monthly.length || !notice) {
    const symbol = notice ? POLLUTANTS[notice.pollutant] || notice.pollutant : '';
    box.append(empty(notice ? t('enterprise.noReadingsOf', { pollutant: symbol, year: notice.year }) : t('enterprise.noReadings')));
    return { box, draw: () => [] };
  }
  const perMonth = notice.allocated / 12;
  const latest = monthly[monthly.length - 1];
  box.append(el('p', { class: 'muted' }, t('enterprise.quotaNote', { quota: num(perMonth, 1), year: notice.year, pollutant: POLLUTANTS[notice.pollutant] || notice.pollutant })), el('div', { class: 'grid' },
    el('div', { class: 'span-4' }, gaugeNode), el('div', { class: 'span-8' }, seriesNode)));
  const draw = () => {
    const share = perMonth ? (latest.value / perMonth) * 100 : 0;
    const gauge = chart(gaugeNode);
    gauge.setOption({
      animation: false,
      series: [{
        type: 'gauge', min: 0, max: 120, radius: '95%',
        axisLine: { lineStyle: { width: 14, color: [[0.8 / 1.2, '#2e7d32'], [1 / 1.2, '#ef8f00'], [1, '#d32f2f']] } },
        detail: { formatter: '{value}%', fontSize: 18, offsetCenter: [0, '60%'] },
        title: { offsetCenter: [0, '85%'], fontSize: 12 },
        data: [{ value: Math.round(share * 10) / 10, name: latest.period }],
      }],
    });
    const series = chart(seriesNode);
    series.setOption({
      animation: false,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 50, right: 10, top: 30, bottom: 30 },
      xAxis: { type: 'category', data: monthly.map((m) => m.period) },
      yAxis: { type: 'value', name: 't' },
      series: [
        { name: t('enterprise.metered'), type: 'bar', data: monthly.map((m) => Math.round(m.value * 1000) / 1000), itemStyle: { color: '#5b8def' } },
        { name: t('enterprise.monthlyQuota'), type: 'line', symbol: 'none', data: monthly.map(() => Math.round(perMonth * 1000) / 1000), lineStyle: { type: 'dashed', color: '#d32f2f' } },
      ],
    });
    return [gauge, series];
  };
  return { box, draw };
}

/** A finalized obligation's outcome: A covered; B shortfall (t) and fine; C no verified emissions and its fine. */
export function outcomeOf(n) {
  if (!n.outcome) return t('enterprise.outcomeOpen');
  const paid = n.fine && n.fine_paid ? ` · ${t('enterprise.finePaid')}` : '';
  const text = n.outcome === 'A' ? t('enterprise.outcomeA')
    : n.outcome === 'B' ? t('enterprise.outcomeB', { shortfall: num(n.shortfall), fine: yuan(n.fine), makeGood: num(n.make_good) })
      : t('enterprise.outcomeC', { fine: yuan(n.fine) });
  return el('span', { dataset: { outcome: n.outcome, year: n.year } }, badge(n.outcome === 'A' ? 'within' : 'over', n.outcome), ' ', text + paid);
}

function noticesCard(notices, ctx) {
  return card(t('enterprise.notices'), table([
    { label: t('common.year'), render: (n) => String(n.year) },
    { label: t('common.pollutant'), render: (n) => POLLUTANTS[n.pollutant] || n.pollutant },
    { label: t('enterprise.allocated'), num: true, render: (n) => tonnes(n.allocated) },
    { label: t('enterprise.ackDeadline'), render: (n) => when(n.ack_deadline) },
    { label: t('enterprise.submissionDeadline'), render: (n) => when(n.submission_deadline) },
    { label: t('common.status'), render: (n) => (n.acknowledged ? badge('within', t('enterprise.acknowledged')) : badge('warning', t('enterprise.toAcknowledge'))) },
    { label: t('enterprise.outcome'), render: outcomeOf },
    {
      label: t('common.actions'),
      render: (n) => (n.acknowledged ? '' : el('button', {
        class: 'btn small primary', dataset: { ack: n.year, ackPollutant: n.pollutant },
        onclick: (ev) => busy(ev.currentTarget, async () => {
          await sendAction(await ctx.signer(), 'ComplianceManager', 'acknowledge', [n.pollutant, n.year]);
          await ctx.refresh();
        }, t('enterprise.ackDone')),
      }, t('enterprise.acknowledge'))),
    },
  ], notices, { id: 'notices', empty: t('enterprise.noNotices') }));
}

function applicationCard(notices, attestations, applications, holdings, ctx) {
  const box = card(t('enterprise.application'));
  box.append(table([
    { label: '#', render: (a) => String(a.application_id) },
    { label: t('common.year'), render: (a) => String(a.year) },
    { label: t('compliance.allowances'), num: true, render: (a) => tonnes(a.allowances) },
    { label: t('compliance.offsets'), num: true, render: (a) => tonnes(a.offsets) },
    { label: t('common.status'), render: (a) => t(`application.${a.status}`) },
    { label: t('reject.reason'), render: (a) => a.reason || '' },
    { label: t('common.pollutant'), render: (a) => POLLUTANTS[a.pollutant] || a.pollutant },
  ], applications, { id: 'my-applications', empty: t('compliance.noApplications') }));
  const active = attestations.filter((a) => a.status === 'active');
  const open = notices.filter((n) => n.acknowledged && n.outcome === null);
  if (!active.length || !open.length) {
    box.append(el('p', { class: 'muted' }, t('enterprise.applyNeeds')));
    return box;
  }
  // one obligation per (pollutant, year): the option's value is "year:pollutant"
  const year = el('select', { id: 'apply-year', 'aria-label': t('enterprise.obligation') },
    open.map((n) => el('option', { value: `${n.year}:${n.pollutant}` }, `${n.year} ${POLLUTANTS[n.pollutant] || n.pollutant}`)));
  const attestation = el('select', { id: 'apply-attestation' }, active.map((a) => el('option', { value: a.attestation_id },
    `${a.year} ${a.pollutant_symbol} · ${num(a.verified)} t · ${short(a.attestation_id)}`)));
  const allowances = holdings.filter((h) => h.kind === 'allowance' && h.balance > 0);
  const offsets = holdings.filter((h) => h.kind === 'offset' && h.balance > 0);
  const allowanceId = el('select', { id: 'apply-allowance' }, allowances.map((h) => el('option', { value: h.token_id }, `${h.label} (${tonnes(h.balance)})`)));
  const allowanceAmount = el('input', { id: 'apply-allowance-amount', type: 'number', min: 0, step: 1, value: 0 });
  const offsetId = el('select', { id: 'apply-offset' }, el('option', { value: '' }, '–'), offsets.map((h) => el('option', { value: h.token_id }, `${h.label} (${tonnes(h.balance)})`)));
  const offsetAmount = el('input', { id: 'apply-offset-amount', type: 'number', min: 0, step: 1, value: 0 });
  const submit = el('button', { class: 'btn primary', id: 'apply-submit', type: 'button' }, t('enterprise.apply'));
  submit.addEventListener('click', () => busy(submit, async () => {
    const signer = await ctx.signer();
    const manager = ctx.contracts.ComplianceManager;
    await sendAction(signer, 'AllowanceToken', 'setApprovalForAll', [manager, true]);
    const useOffsets = offsetId.value && Number(offsetAmount.value) > 0;
    const [obligationYear, obligationPollutant] = year.value.split(':').map(Number);
    await sendAction(signer, 'ComplianceManager', 'submitApplication', [obligationPollutant, obligationYear, {
      attestationId: attestation.value,
      allowanceIds: Number(allowanceAmount.value) > 0 ? [allowanceId.value] : [],
      allowanceAmounts: Number(allowanceAmount.value) > 0 ? [Number(allowanceAmount.value)] : [],
      offsetIds: useOffsets ? [offsetId.value] : [],
      offsetAmounts: useOffsets ? [Number(offsetAmount.value)] : [],
    }]);
    await ctx.refresh();
  }, t('enterprise.applied')));
  box.append(el('h3', {}, t('enterprise.newApplication')), el('div', { class: 'form' },
    field(t('enterprise.obligation'), year), field(t('enterprise.attestation'), attestation), field(t('enterprise.allowanceToSurrender'), allowanceId),
    field(t('enterprise.amount'), allowanceAmount), field(t('enterprise.offsetToSurrender'), offsetId), field(t('enterprise.amount'), offsetAmount), submit));
  return box;
}

/** The production report's year rows: energy (tce), and per pollutant the energy-computed,
 *  metered (anchored) and verified emissions with the metered-vs-verified difference. */
function productionCard(report) {
  const rows = [];
  for (const p of report.periods.filter((x) => x.month === null).reverse()) {
    const energy = p.energy ? `${num(p.energy.total_tce, 1)} tce` : t('production.noEnergy');
    if (!p.pollutants.length) rows.push({ period: p.period, energy, pollutant: '–', __data: { period: p.period } });
    for (const r of p.pollutants) rows.push({ period: p.period, energy, ...r, __data: { period: p.period, pollutant: r.pollutant } });
  }
  const t3 = (v) => (v === null || v === undefined ? '–' : `${num(v, 3)} t`);
  const diff = (v) => (v === null || v === undefined ? '–' : `${v > 0 ? '+' : ''}${num(v, 1)}%`);
  return card(t('production.title'), el('p', { class: 'muted' }, t('production.note', { tz: report.time_zone })), table([
    { label: t('common.year'), key: 'period' },
    { label: t('production.energy'), num: true, render: (r) => r.energy },
    { label: t('common.pollutant'), key: 'pollutant' },
    { label: t('production.computed'), num: true, render: (r) => t3(r.computed_t) },
    { label: t('production.metered'), num: true, render: (r) => t3(r.metered_t) },
    { label: t('production.verified'), num: true, render: (r) => (r.verified_t === null || r.verified_t === undefined ? '–' : tonnes(r.verified_t)) },
    { label: t('production.meteredVsVerified'), num: true, render: (r) => diff(r.metered_vs_verified_pct) },
  ], rows, { id: 'production', empty: t('production.none') }));
}

function savedBid(auctionId, me) {
  try {
    return JSON.parse(localStorage.getItem(BID_KEY(auctionId, me)) || 'null');
  } catch {
    return null;
  }
}

async function commitBid(ctx, auction, me, rows) {
  const schedule = normalize(rows);
  if (!schedule.length) throw new Error(t('auction.noBids'));
  const guarantee = guaranteeOf(schedule, auction.reserve_price, auction.purchase_limit);
  if (guarantee <= 0) throw new Error(t('auction.belowReserve'));
  const ethers = await loadEthers();
  const salt = ethers.hexlify(ethers.randomBytes(32));
  const prices = schedule.map(([p]) => p);
  const quantities = schedule.map(([, q]) => q);
  const commitment = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(
    ['uint256', 'address', 'uint64[]', 'uint64[]', 'bytes32'], [auction.auction_id, me, prices, quantities, salt]));
  // Keep the salt before anything is sent: without it the bid cannot be revealed.
  localStorage.setItem(BID_KEY(auction.auction_id, me), JSON.stringify({ auction: auction.auction_id, bidder: me, prices, quantities, salt, guarantee, commitment }));
  const signer = await ctx.signer();
  await sendAction(signer, 'SettlementToken', 'approve', [ctx.contracts.SealedBidAuction, guarantee]);
  await sendAction(signer, 'SealedBidAuction', 'commit', [auction.auction_id, commitment, guarantee, []]);
}

/** Whether a revealed bid won allowances in a cleared auction, as the contract allocates them:
 *  undersubscribed (allowances left unsold), every level at or above the reserve; otherwise the
 *  levels at or above the allocation price (the tie level shares pro rata). */
export function won(auction, bid) {
  if (auction.status !== 'cleared' || !bid.revealed || !bid.prices || !bid.quantities) return false;
  const floor = auction.unsold > 0 ? auction.reserve_price : auction.allocation_price;
  return bid.prices.some((price, i) => price >= floor && Number(bid.quantities[i]) > 0);
}

/** Claim the allowances won (winner) or take the guarantee back; when a tie's pro-rata share
 *  rounds to nothing the contract says so, and the other call is the right one. */
async function settleBid(signer, auctionId, winner) {
  try {
    await sendAction(signer, 'SealedBidAuction', winner ? 'claim' : 'refund', [auctionId]);
  } catch (err) {
    const other = { AuctionNotAWinner: 'refund', AuctionWinnerMustClaim: 'claim' }[err.error];
    if (!other) throw err;
    await sendAction(signer, 'SealedBidAuction', other, [auctionId]);
  }
}

function auctionsCard(auctions, myBids, me, ctx) {
  const box = card(t('enterprise.auctions'));
  const live = auctions.filter((a) => a.status === 'open' || myBids[a.auction_id]);
  if (!live.length) {
    box.append(empty(t('auction.none')));
    return box;
  }
  for (const a of live) {
    const mine = myBids[a.auction_id];
    const saved = savedBid(a.auction_id, me);
    const head = el('h3', {}, t('auction.heading', { id: a.auction_id, token: tokenLabel(a.token_id), supply: num(a.supply), reserve: yuan(a.reserve_price) }), ' ', badge('info', t(`phase.${a.phase}`)));
    const section = el('div', { class: 'auction', dataset: { auction: a.auction_id, phase: a.phase } }, head,
      el('p', { class: 'muted' }, t('auction.windows', { commit: when(a.commit_end), reveal: when(a.reveal_end) })),
      restrictionNote(a));
    if (a.phase === 'commit' && !mine && a.may_bid) {
      const inputs = [0, 1, 2].map((i) => ({
        price: el('input', { type: 'number', min: 0, step: 0.01, placeholder: t('auction.priceYuan'), dataset: { bidPrice: i } }),
        quantity: el('input', { type: 'number', min: 0, step: 1, placeholder: t('auction.quantity'), dataset: { bidQuantity: i } }),
      }));
      const commit = el('button', { class: 'btn primary', dataset: { commit: a.auction_id } }, t('auction.commit'));
      commit.addEventListener('click', () => busy(commit, async () => {
        const rows = inputs.map((x) => ({ price: Math.round(Number(x.price.value || 0) * 100), quantity: Math.floor(Number(x.quantity.value || 0)) }));
        await commitBid(ctx, a, me, rows);
        await ctx.refresh();
      }, t('auction.committed')));
      section.append(el('div', { class: 'form' }, inputs.map((x, i) => [field(t('auction.priceN', { n: i + 1 }), x.price), field(t('auction.quantityN', { n: i + 1 }), x.quantity)]), commit),
        el('p', { class: 'muted' }, t('auction.sealedNote')));
    } else if (mine) {
      section.append(el('p', { dataset: { myBid: a.auction_id } }, t('auction.myBid', {
        guarantee: yuan(mine.guarantee), status: mine.revealed ? t('auction.revealed') : t('auction.sealed'),
      })));
      if (a.phase === 'reveal' && !mine.revealed) {
        if (!saved) section.append(el('p', { class: 'error' }, t('auction.noSalt')));
        else {
          const reveal = el('button', { class: 'btn primary', dataset: { reveal: a.auction_id } }, t('auction.reveal'));
          reveal.addEventListener('click', () => busy(reveal, async () => {
            await sendAction(await ctx.signer(), 'SealedBidAuction', 'reveal', [a.auction_id, saved.prices, saved.quantities, saved.salt]);
            await ctx.refresh();
          }, t('auction.revealedToast')));
          section.append(reveal);
        }
      }
      if ((a.status === 'cleared' || a.status === 'no_sale') && mine.payment === null && mine.refund === null) {
        // The read model knows a bid's allocation only once it is claimed: tell winners from
        // losers by the clearing (a winner's refund, or a loser's claim, is refused on-chain).
        const winner = won(a, mine);
        const settle = el('button', { class: 'btn primary', dataset: { settle: a.auction_id, settleAs: winner ? 'claim' : 'refund' } },
          winner ? t('auction.claim') : t('auction.refund'));
        settle.addEventListener('click', () => busy(settle, async () => {
          await settleBid(await ctx.signer(), a.auction_id, winner);
          await ctx.refresh();
        }, t('auction.settled')));
        section.append(settle);
      }
    }
    box.append(section);
  }
  return box;
}

/** The account's bid in an auction, if any. Until the reveal phase ends an enterprise sees only
 *  its own bid; after it every bid, so its own may be past the first page of a large auction. */
async function ownBid(auctionId, me) {
  for (let offset = 0; ; offset += 500) {
    const page = await api(`/auctions/${auctionId}/bids`, { params: { limit: 500, offset } });
    const own = page.items.find((b) => b.bidder === me);
    if (own || !page.items.length || offset + page.items.length >= page.total) return own;
  }
}

export async function render(root, ctx) {
  const me = ctx.me.address;
  const [profile, holdings, transfers, notices, attestations, applications, auctions] = await Promise.all([
    api(`/participants/${me}`),
    api('/holdings', { params: { account: me, limit: 500 } }),
    api('/transfers', { params: { account: me, limit: 50 } }),
    api('/compliance/notices', { params: { enterprise: me, limit: 100 } }),
    api('/attestations', { params: { enterprise: me, limit: 100 } }),
    api('/compliance/applications', { params: { enterprise: me, limit: 100 } }),
    api('/auctions', { params: { limit: 50 } }),
  ]);
  const notice = [...notices.items].sort((a, b) => b.year - a.year)[0];
  const monthly = notice
    ? (await api('/stats', { params: { metric: 'emissions_t', grain: 'month', group_by: 'time', enterprise: me, pollutant: notice.pollutant, limit: 120 } })).rows
    : [];
  const ownBids = await Promise.all(auctions.items.map((a) => ownBid(a.auction_id, me)));
  const myBids = {};
  auctions.items.forEach((a, i) => {
    const own = ownBids[i];
    if (own) myBids[a.auction_id] = own;
  });
  const cash = holdings.items.find((h) => h.kind === 'cash');
  const allowanceTotal = holdings.items.filter((h) => h.kind === 'allowance').reduce((s, h) => s + h.balance, 0);
  const pendingAck = notices.items.filter((n) => !n.acknowledged).length;
  // The production report of the notices' years: which pollutants have anchored readings, and
  // the energy, computed, metered and verified figures of each year.
  const years = notices.items.map((n) => n.year);
  const thisYear = new Date().getUTCFullYear();
  const first = years.length ? Math.min(...years) : thisYear;
  const last = years.length ? Math.max(...years) : thisYear;
  const production = await api(`/production/${me}`, { params: { year: Math.max(first, last - 19), to_year: last } });
  const metered = [...new Set(production.periods.flatMap((p) => p.pollutants.filter((r) => r.metered_t !== null).map((r) => r.pollutant)))];
  const quota = quotaCard(monthly.map((r) => ({ period: r.period, value: r.value })), notice, metered, notices.items);

  root.append(
    el('div', { class: 'view-head' }, el('h1', {}, profile.name || t('nav.enterprise')), el('span', { class: 'muted mono' }, me)),
    el('div', { class: 'grid' }, el('div', { class: 'span-12 card' }, el('div', { class: 'kpis' },
      kpi(t('enterprise.cash'), yuan(cash ? cash.balance : 0)),
      kpi(t('enterprise.allowances'), tonnes(allowanceTotal)),
      kpi(t('enterprise.pendingAck'), num(pendingAck), pendingAck ? 'near' : ''),
      kpi(t('enterprise.quotaShare'), notice && monthly.length ? pct(monthly[monthly.length - 1].value / (notice.allocated / 12)) : '–')))),
    el('div', { class: 'grid' }, el('div', { class: 'span-6' }, holdingsCard(holdings.items)), el('div', { class: 'span-6' }, quota.box)),
    el('div', { class: 'grid' }, el('div', { class: 'span-6' }, noticesCard(notices.items, ctx)), el('div', { class: 'span-6' }, transfersCard(transfers.items, me, holdings.items, ctx))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, productionCard(production))),
    el('div', { class: 'grid' }, el('div', { class: 'span-6' }, applicationCard(notices.items, attestations.items, applications.items, holdings.items, ctx)),
      el('div', { class: 'span-6' }, auctionsCard(auctions.items, myBids, me, ctx))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'enterprise-permits-host' }, await enterprisePermits(ctx, me))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'enterprise-cards-host' }, await enterpriseCards(ctx, me))),
  );
  const charts = quota.draw();
  await Promise.all(charts.map((c) => c.whenDrawn));
}
