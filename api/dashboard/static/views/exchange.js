// Exchange view: auctions (create, monitor, finalize) with the aggregate demand curve and the
// clearing prices; settlement cash issued against bank deposits; the daily settlement reports
// (totals per movement type, reconciliation, the hash anchored on-chain, the files); the market's
// rulebooks with the halt switch, the day's quotes and the surveillance alerts (market-ops.js).

import { api, all } from '../api.js';
import { chart, dispose } from '../charts.js';
import { t, tn } from '../i18n.js';
import { badge, busy, card, el, empty, field, kpi, num, short, table, toast, when, yuan } from '../ui.js';
import { loadEthers, sendAction } from '../wallet.js';
import { biddersInput, parseBidders, whoMayBid } from './auctions.js';
import { marketOperations } from './market-ops.js';

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
    xAxis: { type: 'value', name: t('exchange.quantityT'), nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: (v) => `${num(v)} t` } },
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
  // Not revealing forfeits this share of the guarantee (the configured default, ETS_AUCTION_FORFEIT_BPS).
  const forfeit = el('input', { id: 'create-forfeit', type: 'number', min: 0, max: 100, step: 0.01, value: ctx.config.auction_forfeit_bps / 100 });
  const rule = el('select', { id: 'create-rule' }, el('option', { value: 0 }, t('exchange.lowestAccepted')), el('option', { value: 1 }, t('exchange.highestRejected')));
  // A primary auction may name its bidders (e.g. new projects): only they may bid.
  const bidders = isRegulator ? biddersInput() : null;
  const create = el('button', { class: 'btn primary', type: 'button', id: 'create-auction' }, isRegulator ? t('exchange.createPrimary') : t('exchange.createSecondary'));
  create.addEventListener('click', () => busy(create, async () => {
    const named = bidders ? parseBidders(bidders.value) : [];
    const signer = await ctx.signer();
    const { now } = await api('/dashboard/api/indexed');
    const commitEnd = now + Number(commitHours.value) * HOUR;
    const ethers = await loadEthers();
    const params = {
      tokenId: token.value, supply: Number(supply.value), reservePrice: Math.round(Number(reserve.value) * 100),
      purchaseLimit: Number(limit.value), commitStart: 0, commitEnd, revealEnd: commitEnd + Number(revealHours.value) * HOUR,
      forfeitBps: Math.round(Number(forfeit.value) * 100), priceRule: Number(rule.value), eligibilityRoot: ethers.ZeroHash,
    };
    if (!isRegulator) await sendAction(signer, 'AllowanceToken', 'setApprovalForAll', [ctx.contracts.SealedBidAuction, true]);
    if (named.length) await sendAction(signer, 'SealedBidAuction', 'createRestrictedPrimary', [params, named]);
    else await sendAction(signer, 'SealedBidAuction', isRegulator ? 'createPrimary' : 'createSecondary', [params]);
    await ctx.refresh();
  }, t('exchange.created')));
  return card(t('exchange.create'), el('div', { class: 'form' },
    field(t('exchange.token'), token), field(t('exchange.supply'), supply), field(t('exchange.reserveYuan'), reserve),
    field(t('exchange.limit'), limit), field(t('exchange.commitHours'), commitHours), field(t('exchange.revealHours'), revealHours),
    field(t('exchange.forfeit'), forfeit), field(t('exchange.rule'), rule),
    bidders ? field(t('auction.namedBidders'), bidders) : null, create),
    el('p', { class: 'muted', id: 'forfeit-note' }, t('exchange.forfeitNote', { pct: num(ctx.config.auction_forfeit_bps / 100, 2) })));
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

function drawMovements(node, report) {
  // Allowances (t, left axis) and cash (¥, right axis) moved per movement type.
  const rows = report.totals;
  const c = chart(node);
  c.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 64, right: 72, top: 40, bottom: 56 },
    xAxis: { type: 'category', data: rows.map((r) => t(`movement.${r.movement}`)), axisLabel: { interval: 0, rotate: rows.length > 4 ? 25 : 0 } },
    yAxis: [
      { type: 'value', name: t('report.allowancesT'), axisLabel: { formatter: (v) => num(v) } },
      { type: 'value', name: t('report.cashYuan'), axisLabel: { formatter: (v) => num(v) }, splitLine: { show: false } },
    ],
    series: [
      { name: t('report.allowances'), type: 'bar', data: rows.map((r) => r.allowances), itemStyle: { color: '#5b8def' } },
      { name: t('report.cash'), type: 'bar', yAxisIndex: 1, data: rows.map((r) => r.cash / 100), itemStyle: { color: '#ef8f00' } },
    ],
  });
  return c;
}

/** Download a report file: the API wants the session's bearer token, so not a plain link. */
async function downloadFile(file) {
  const blob = await api(file.url, { as: 'blob' });
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: file.name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  toast(t('report.downloaded', { name: file.name }), 'ok');
}

async function reportPanel(box, day, drawn) {
  const report = await api(`/dashboard/api/settlement/days/${day}`);
  const a = report.anchor;
  const rec = report.reconciliation;
  const badges = el('p', { id: 'report-badges', dataset: { balanced: String(report.balanced), anchored: String(a.anchored), verified: String(a.verified) } },
    badge(report.balanced ? 'within' : 'over', report.balanced ? t('report.balanced') : t('report.unbalanced')), ' ',
    badge(a.anchored ? 'within' : 'warning', a.anchored ? t('report.anchored') : t('report.notAnchored')), ' ',
    badge(a.verified ? 'within' : 'over', a.verified ? t('report.verified') : t('report.notVerified')));
  const blocks = report.first_block === null ? '–' : `${report.first_block}–${report.last_block}`;
  const facts = el('div', { class: 'kpis' },
    kpi(t('report.movements'), num(report.movements)), kpi(t('report.accounts'), num(report.accounts)),
    kpi(t('report.blocks'), blocks), kpi(t('report.fees'), yuan(report.fees_total)));
  const totals = table([
    { label: t('report.movement'), render: (r) => t(`movement.${r.movement}`) },
    { label: t('report.legs'), num: true, render: (r) => num(r.legs) },
    { label: t('report.allowancesT'), num: true, render: (r) => (r.allowances ? num(r.allowances) : '–') },
    { label: t('report.cashYuan'), num: true, render: (r) => (r.cash ? yuan(r.cash) : '–') },
  ], report.totals, { id: 'report-totals', empty: t('report.noMovements') });
  const chartNode = el('div', { class: 'chart small', id: 'report-chart' });
  const checked = Object.entries(rec.checked).map(([k, v]) => `${t(`reconcile.${k}`)} ${num(v)}`).join(' · ');
  const reconciliation = el('div', { id: 'report-reconciliation' },
    el('p', {}, rec.balanced ? t('report.reconciledOk') : tn('report.differences', rec.differences)),
    checked ? el('p', { class: 'muted' }, t('report.checked', { checked })) : null,
    rec.rows.length ? table([
      { label: t('report.kind'), key: 'kind' },
      { label: t('exchange.account'), render: (d) => (d.account ? short(d.account) : '–') },
      { label: t('report.token'), render: (d) => d.token || '–' },
      { label: t('report.delta'), num: true, render: (d) => (d.delta === null ? '–' : num(d.delta)) },
      { label: t('report.source'), key: 'source' },
      { label: t('report.detail'), key: 'detail' },
    ], rec.rows, { id: 'report-differences' }) : null);
  const anchor = el('dl', { class: 'details', id: 'report-anchor' },
    el('dt', {}, t('report.hash')), el('dd', { class: 'mono' }, a.report_hash),
    el('dt', {}, t('report.anchoredHash')), el('dd', { class: 'mono' }, a.anchored_hash || t('report.notAnchored')),
    el('dt', {}, t('report.signer')), el('dd', { class: 'mono' }, a.signer || '–'),
    el('dt', {}, t('report.publishedAt')), el('dd', {}, when(a.published_at)),
    a.altered_files.length ? [el('dt', {}, t('report.altered')), el('dd', { class: 'error mono' }, a.altered_files.join(', '))] : null);
  const files = el('ul', { class: 'list', id: 'report-files' }, report.files.map((f) => {
    const link = el('a', { href: f.url, download: f.name, dataset: { file: f.name } }, f.name);
    link.addEventListener('click', (ev) => {
      ev.preventDefault();
      busy(link, () => downloadFile(f));
    });
    return el('li', {}, link, ' ', el('span', { class: 'muted' }, f.size === null ? t('report.missing') : `${num(f.size)} B`),
      f.matches ? null : [' ', badge('over', t('report.fileAltered'))]);
  }));
  box.replaceChildren(badges, facts, el('div', { class: 'grid' },
    el('div', { class: 'span-6' }, el('h3', {}, t('report.totals')), totals),
    el('div', { class: 'span-6' }, el('h3', {}, t('report.byType')), report.totals.length ? chartNode : empty(t('report.noMovements')))),
  el('div', { class: 'grid' },
    el('div', { class: 'span-6' }, el('h3', {}, t('report.reconciliation')), reconciliation),
    el('div', { class: 'span-6' }, el('h3', {}, t('report.anchor')), anchor, el('h3', {}, t('report.files')), files)));
  if (!report.totals.length) return;
  const c = drawMovements(chartNode, report);
  drawn.current = c;
  await c.whenDrawn;
}

/** The report card: a day picker and the picked day's panel, drawn once the card is in the page. */
function reportCard(settled, ctx) {
  if (settled.error) {
    const failed = el('p', { class: 'error', role: 'alert' }, `${t('common.failed')}: ${settled.error.message || settled.error}`);
    return { box: card(t('exchange.report'), failed), draw: async () => {} };
  }
  const days = settled.items;
  if (!days.length) return { box: card(t('exchange.report'), empty(t('exchange.noReport'))), draw: async () => {} };
  const wanted = days.some((d) => d.day === ctx.params.day) ? ctx.params.day : days[0].day;
  const picker = el('select', { id: 'report-day' }, days.map((d) => el('option', { value: d.day, selected: d.day === wanted },
    `${d.day}${d.balanced === false ? ` (${t('report.unbalanced')})` : ''}`)));
  const panel = el('div', { id: 'report-panel' });
  const drawn = { current: null };
  const show = async (day) => {
    if (drawn.current) dispose(drawn.current);
    drawn.current = null;
    try {
      await reportPanel(panel, day, drawn);
    } catch (err) {
      panel.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${t('common.failed')}: ${err.message || err}`));
    }
  };
  picker.addEventListener('change', () => busy(picker, () => show(picker.value)));
  const box = card(t('exchange.report'), el('div', { class: 'form' }, field(t('report.day'), picker)), panel);
  return { box, draw: () => show(wanted) };
}

export async function render(root, ctx) {
  const [auctions, tokens, settled] = await Promise.all([
    all('/auctions', {}, 500), all('/tokens', { kind: 'allowance' }, 500),
    // the reports are files on the API's disk: a failure there leaves the rest of the view working
    api('/dashboard/api/settlement/days').catch((error) => ({ items: [], error })),
  ]);
  auctions.sort((a, b) => b.auction_id - a.auction_id);
  const selected = Number(ctx.params.auction) || (auctions.find((a) => a.phase === 'clearing' && a.status === 'open') || auctions[0] || {}).auction_id;
  const panel = el('div', { id: 'auction-panel' });
  const pricesNode = el('div', { class: 'chart small', id: 'clearing-prices' });
  const isExchange = ctx.me.roles.includes('EXCHANGE');
  const list = table([
    { label: '#', render: (a) => el('a', { href: `#/exchange?auction=${a.auction_id}` }, String(a.auction_id)) },
    { label: t('exchange.token'), render: (a) => { const x = tokens.find((k) => k.token_id === a.token_id); return x ? x.label : String(a.token_id); } },
    { label: t('exchange.kind'), render: (a) => (a.primary ? t('exchange.primary') : t('exchange.secondary')) },
    { label: t('auction.whoMayBid'), render: whoMayBid },
    { label: t('exchange.supply'), num: true, render: (a) => num(a.supply) },
    { label: t('exchange.reserve'), num: true, render: (a) => yuan(a.reserve_price) },
    { label: t('exchange.bidders'), num: true, render: (a) => `${a.revealed}/${a.bidders}` },
    { label: t('exchange.phase'), render: (a) => badge(a.phase === 'clearing' ? 'warning' : 'info', t(`phase.${a.phase}`)) },
    { label: t('exchange.commitEnd'), render: (a) => when(a.commit_end) },
    { label: t('exchange.clearingPrice'), num: true, render: (a) => (a.clearing_price === null ? '–' : yuan(a.clearing_price)) },
  ], auctions, { id: 'auctions', empty: t('auction.none') });
  const report = reportCard(settled, ctx);
  const market = el('div', { id: 'market-ops-host' });

  root.append(
    el('div', { class: 'view-head' }, el('h1', {}, t('exchange.title'))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-7' }, card(t('exchange.auctions'), list)),
      el('div', { class: 'span-5' }, card(t('exchange.prices'), pricesNode))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(t('exchange.monitor'), selected ? panel : empty(t('auction.none'))))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-6' }, createAuctionForm(tokens.filter((x) => x.kind === 'allowance'), ctx)),
      el('div', { class: 'span-6' }, isExchange ? cashForm(ctx) : card(t('exchange.cash'), empty(t('exchange.cashExchangeOnly'))))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, report.box)),
    el('h2', { class: 'section-head' }, t('ops.title')),
    market,
  );
  const drawn = [drawPrices(pricesNode, auctions).whenDrawn, report.draw(),
    marketOperations(ctx).then((panel) => market.replaceChildren(panel))];
  if (selected) drawn.push(auctionPanel(panel, auctions.find((a) => a.auction_id === selected), ctx));
  await Promise.all(drawn);
}
