// Review of doubtful monitoring data (the regulator's and the assigned auditor's panel): an
// enterprise's queue for a month from GET /review/queue (readings quality control excluded and
// sequence gaps, with the decision recorded on each) and, per open item, accept / reject /
// substitute buttons. The API builds the EIP-712 ReviewDecision (POST /review/typed-data), the
// page's wallet signs it, POST /tx/review builds EmissionsLedger.recordReview for the same wallet
// to sign, and POST /tx/relay anchors it.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, short, table, when } from '../ui.js';
import { sendBuilt } from '../wallet.js';

const DECISION_BADGE = { accept: 'within', reject: 'over', substitute: 'near' };

function thisMonth() {
  const now = new Date();
  return now.getUTCFullYear() * 100 + now.getUTCMonth() + 1;
}

async function decide(ctx, item, enterprise, month, action) {
  const body = { enterprise, subject: item.subject, pollutant: item.pollutant, month, action };
  if (action === 'substitute') {
    body.method = (window.prompt(t('review.method'), 'prevhour') || '').trim();
    const value = (window.prompt(t('review.value'), '') || '').trim();
    if (value) body.value = value;
  }
  const signer = await ctx.signer();
  const typed = await api('/review/typed-data', { method: 'POST', body });
  const signature = await signer.signTypedData(typed.typed_data); // the reviewer's wallet signs the decision
  return sendBuilt(signer, '/tx/review', { ...typed.relay, signature });
}

function queueTable(ctx, queue, reload) {
  const actions = (item) => {
    if (item.decision) {
      const d = item.decision;
      return badge(DECISION_BADGE[d.action] || 'none', `${t(`review.${d.action}`)}${d.method ? ` (${d.method})` : ''}`);
    }
    const buttons = ['accept', 'reject', 'substitute'].map((action) => {
      const button = el('button', { type: 'button', class: action === 'accept' ? `${action} primary` : action }, t(`review.${action}`));
      button.addEventListener('click', () => busy(button, async () => {
        await decide(ctx, item, queue.enterprise, queue.month, action);
        await reload();
      }, t('review.recorded')));
      return button;
    });
    return el('span', {}, ...buttons.flatMap((b) => [b, ' ']));
  };
  const rows = queue.items.map((i) => ({ ...i, __data: { subject: i.subject } }));
  // why the item is doubtful: QC's exclusion and/or the field alarm that marked the reading
  const why = (i) => {
    if (i.kind === 'gap') return t('review.gap');
    const parts = [];
    if (i.exclusion) parts.push(t(`review.exclusion.${i.exclusion}`));
    if (i.reason) parts.push(t(`review.reason.${i.reason}`));
    return el('span', i.alarm ? { title: i.alarm } : {}, parts.join(' · ') || '–');
  };
  return table([
    { label: t('review.kind'), render: (i) => t(`review.kind.${i.kind}`) },
    { label: t('common.time'), render: (i) => when(i.time) },
    { label: t('review.device'), render: (i) => short(i.device) },
    { label: t('common.pollutant'), render: (i) => i.pollutant || '–' },
    { label: t('review.value'), render: (i) => (i.value === null ? t('review.missing', { n: i.missing }) : `${i.value} ${i.unit}`) },
    { label: t('review.why'), render: why },
    { label: '', render: actions },
  ], rows, { id: 'review-queue', empty: t('review.none') });
}

/** The review panel: pick an enterprise and a month, see its queue, decide each item. */
export async function reviewPanel(ctx, enterprises) {
  const select = el('select', { id: 'review-enterprise' },
    enterprises.map((e) => el('option', { value: e.address }, e.name || short(e.address))));
  const month = el('input', { id: 'review-month', type: 'number', min: 197001, max: 999912, value: thisMonth() });
  const load = el('button', { type: 'submit', class: 'primary' }, t('review.load'));
  const summary = el('p', { class: 'muted', id: 'review-summary' });
  const box = el('div', { id: 'review-box' });
  const reload = async () => {
    if (!select.value) return;
    const queue = await api('/review/queue', { params: { enterprise: select.value, month: Number(month.value) } });
    summary.textContent = t('review.summary', { open: queue.open, decided: queue.decided });
    box.replaceChildren(queueTable(ctx, queue, reload));
  };
  const form = el('form', { id: 'review-form', class: 'form-row' },
    field(t('common.enterprise'), select), field(t('review.month'), month), load);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(load, reload);
  });
  if (!enterprises.length) return card(t('review.title'), empty(t('review.noEnterprises')));
  await reload().catch(() => box.replaceChildren(empty(t('review.none'))));
  return card(t('review.title'), el('p', { class: 'muted' }, t('review.intro')), form, summary, box);
}
