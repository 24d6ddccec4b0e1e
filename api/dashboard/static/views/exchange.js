// Exchange view: auctions (create, monitor, finalize) with the aggregate demand curve and the
// clearing prices; settlement cash issued against bank deposits.

import { api, all } from '../api.js';
import { chart } from '../charts.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, kpi, num, short, table, when, yuan } from '../ui.js';
import { loadEthers, sendAction } from '../wallet.js';

const HOUR = 3600;

function drawCurve(node, clearing) {
  // Aggregate demand as a step function: quantity demanded (x) at each price (y).
  const steps = [];
  let previous = 0;
  for (const s of clearing.curve) {
    steps.push([previous, s.price / 100], [s.quantity, s.price / 100]);
    previous = s.quantity;
  }
  const top = clearing.curve.length ? clearing.curve[0].price / 100 : clearing.reserve_price / 100;
  const c = chart(node);
  const series = [
    { name: t('exchange.demand'), type: 'line', step: false, symbol: 'none', data: steps, lineStyle: { width: 2, color: '#5b8def' }, areaStyle: { opacity: 0.08 } },
    { name: t('exchange.supply'), type: 'line', symbol: 'none', data: [[clearing.supply, 0], [clearing.supply, top * 1.1]], lineStyle: { color: '#2e7d32', type: 'dashed' } },
    { name: t('exchange.reserve'), type: 'line', symbol: 'none', data: [[0, clearing.reserve_price / 100], [Math.max(clearing.supply, previous) * 1.1, clearing.reserve_price / 100]], lineStyle: { color: '#8a96a3', type: 'dotted' } },
  ];
  if (clearing.clearing_price !== null) {
    series.push({
      name: t('exchange.clearingPrice'), type: 'scatter', symbolSize: 12, itemStyle: { color: '#d32f2f' },
      data: [[clearing.sold, clearing.clearing_price / 100]],
      label: { show: true, position: 'right', formatter: () => yuan(clearing.clearing_price) },
    });
  }
  c.setOption({
    animation: false,
    tooltip: { trigger: 'item' },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 36, bottom: 40 },
    xAxis: { type: 'value', name: t('exchange.quantity'), nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: (v) => num(v) } },
    yAxis: { type: 'value', name: t('exchange.priceYuan') },
    series,
  });
  return c;
}

function drawPrices(node, auctions) {
  const cleared = auctions.filter((a) => a.clearing_price !== null).sort((a, b) => a.auction_id - b.auction_id);
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 16, top: 24, bottom: 30 },
    xAxis: { type: 'category', data: cleared.map((a) => `#${a.auction_id}`) },
    yAxis: { type: 'value', name: t('exchange.priceYuan') },
    series: [
      { name: t('exchange.clearingPrice'), type: 'line', data: cleared.map((a) => a.clearing_price / 100), itemStyle: { color: '#d32f2f' } },
      { name: t('exchange.reserve'), type: 'line', data: cleared.map((a) => a.reserve_price / 100), lineStyle: { type: 'dotted' }, itemStyle: { color: '#8a96a3' } },
    ],
  });
  return c;
}

async function auctionPanel(box, auction, ctx) {
  const clearing = await api(`/dashboard/api/auctions/${auction.auction_id}/clearing`);
  const curveNode = el('div', { class: 'chart', id: 'demand-curve' });
  const facts = el('div', { class: 'kpis' },
    kpi(t('exchange.supply'), num(auction.supply)), kpi(t('exchange.reserve'), yuan(auction.reserve_price)),
    kpi(t('exchange.bidders'), num(auction.bidders)), kpi(t('exchange.revealed'), num(auction.revealed)),
    kpi(t('exchange.clearingPrice'), auction.clearing_price !== null ? yuan(auction.clearing_price) : clearing.clearing_price !== null ? `${yuan(clearing.clearing_price)}*` : '–'));
  const children = [el('h3', {}, t('exchange.auctionN', { id: auction.auction_id }), ' ', badge('info', t(`phase.${auction.phase}`))), facts];
  if (clearing.sealed) children.push(el('p', { class: 'muted' }, t('exchange.sealed')));
  else children.push(curveNode);
  if (auction.phase === 'clearing' && auction.status === 'open') {
    const claim = clearing.claim || { price: 0, demandAbove: 0, demandAt: 0 };
    const finalize = el('button', { class: 'btn primary', id: 'finalize', dataset: { finalize: auction.auction_id } }, t('exchange.finalize'));
    finalize.addEventListener('click', () => busy(finalize, async () => {
      await sendAction(await ctx.signer(), 'SealedBidAuction', 'submitClearing', [auction.auction_id, claim, Math.max(1, auction.bidders)]);
      await ctx.refresh();
    }, t('exchange.finalized')));
    children.push(el('p', { class: 'muted' }, t('exchange.claim', { price: yuan(claim.price), above: num(claim.demandAbove), at: num(claim.demandAt) })), finalize);
  }
  if (Object.keys(clearing.allocations).length) {
    children.push(table([
      { label: t('exchange.bidder'), render: (r) => short(r[0]) },
      { label: t('exchange.allocation'), num: true, render: (r) => num(r[1]) },
    ], Object.entries(clearing.allocations), { id: 'allocations' }));
  }
  box.replaceChildren(...children);
  if (!clearing.sealed) await drawCurve(curveNode, clearing).whenDrawn;
}

function createAuctionForm(tokens, ctx) {
  const isRegulator = ctx.me.roles.includes('REGULATOR');
  const token = el('select', { id: 'create-token' }, tokens.map((x) => el('option', { value: x.token_id }, x.label)));
  const supply = el('input', { id: 'create-supply', type: 'number', min: 1, step: 1, value: 1000 });
  const reserve = el('input', { id: 'create-reserve', type: 'number', min: 0.01, step: 0.01, value: 50 });
  const limit = el('input', { id: 'create-limit', type: 'number', min: 0, step: 1, value: 0 });
  const commitHours = el('input', { id: 'create-commit', type: 'number', min: 1, step: 1, value: 24 });
  const revealHours = el('input', { id: 'create-reveal', type: 'number', min: 1, step: 1, value: 24 });
  const rule = el('select', { id: 'create-rule' }, el('option', { value: 0 }, t('exchange.lowestAccepted')), el('option', { value: 1 }, t('exchange.highestRejected')));
  const create = el('button', { class: 'btn primary', type: 'button', id: 'create-auction' }, isRegulator ? t('exchange.createPrimary') : t('exchange.createSecondary'));
  create.addEventListener('click', () => busy(create, async () => {
    const signer = await ctx.signer();
    const { now } = await api('/dashboard/api/indexed');
    const commitEnd = now + Number(commitHours.value) * HOUR;
    const ethers = await loadEthers();
    const params = {
      tokenId: token.value, supply: Number(supply.value), reservePrice: Math.round(Number(reserve.value) * 100),
      purchaseLimit: Number(limit.value), commitStart: 0, commitEnd, revealEnd: commitEnd + Number(revealHours.value) * HOUR,
      forfeitBps: 0, priceRule: Number(rule.value), eligibilityRoot: ethers.ZeroHash,
    };
    if (!isRegulator) await sendAction(signer, 'AllowanceToken', 'setApprovalForAll', [ctx.contracts.SealedBidAuction, true]);
    await sendAction(signer, 'SealedBidAuction', isRegulator ? 'createPrimary' : 'createSecondary', [params]);
    await ctx.refresh();
  }, t('exchange.created')));
  return card(t('exchange.create'), el('div', { class: 'form' },
    field(t('exchange.token'), token), field(t('exchange.supply'), supply), field(t('exchange.reserveYuan'), reserve),
    field(t('exchange.limit'), limit), field(t('exchange.commitHours'), commitHours), field(t('exchange.revealHours'), revealHours),
    field(t('exchange.rule'), rule), create));
}

function cashForm(ctx) {
  const account = el('input', { id: 'cash-account', placeholder: '0x…' });
  const amount = el('input', { id: 'cash-amount', type: 'number', min: 0.01, step: 0.01 });
  const ref = el('input', { id: 'cash-ref', placeholder: 'BANK-2027-000123', maxlength: 64 });
  const issue = el('button', { class: 'btn primary', type: 'button', id: 'cash-issue' }, t('exchange.issue'));
  issue.addEventListener('click', () => busy(issue, async () => {
    const ethers = await loadEthers();
    if (!ref.value.trim()) throw new Error(t('exchange.refNeeded'));
    await sendAction(await ctx.signer(), 'SettlementToken', 'deposit', [account.value.trim(), Math.round(Number(amount.value) * 100), ethers.id(ref.value.trim())]);
    await ctx.refresh();
  }, t('exchange.issued')));
  return card(t('exchange.cash'), el('p', { class: 'muted' }, t('exchange.cashNote')), el('div', { class: 'form' },
    field(t('exchange.account'), account), field(t('exchange.amountYuan'), amount), field(t('exchange.bankRef'), ref), issue));
}

export async function render(root, ctx) {
  const [auctions, tokens] = await Promise.all([all('/auctions', {}, 500), all('/tokens', { kind: 'allowance' }, 500)]);
  auctions.sort((a, b) => b.auction_id - a.auction_id);
  const selected = Number(ctx.params.auction) || (auctions.find((a) => a.phase === 'clearing' && a.status === 'open') || auctions[0] || {}).auction_id;
  const panel = el('div', { id: 'auction-panel' });
  const pricesNode = el('div', { class: 'chart small', id: 'clearing-prices' });
  const isExchange = ctx.me.roles.includes('EXCHANGE');
  const list = table([
    { label: '#', render: (a) => el('a', { href: `#/exchange?auction=${a.auction_id}` }, String(a.auction_id)) },
    { label: t('exchange.token'), render: (a) => { const x = tokens.find((k) => k.token_id === a.token_id); return x ? x.label : String(a.token_id); } },
    { label: t('exchange.kind'), render: (a) => (a.primary ? t('exchange.primary') : t('exchange.secondary')) },
    { label: t('exchange.supply'), num: true, render: (a) => num(a.supply) },
    { label: t('exchange.reserve'), num: true, render: (a) => yuan(a.reserve_price) },
    { label: t('exchange.bidders'), num: true, render: (a) => `${a.revealed}/${a.bidders}` },
    { label: t('exchange.phase'), render: (a) => badge(a.phase === 'clearing' ? 'warning' : 'info', t(`phase.${a.phase}`)) },
    { label: t('exchange.commitEnd'), render: (a) => when(a.commit_end) },
    { label: t('exchange.clearingPrice'), num: true, render: (a) => (a.clearing_price === null ? '–' : yuan(a.clearing_price)) },
  ], auctions, { id: 'auctions', empty: t('auction.none') });

  root.append(
    el('div', { class: 'view-head' }, el('h1', {}, t('exchange.title'))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-7' }, card(t('exchange.auctions'), list)),
      el('div', { class: 'span-5' }, card(t('exchange.prices'), pricesNode))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(t('exchange.monitor'), selected ? panel : empty(t('auction.none'))))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-6' }, createAuctionForm(tokens.filter((x) => x.kind === 'allowance'), ctx)),
      el('div', { class: 'span-6' }, isExchange ? cashForm(ctx) : card(t('exchange.cash'), empty(t('exchange.cashExchangeOnly'))))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(t('exchange.report'), empty(t('exchange.noReport'))))),
  );
  const drawn = [drawPrices(pricesNode, auctions).whenDrawn];
  if (selected) drawn.push(auctionPanel(panel, auctions.find((a) => a.auction_id === selected), ctx));
  await Promise.all(drawn);
}
