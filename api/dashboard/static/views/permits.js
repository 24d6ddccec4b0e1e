// Discharge permits panels: the enterprise's (its permits and applications, and a form to apply,
// signed in its wallet) and the regulator's review queue (submitted applications: return for more
// information or issue as requested), from GET /permits and /permits/applications; the actions are
// built by the API and signed in the wallet: the application by POST /tx/permits, the regulator's
// review by /tx/build (DischargePermits.reviewReturn, issue).

import { api } from '../api.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, num, POLLUTANTS, table, when } from '../ui.js';
import { sendAction, sendBuilt } from '../wallet.js';

const PERMIT_BADGE = { valid: 'within', expired: 'near', revoked: 'over', cancelled: 'none' };
const APP_BADGE = { submitted: 'near', returned: 'near', refused: 'over', issued: 'within' };

const termsText = (terms) => terms.map((x) => `${POLLUTANTS[x.pollutant] || x.pollutant} ${num(x.annual_amount)} t`).join(' · ');
const outletsText = (outlets) => outlets.map((o) => `${o.code} (${o.mn})`).join(' · ');

function permitsTable(permits) {
  return table([
    { label: t('permits.number'), key: 'number' },
    { label: t('permits.status'), render: (p) => badge(PERMIT_BADGE[p.status] || 'none', t(`permits.status.${p.status}`)) },
    { label: t('permits.validUntil'), render: (p) => when(p.valid_until) },
    { label: t('permits.terms'), render: (p) => termsText(p.terms) },
    { label: t('permits.outlets'), render: (p) => outletsText(p.outlets) },
  ], permits, { id: 'permits', empty: t('permits.none') });
}

function applicationsTable(apps, id, actions) {
  const columns = [
    { label: '#', key: 'application_id' },
    { label: t('permits.status'), render: (a) => badge(APP_BADGE[a.status] || 'none', t(`permits.app.${a.status}`)) },
    { label: t('permits.requested'), render: (a) => termsText(a.terms) },
    { label: t('permits.outlets'), render: (a) => outletsText(a.outlets) },
    { label: t('permits.reason'), render: (a) => a.reason || '–' },
  ];
  if (actions) columns.push({ label: '', render: actions });
  return table(columns, apps.map((a) => ({ ...a, __data: { application: String(a.application_id) } })), { id, empty: t('permits.noApplications') });
}

function applyForm(ctx) {
  const code = el('input', { id: 'permit-outlet', value: 'DA001', maxlength: 32 });
  const mn = el('input', { id: 'permit-mn', placeholder: 'MN', maxlength: 24 });
  const pollutant = el('select', { id: 'permit-pollutant' },
    [2, 3, 4, 5, 6].map((p) => el('option', { value: String(p) }, POLLUTANTS[p])));
  const amount = el('input', { id: 'permit-amount', type: 'number', min: 1, step: 1 });
  const limit = el('input', { id: 'permit-limit', type: 'number', min: 0, step: 1, value: 0 });
  const button = el('button', { type: 'submit', class: 'primary' }, t('permits.apply'));
  const form = el('form', { id: 'permit-apply', class: 'form-row' },
    field(t('permits.outlet'), code), field('MN', mn), field(t('common.pollutant'), pollutant),
    field(t('permits.amount'), amount), field(t('permits.limit'), limit), button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = {
        action: 'apply',
        outlets: [{ code: code.value.trim(), mn: mn.value.trim() }],
        terms: [{ pollutant: Number(pollutant.value), annual_amount: Number(amount.value), concentration_limit: Number(limit.value) }],
      };
      await sendBuilt(await ctx.signer(), '/tx/permits', body); // built by the API, signed in the wallet
      await ctx.refresh();
    }, t('permits.applied'));
  });
  return form;
}

/** The enterprise's permits panel: its permits, its applications, the application form. */
export async function enterprisePermits(ctx, me) {
  let permits;
  let apps;
  try {
    [permits, apps] = await Promise.all([
      api('/permits', { params: { enterprise: me, limit: 50 } }),
      api('/permits/applications', { params: { limit: 50 } }),
    ]);
  } catch {
    return card(t('permits.title'), empty(t('permits.none')));
  }
  return card(t('permits.title'), permitsTable(permits.items),
    el('h3', {}, t('permits.applications')), applicationsTable(apps.items, 'permit-applications'),
    el('h3', {}, t('permits.applyTitle')), applyForm(ctx));
}

/** The regulator's review queue: submitted applications, to return or issue as requested. */
export async function regulatorPermits(ctx) {
  let queue;
  let stats;
  try {
    [queue, stats] = await Promise.all([
      api('/permits/applications', { params: { status: 'submitted', limit: 100 } }),
      api('/permits/stats'),
    ]);
  } catch {
    return card(t('permits.queue'), empty(t('permits.noApplications')));
  }
  const actions = (a) => {
    const back = el('button', { type: 'button', class: 'return' }, t('permits.return'));
    const issue = el('button', { type: 'button', class: 'issue primary' }, t('permits.issue'));
    back.addEventListener('click', () => busy(back, async () => {
      const reason = window.prompt(t('permits.reason')) || '';
      await sendAction(await ctx.signer(), 'DischargePermits', 'reviewReturn', [a.application_id, reason]);
      await ctx.refresh();
    }, t('permits.returned')));
    issue.addEventListener('click', () => busy(issue, async () => {
      const number = window.prompt(t('permits.number')) || '';
      await sendAction(await ctx.signer(), 'DischargePermits', 'issue', [a.application_id, number, 0, 0, a.terms.map((x) => x.annual_amount)]);
      await ctx.refresh();
    }, t('permits.issued')));
    return el('span', {}, back, ' ', issue);
  };
  const counts = Object.entries(stats.by_status).map(([s, n]) => `${t(`permits.status.${s}`)} ${num(n)}`).join(' · ');
  return card(t('permits.queue'), el('p', { class: 'muted', id: 'permit-stats' }, counts || t('permits.none')),
    applicationsTable(queue.items, 'permit-queue', actions));
}
