// Enterprise accounts: the applicant's page (any signed-in wallet, before it has a role): its
// applications with their status up to the executed proposal, and a form to apply (or, for a
// registered enterprise, to ask for a profile change), signed as EIP-712 typed data built by the
// API; the review queue of the exchange and the regulator (ask for information, refuse, accept:
// the wallet signs the governance proposal the API built); and an enterprise's daily and monthly
// statements (balances, movements by type, fees, fines) with CSV and PDF downloads.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, num, table, tokenLabel, when, yuan } from '../ui.js';
import { waitIndexed } from '../wallet.js';

const STATUS_BADGE = {
  submitted: 'near', info_requested: 'near', refused: 'over', accepted: 'near',
  proposed: 'near', executed: 'within', expired: 'over',
};

const statusBadge = (a) => badge(STATUS_BADGE[a.status] || 'none', t(`accounts.status.${a.status}`));

function applicationsTable(apps, id, actions) {
  const columns = [
    { label: t('accounts.kind'), render: (a) => t(`accounts.kind.${a.kind}`) },
    { label: t('accounts.creditCode'), key: 'credit_code' },
    { label: t('accounts.name'), key: 'name' },
    { label: t('accounts.status'), render: statusBadge },
    { label: t('accounts.proposal'), render: (a) => (a.proposal_id ? `#${a.proposal_id} (${a.approvals})` : '–') },
    { label: t('accounts.reason'), render: (a) => a.reason || '–' },
    { label: t('accounts.submitted'), render: (a) => when(a.submitted_time) },
  ];
  if (actions) columns.push({ label: '', render: actions });
  return table(columns, apps.map((a) => ({ ...a, __data: { application: a.application_id } })), { id, empty: t('accounts.none') });
}

/** The fields of the form as the API takes them (the account is the signed-in wallet's). */
function formBody(inputs, kind) {
  const docs = inputs.documents.value.split(/[\s,]+/).filter(Boolean);
  return {
    kind,
    credit_code: inputs.code.value.trim().toUpperCase(),
    name: inputs.name.value.trim(),
    region_code: Number(inputs.region.value),
    industry_code: inputs.industry.value.trim().toUpperCase(),
    latitude_e6: Math.round(Number(inputs.lat.value) * 1e6),
    longitude_e6: Math.round(Number(inputs.lon.value) * 1e6),
    contacts: [{ name: inputs.contact.value.trim(), phone: inputs.phone.value.trim(), email: inputs.email.value.trim() }],
    documents: docs,
    issued_at: Math.floor(Date.now() / 1000),
  };
}

async function signed(ctx, body) {
  const typed = await api('/accounts/applications/typed-data', { method: 'POST', body });
  const signature = await (await ctx.signer()).signTypedData(typed.typed_data);
  return { ...body, signature };
}

function applyForm(ctx, kind, resubmit) {
  const input = (id, attrs = {}) => el('input', { id: `apply-${id}`, ...attrs });
  const inputs = {
    code: input('code', { maxlength: 18, placeholder: '91370100MA3C8WWK6T' }),
    name: input('name', { maxlength: 200 }),
    region: input('region', { type: 'number', placeholder: '370102' }),
    industry: input('industry', { maxlength: 8, placeholder: 'D4411' }),
    lat: input('lat', { type: 'number', step: 'any', value: '36.65' }),
    lon: input('lon', { type: 'number', step: 'any', value: '117.12' }),
    contact: input('contact', { maxlength: 120 }),
    phone: input('phone', { maxlength: 120 }),
    email: input('email', { maxlength: 120 }),
    documents: input('documents', { placeholder: '0x…' }),
  };
  if (resubmit) {
    const a = resubmit;
    Object.assign(inputs.code, { value: a.credit_code, readOnly: true });
    inputs.name.value = a.name;
    inputs.region.value = a.region_code;
    inputs.industry.value = a.industry_code;
    inputs.lat.value = a.latitude_e6 / 1e6;
    inputs.lon.value = a.longitude_e6 / 1e6;
    [inputs.contact.value, inputs.phone.value, inputs.email.value] = [a.contacts[0].name, a.contacts[0].phone, a.contacts[0].email];
    inputs.documents.value = a.documents.join(' ');
  }
  const button = el('button', { type: 'submit', class: 'primary' }, t(resubmit ? 'accounts.resubmit' : 'accounts.sign'));
  const form = el('form', { id: resubmit ? 'account-resubmit' : 'account-apply', class: 'form-row' },
    field(t('accounts.creditCode'), inputs.code), field(t('accounts.name'), inputs.name),
    field(t('accounts.region'), inputs.region), field(t('accounts.industry'), inputs.industry),
    field(t('accounts.latitude'), inputs.lat), field(t('accounts.longitude'), inputs.lon),
    field(t('accounts.contact'), inputs.contact), field(t('accounts.phone'), inputs.phone),
    field(t('accounts.email'), inputs.email), field(t('accounts.documents'), inputs.documents), button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = await signed(ctx, formBody(inputs, resubmit ? resubmit.kind : kind));
      const path = resubmit ? `/accounts/applications/${resubmit.application_id}/resubmit` : '/accounts/applications';
      await api(path, { method: 'POST', body });
      await ctx.refresh();
    }, t('accounts.applied'));
  });
  return form;
}

/** The applicant's own applications and the form (register, or change for an enterprise). */
async function applicantCard(ctx) {
  const mine = await api('/accounts/applications', { params: { limit: 50 } });
  const kind = ctx.me.roles.includes('ENTERPRISE') ? 'change' : 'register';
  const asked = mine.items.find((a) => a.status === 'info_requested');
  const parts = [
    el('p', { class: 'muted' }, t(ctx.me.roles.length ? 'accounts.introMember' : 'accounts.intro')),
    applicationsTable(mine.items, 'account-applications'),
  ];
  if (asked) parts.push(el('h3', {}, t('accounts.answer')), applyForm(ctx, asked.kind, asked));
  if (!ctx.me.roles.length || kind === 'change') parts.push(el('h3', {}, t(`accounts.applyTitle.${kind}`)), applyForm(ctx, kind, null));
  return card(t('accounts.title'), ...parts);
}

/** The review queue (exchange, regulator): submitted applications. */
async function reviewCard(ctx) {
  const queue = await api('/accounts/applications', { params: { status: 'submitted', limit: 100 } });
  const review = (a, decision, button) => busy(button, async () => {
    const reason = decision === 'accept' ? '' : (window.prompt(t('accounts.reason')) || '');
    const done = await api(`/accounts/applications/${a.application_id}/review`, { method: 'POST', body: { decision, reason } });
    if (done.propose) {
      const signer = await ctx.signer();
      const tx = await signer.signTransaction(done.propose.tx);
      if (!tx.hash) {
        const outcome = await api('/tx/relay', { method: 'POST', body: { intent_id: done.propose.intent_id, raw_transaction: tx.raw } });
        if (outcome.status === 'reverted') throw new Error(outcome.error ? outcome.error.message : 'reverted');
        if (outcome.block_number) await waitIndexed(outcome.block_number);
      }
    }
    await ctx.refresh();
  }, t(`accounts.done.${decision}`));
  const actions = (a) => {
    const buttons = ['request_info', 'refuse', 'accept'].map((d) => {
      const b = el('button', { type: 'button', class: `${d.replace('_', '-')}${d === 'accept' ? ' primary' : ''}` }, t(`accounts.decide.${d}`));
      b.addEventListener('click', () => review(a, d, b));
      return b;
    });
    return el('span', {}, ...buttons.flatMap((b) => [b, ' ']));
  };
  const recent = await api('/accounts/applications', { params: { limit: 20 } });
  return card(t('accounts.queue'), applicationsTable(queue.items, 'account-queue', actions),
    el('h3', {}, t('accounts.recent')), applicationsTable(recent.items, 'account-recent'));
}

const amount = (id, v) => (id === 0 ? yuan(v) : num(v));

function statementView(s) {
  const balances = table([
    { label: t('accounts.token'), render: (l) => tokenLabel(l.token_id) },
    { label: t('accounts.opening'), render: (l) => amount(l.token_id, l.opening), num: true },
    { label: t('accounts.in'), render: (l) => amount(l.token_id, Object.values(l.inflows).reduce((x, y) => x + y, 0)), num: true },
    { label: t('accounts.out'), render: (l) => amount(l.token_id, Object.values(l.outflows).reduce((x, y) => x + y, 0)), num: true },
    { label: t('accounts.closing'), render: (l) => amount(l.token_id, l.closing), num: true },
    { label: t('accounts.fee'), render: (l) => yuan(l.fee), num: true },
  ], s.lines, { id: 'statement-lines', empty: t('accounts.noLines') });
  const types = table([
    { label: t('accounts.movement'), key: 'movement' },
    { label: t('accounts.unitsIn'), key: 'units_in', num: true },
    { label: t('accounts.unitsOut'), key: 'units_out', num: true },
    { label: t('accounts.cashIn'), render: (r) => yuan(r.cash_in), num: true },
    { label: t('accounts.cashOut'), render: (r) => yuan(r.cash_out), num: true },
  ], s.by_type, { id: 'statement-types', empty: t('accounts.noLines') });
  const summary = el('p', { id: 'statement-summary' },
    `${t('accounts.cash')}: ${s.cash_closing === null ? '–' : yuan(s.cash_closing)} · ${t('accounts.fees')}: ${yuan(s.fees)} · ${t('accounts.fines')}: ${yuan(s.fines)}`);
  return el('div', {}, summary, balances, el('h3', {}, t('accounts.byType')), types);
}

async function download(path, fmt, name) {
  const blob = await api(path, { params: { format: fmt }, as: 'blob' });
  const link = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

/** Daily and monthly statements of `account` (its own for an enterprise). */
async function statementsCard(ctx, account) {
  const who = el('input', { id: 'statement-account', value: account, maxlength: 42, readOnly: !ctx.me.roles.some((r) => r === 'EXCHANGE' || r === 'REGULATOR') });
  const pick = el('select', { id: 'statement-period' });
  const out = el('div', { id: 'statement' });
  const show = async () => {
    const [period, label] = pick.value.split(':');
    if (!period) return;
    const path = `/statements/${who.value.trim()}/${period}/${label}`;
    const s = await api(path);
    const buttons = ['csv', 'pdf'].map((fmt) => {
      const b = el('button', { type: 'button', class: `download-${fmt}` }, t(`accounts.download.${fmt}`));
      b.addEventListener('click', () => busy(b, () => download(`${path}/download`, fmt, `statement-${label}.${fmt}`)));
      return b;
    });
    out.replaceChildren(el('p', {}, ...buttons.flatMap((b) => [b, ' '])), statementView(s));
  };
  const load = async () => {
    let found;
    try {
      found = await api(`/statements/${who.value.trim()}/days`);
    } catch (err) {
      out.replaceChildren(empty(err.message));
      return;
    }
    const options = [...found.days.slice().reverse().map((d) => ['daily', d]), ...found.months.slice().reverse().map((m) => ['monthly', m])];
    pick.replaceChildren(...options.map(([p, l]) => el('option', { value: `${p}:${l}` }, `${t(`accounts.period.${p}`)} ${l}`)));
    if (options.length) await show();
    else out.replaceChildren(empty(t('accounts.noStatements')));
  };
  pick.addEventListener('change', () => show().catch((err) => out.replaceChildren(empty(err.message))));
  who.addEventListener('change', () => load());
  await load();
  return card(t('accounts.statements'), el('div', { class: 'form-row' }, field(t('accounts.account'), who), field(t('accounts.period'), pick)), out);
}

export async function render(root, ctx) {
  const roles = ctx.me.roles;
  const reviewer = roles.includes('EXCHANGE') || roles.includes('REGULATOR');
  const cards = [];
  if (reviewer) cards.push(reviewCard(ctx));
  else cards.push(applicantCard(ctx));
  if (roles.includes('ENTERPRISE') || reviewer) cards.push(statementsCard(ctx, ctx.me.address));
  const shown = await Promise.all(cards.map((c) => c.catch((err) => card('', empty(err.message)))));
  root.append(el('h1', {}, t('nav.accounts')), ...shown);
}
