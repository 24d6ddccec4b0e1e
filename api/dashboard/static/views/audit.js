// Audit trail: every on-chain event, filtered by enterprise, token, device, contract, event
// and time; pages by cursor; CSV export with the same filters.

import { api } from '../api.js';
import { t, tn } from '../i18n.js';
import { busy, card, el, empty, field, short, table, toast, when } from '../ui.js';

const CONTRACTS = ['', 'ConsortiumRegistry', 'AllowanceToken', 'SettlementToken', 'SealedBidAuction', 'EmissionsLedger', 'ComplianceManager'];

function unix(value) {
  return value ? Math.floor(new Date(value).getTime() / 1000) : undefined;
}

/** An event's arguments as readable lines: `name: value`, the role ids of role arguments (`role`,
 *  `newAdminRole` ...) by their name, long values wrapped (the full JSON stays in the title). */
export function argsList(args, roles) {
  const show = (v, isRole) => {
    if (isRole && typeof v === 'string' && roles[v.toLowerCase()]) return roles[v.toLowerCase()];
    if (Array.isArray(v)) return `[${v.map((x) => show(x, isRole)).join(', ')}]`;
    if (v !== null && typeof v === 'object') return JSON.stringify(v);
    return String(v);
  };
  return el('dl', { class: 'args', title: JSON.stringify(args) },
    Object.entries(args || {}).map(([k, v]) => [el('dt', {}, k), el('dd', {}, show(v, /role/i.test(k)))]));
}

export async function render(root, ctx) {
  const me = ctx.me;
  const roles = Object.fromEntries(Object.entries(ctx.config.roles || {}).map(([id, name]) => [id.toLowerCase(), name]));
  const seesAll = me.roles.includes('REGULATOR') || me.roles.includes('EXCHANGE');
  const auditorOnly = !seesAll && me.roles.includes('AUDITOR') && !me.roles.includes('ENTERPRISE');
  let attested = [];
  if (auditorOnly) {
    const mine = await api('/attestations', { params: { auditor: me.address, limit: 500 } });
    attested = [...new Set(mine.items.map((a) => a.enterprise))];
  }

  const account = auditorOnly
    ? el('select', { id: 'f-account' }, attested.map((a) => el('option', { value: a, selected: a === ctx.params.account }, a)))
    : el('input', { id: 'f-account', value: ctx.params.account || (seesAll ? '' : me.address), placeholder: '0x…', readonly: !seesAll });
  const tokenId = el('input', { id: 'f-token', inputmode: 'numeric', value: ctx.params.token_id || '', placeholder: '16844776' });
  const device = el('input', { id: 'f-device', value: ctx.params.device || '', placeholder: '0x…' });
  const contract = el('select', { id: 'f-contract' }, CONTRACTS.map((c) => el('option', { value: c }, c || t('audit.anyContract'))));
  const name = el('input', { id: 'f-name', placeholder: 'TransferSingle' });
  const from = el('input', { id: 'f-from', type: 'datetime-local' });
  const to = el('input', { id: 'f-to', type: 'datetime-local' });
  const results = el('div', { id: 'audit-results' });
  const more = el('button', { class: 'btn', hidden: true, id: 'audit-more' }, t('audit.more'));
  const apply = el('button', { class: 'btn primary', id: 'audit-apply', type: 'submit' }, t('audit.apply'));
  const csv = el('button', { class: 'btn', id: 'audit-csv', type: 'button' }, t('audit.csv'));
  let rows = [];
  let next = null;

  const filters = () => ({
    account: account.value || undefined,
    token_id: tokenId.value || undefined,
    device: device.value || undefined,
    contract: contract.value || undefined,
    name: name.value || undefined,
    from_time: unix(from.value),
    to_time: unix(to.value),
  });

  const columns = [
    { label: t('audit.time'), render: (e) => el('time', { datetime: e.time }, when(e.block_time, { seconds: true })) },
    { label: t('audit.block'), num: true, render: (e) => `${e.block_number}:${e.log_index}` },
    { label: t('audit.contract'), key: 'contract' },
    { label: t('audit.event'), key: 'name' },
    { label: t('audit.token'), render: (e) => (e.token_id === null ? '–' : String(e.token_id)) },
    { label: t('audit.device'), render: (e) => short(e.device) },
    { label: t('audit.args'), render: (e) => argsList(e.args, roles) },
    { label: t('audit.tx'), render: (e) => el('span', { class: 'mono', title: e.tx_hash }, short(e.tx_hash)) },
  ];

  async function load(reset) {
    if (auditorOnly && !account.value) {
      results.replaceChildren(empty(t('audit.pickEnterprise')));
      return;
    }
    const page = await api('/audit/events', { params: { ...filters(), after: reset ? undefined : next, limit: 100 } });
    rows = reset ? page.items : rows.concat(page.items);
    next = page.next;
    results.replaceChildren(el('p', { class: 'muted', id: 'audit-count' }, tn('audit.count', rows.length)),
      table(columns, rows, { id: 'audit-table', empty: t('audit.none') }));
    more.hidden = !next;
  }

  async function download() {
    const params = new URLSearchParams(Object.entries(filters()).filter(([, v]) => v !== undefined));
    const blob = await api(`/audit/events.csv?${params}`, { as: 'blob' });
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: `ets-audit-${new Date().toISOString().slice(0, 10)}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    toast(t('audit.csvDone'), 'ok');
  }

  const form = el('form', { class: 'form', id: 'audit-filters' },
    field(t('audit.account'), account), field(t('audit.token'), tokenId), field(t('audit.device'), device),
    field(t('audit.contract'), contract), field(t('audit.event'), name), field(t('audit.from'), from),
    field(t('audit.to'), to), el('div', {}, apply, ' ', csv));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(apply, () => load(true));
  });
  csv.addEventListener('click', () => busy(csv, download));
  more.addEventListener('click', () => busy(more, () => load(false)));

  root.append(el('div', { class: 'view-head' }, el('h1', {}, t('audit.title'))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(null, form))),
    el('div', { class: 'grid' }, el('div', { class: 'span-12' }, card(null, results, more))));
  await load(true);
}
