// Auditor view: enterprises and their attestations, anchored batches and readings, signing and
// submitting an attestation (EIP-712 in the wallet, relayed through the API), and checking a
// reading's Merkle proof against the chain.

import { api, all } from '../api.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, num, POLLUTANTS, short, table, when } from '../ui.js';
import { loadEthers, sendAction } from '../wallet.js';
import { reviewPanel } from './review.js';

/** What the form starts with: the latest open notice of an enterprise the auditor is assigned to
 *  that it has not attested yet, else that notice anyway, else its latest attestation; never an
 *  enterprise or a year it has nothing to do with. */
export function attestDefault(notices, mine) {
  const attested = (n) => mine.some((a) => a.status === 'active' && a.enterprise === n.enterprise && a.year === n.year && a.pollutant === n.pollutant);
  const open = notices.filter((n) => n.outcome === null).sort((a, b) => b.year - a.year);
  const notice = open.find((n) => !attested(n)) || open[0];
  if (notice) return { enterprise: notice.enterprise, year: notice.year, pollutant: notice.pollutant };
  const last = [...mine].sort((a, b) => b.submitted_time - a.submitted_time)[0];
  return last ? { enterprise: last.enterprise, year: last.year, pollutant: last.pollutant } : null;
}

function attestForm(enterprises, mine, batches, notices, ctx) {
  const chosen = attestDefault(notices, mine);
  // the enterprises it is assigned to (it sees their notices) or attested come first
  const mineFirst = new Set([...notices.map((n) => n.enterprise), ...mine.map((a) => a.enterprise)]);
  const ordered = enterprises.filter((e) => mineFirst.has(e.address)).concat(enterprises.filter((e) => !mineFirst.has(e.address)));
  const enterprise = el('select', { id: 'att-enterprise' }, ordered.map((e) => el('option', { value: e.address, selected: chosen && e.address === chosen.enterprise }, e.name || e.address)));
  const pollutant = el('select', { id: 'att-pollutant' }, Object.entries(POLLUTANTS).map(([c, s]) => el('option', { value: c, selected: chosen && Number(c) === chosen.pollutant }, s)));
  const year = el('input', { id: 'att-year', type: 'number', min: 2000, max: 2200, value: chosen ? chosen.year : '' });
  const verified = el('input', { id: 'att-verified', type: 'number', min: 0, step: 1 });
  const eligible = el('input', { id: 'att-offsets', type: 'number', min: 0, step: 1, value: 0 });
  const evidence = el('select', { id: 'att-evidence', multiple: true, size: 4 }, batches.map((b) => el('option', { value: b.batch_id }, `${short(b.batch_id)} · ${when(b.period_end)}`)));
  const report = el('textarea', { id: 'att-report', rows: 3, placeholder: t('auditor.reportHint') });
  const submit = el('button', { class: 'btn primary', id: 'att-submit', type: 'button' }, t('auditor.signSubmit'));
  const result = el('div', { id: 'att-result' });
  submit.addEventListener('click', () => busy(submit, async () => {
    const ethers = await loadEthers();
    const signer = await ctx.signer();
    const reportHash = ethers.keccak256(ethers.toUtf8Bytes(report.value || ''));
    const chosen = [...evidence.selectedOptions].map((o) => o.value);
    const previous = mine.find((a) => a.status === 'active' && a.enterprise === enterprise.value
      && a.pollutant === Number(pollutant.value) && a.year === Number(year.value));
    const payload = await api('/tx/typed-data/attestation', {
      method: 'POST',
      body: {
        enterprise: enterprise.value, pollutant: Number(pollutant.value), year: Number(year.value),
        verified_emissions: Number(verified.value || 0), offsets_eligible: Number(eligible.value || 0),
        evidence: chosen.length ? chosen : [reportHash], report_hash: reportHash,
        supersedes: previous ? previous.attestation_id : null,
      },
    });
    const signature = await signer.signTypedData(payload.typed_data);
    await sendAction(signer, payload.relay.contract, payload.relay.function, { ...payload.relay.args, signature });
    result.replaceChildren(el('p', { class: 'result ok' }, t('auditor.submitted', { id: payload.digest })));
    await ctx.refresh();
  }, t('auditor.submittedToast')));
  return card(t('auditor.attest'), el('p', { class: 'muted' }, t('auditor.attestNote')), el('div', { class: 'form' },
    field(t('common.enterprise'), enterprise), field(t('common.pollutant'), pollutant), field(t('common.year'), year),
    field(t('auditor.verified'), verified), field(t('auditor.offsets'), eligible), field(t('auditor.evidence'), evidence),
    field(t('auditor.report'), report), submit), result);
}

function proofForm(batches) {
  const batch = el('input', { id: 'proof-batch', placeholder: '0x…', value: batches[0] ? batches[0].batch_id : '' });
  const position = el('input', { id: 'proof-position', type: 'number', min: 0, step: 1, value: 0 });
  const check = el('button', { class: 'btn primary', id: 'proof-check', type: 'button' }, t('auditor.verify'));
  const result = el('div', { id: 'proof-result' });
  check.addEventListener('click', () => busy(check, async () => {
    const proof = await api(`/audit/readings/${batch.value.trim()}/${Number(position.value)}`);
    const r = proof.reading;
    result.replaceChildren(el('div', { class: `result ${proof.verified ? 'ok' : 'bad'}` },
      el('strong', {}, proof.verified ? t('auditor.proofOk') : t('auditor.proofBad')),
      el('dl', { class: 'details' },
        el('dt', {}, t('auditor.reading')), el('dd', {}, `${r.pollutant} = ${r.amount} ${r.unit} (${r.flag}) · ${r.time_iso}`),
        el('dt', {}, t('auditor.root')), el('dd', { class: 'mono' }, proof.anchored_root),
        el('dt', {}, t('auditor.checks')), el('dd', {}, Object.entries(proof.checks).map(([k, v]) => `${k}: ${v}`).join(' · ')),
        el('dt', {}, t('auditor.proofLength')), el('dd', {}, String(proof.proof.length)),
        proof.error ? [el('dt', {}, t('common.failed')), el('dd', {}, proof.error)] : null)));
  }));
  return card(t('auditor.proof'), el('div', { class: 'form' }, field(t('auditor.batch'), batch), field(t('auditor.position'), position), check), result);
}

async function readingsOf(box, batchId) {
  const page = await api(`/batches/${batchId}/readings`, { params: { limit: 50 } });
  box.replaceChildren(el('h3', {}, t('auditor.readingsOf', { id: short(batchId) })), table([
    { label: '#', render: (r) => String(r.position) },
    { label: t('common.time'), render: (r) => r.time_iso },
    { label: t('auditor.factor'), key: 'pollutant' },
    { label: t('auditor.value'), num: true, render: (r) => `${r.amount} ${r.unit}` },
    { label: t('auditor.flag'), key: 'flag' },
  ], page.items, { id: 'readings' }));
}

export async function render(root, ctx) {
  const me = ctx.me.address;
  const [enterprises, mine, batches, notices] = await Promise.all([
    all('/participants', { role: 'ENTERPRISE' }, 2000),
    all('/attestations', { auditor: me }, 1000),
    api('/batches', { params: { limit: 50 } }),
    all('/compliance/notices', {}, 1000),
  ]);
  const names = Object.fromEntries(enterprises.map((e) => [e.address, e.name]));
  const attestedBy = {};
  for (const a of mine) (attestedBy[a.enterprise] ||= []).push(a);
  const readingsBox = el('div', { id: 'readings-box' });
  const assigned = enterprises.filter((e) => attestedBy[e.address]).concat(enterprises.filter((e) => !attestedBy[e.address])).slice(0, 200);

  root.append(
    el('div', { class: 'view-head' }, el('h1', {}, t('auditor.title'))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-6' }, card(t('auditor.enterprises'), el('div', { class: 'scroll' }, table([
        { label: t('common.enterprise'), render: (e) => e.name || short(e.address) },
        { label: t('common.region'), render: (e) => String(e.region_code ?? '–') },
        { label: t('auditor.attestations'), num: true, render: (e) => String((attestedBy[e.address] || []).length) },
        { label: t('auditor.trail'), render: (e) => (attestedBy[e.address] ? el('a', { href: `#/audit?account=${e.address}` }, t('auditor.trail')) : '') },
      ], assigned, { id: 'auditor-enterprises' })))),
      el('div', { class: 'span-6' }, card(t('auditor.mine'), el('div', { class: 'scroll' }, table([
        { label: t('common.enterprise'), render: (a) => names[a.enterprise] || short(a.enterprise) },
        { label: t('common.pollutant'), render: (a) => a.pollutant_symbol },
        { label: t('common.year'), render: (a) => String(a.year) },
        { label: t('auditor.verified'), num: true, render: (a) => num(a.verified) },
        { label: t('common.status'), render: (a) => badge(a.status === 'active' ? 'within' : 'none', t(`attestation.${a.status}`)) },
        { label: t('common.submitted'), render: (a) => when(a.submitted_time) },
      ], mine, { id: 'my-attestations', empty: t('auditor.noAttestations') }))))),
    el('div', { class: 'grid' },
      el('div', { class: 'span-6' }, attestForm(enterprises, mine, batches.items, notices, ctx)),
      el('div', { class: 'span-6' }, proofForm(batches.items))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(t('auditor.batches'), batches.items.length ? table([
      { label: t('auditor.batch'), render: (b) => el('a', { href: '#', onclick: (ev) => { ev.preventDefault(); readingsOf(readingsBox, b.batch_id); } }, short(b.batch_id)) },
      { label: t('common.enterprise'), render: (b) => names[b.enterprise] || short(b.enterprise) },
      { label: t('auditor.device'), render: (b) => short(b.device) },
      { label: t('auditor.period'), render: (b) => `${when(b.period_start)} – ${when(b.period_end)}` },
      { label: t('auditor.count'), num: true, render: (b) => num(b.count) },
    ], batches.items, { id: 'batches' }) : empty(t('auditor.noBatches')), readingsBox))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12', id: 'auditor-review-host' })),
  );
  // the review queue: only the enterprises the regulator assigned it to (GET /review/scope)
  const scope = await api('/review/scope');
  const reviewable = scope.all ? enterprises : enterprises.filter((e) => scope.enterprises.includes(e.address));
  root.querySelector('#auditor-review-host').replaceChildren(await reviewPanel(ctx, reviewable));
}
