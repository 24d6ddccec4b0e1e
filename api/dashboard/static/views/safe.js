// Safe multisig accounts (four eyes): a representative opens the enterprise's Safe, sees its
// representatives and threshold and the transactions proposed (by whom, the call decoded, the
// signatures collected), proposes an allowance transfer, signs a proposal's EIP-712 SafeTx in the
// page's wallet (POST /safe/{safe}/transactions/{hash}/signatures) and, once the threshold is met,
// executes it: the API builds the execTransaction, the same wallet signs it, the API relays it.

import { api } from '../api.js';
import { t } from '../i18n.js';
import { badge, busy, card, el, empty, field, short, table, tokenLabel, when } from '../ui.js';

const SAFE_KEY = 'ets.safe';

function callText(tx) {
  const name = tx.function.split('(')[0];
  const args = Object.entries(tx.args).map(([k, v]) => `${k}=${typeof v === 'string' && v.startsWith('0x') && v.length === 42 ? short(v) : v}`);
  return `${tx.contract}.${name}(${args.join(', ')})`;
}

async function sign(ctx, safe, tx) {
  const signer = await ctx.signer();
  const signature = await signer.signTypedData(tx.typed_data); // the representative's wallet signs the SafeTx
  return api(`/safe/${safe}/transactions/${tx.safe_tx_hash}/signatures`, { method: 'POST', body: { signature } });
}

async function execute(ctx, safe, tx) {
  const signer = await ctx.signer();
  const built = await api(`/safe/${safe}/transactions/${tx.safe_tx_hash}/execute`, { method: 'POST', body: {} });
  const signed = await signer.signTransaction(built.tx);
  return api(`/safe/${safe}/transactions/${tx.safe_tx_hash}/relay`, { method: 'POST', body: { raw_transaction: signed.raw } });
}

function txTable(ctx, safe, txs, reload) {
  const me = ctx.me.address.toLowerCase();
  const actions = (tx) => {
    if (tx.status !== 'pending') return badge(tx.status === 'executed' ? 'within' : 'over', t(`safe.${tx.status}`));
    const buttons = [];
    if (!tx.signatures.some((s) => s.signer.toLowerCase() === me)) {
      const button = el('button', { type: 'button', class: 'sign primary' }, t('safe.sign'));
      button.addEventListener('click', () => busy(button, async () => { await sign(ctx, safe, tx); await reload(); }, t('safe.signed')));
      buttons.push(button);
    }
    if (tx.ready) {
      const button = el('button', { type: 'button', class: 'execute primary' }, t('safe.execute'));
      button.addEventListener('click', () => busy(button, async () => { await execute(ctx, safe, tx); await reload(); }, t('safe.done')));
      buttons.push(button);
    }
    return el('span', {}, ...buttons.flatMap((b) => [b, ' ']));
  };
  const rows = txs.map((tx) => ({ ...tx, __data: { hash: tx.safe_tx_hash, status: tx.status } }));
  return table([
    { label: t('safe.nonce'), render: (tx) => String(tx.nonce) },
    { label: t('safe.call'), render: (tx) => callText(tx) },
    { label: t('safe.proposer'), render: (tx) => short(tx.proposer) },
    { label: t('common.time'), render: (tx) => when(tx.created_at) },
    { label: t('safe.signatures'), render: (tx) => `${tx.signatures.length} / ${tx.threshold}: ${tx.signatures.map((s) => short(s.signer)).join(', ')}` },
    { label: '', render: actions },
  ], rows, { id: 'safe-txs', empty: t('safe.none') });
}

function proposeForm(ctx, safe, reload) {
  const to = el('input', { id: 'safe-to', required: true, pattern: '^0x[0-9a-fA-F]{40}$', placeholder: '0x…' });
  const token = el('input', { id: 'safe-token', required: true, inputmode: 'numeric', value: '16844779' });
  const amount = el('input', { id: 'safe-amount', required: true, inputmode: 'numeric' });
  const submit = el('button', { type: 'submit', class: 'primary' }, t('safe.propose'));
  const form = el('form', { id: 'safe-propose', class: 'inline' }, field(t('safe.to'), to), field(t('safe.token'), token), field(t('safe.amount'), amount), submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const args = { from: safe, to: to.value.trim(), id: Number(token.value), value: Number(amount.value), data: '0x' };
      const tx = await api(`/safe/${safe}/transactions`, { method: 'POST', body: { contract: 'AllowanceToken', function: 'safeTransferFrom', args } });
      await sign(ctx, safe, tx); // the proposer signs at once: the other representative sees 1 of n
      await reload();
    }, t('safe.proposed'));
  });
  return card(t('safe.propose_title', { token: tokenLabel(Number(token.value)) }), form);
}

export async function render(root, ctx) {
  const input = el('input', { id: 'safe-address', required: true, pattern: '^0x[0-9a-fA-F]{40}$', value: ctx.params.safe || localStorage.getItem(SAFE_KEY) || '' });
  const open = el('button', { type: 'submit', class: 'primary' }, t('safe.open'));
  const chooser = el('form', { id: 'safe-form', class: 'inline' }, field(t('safe.address'), input), open);
  const body = el('div', { id: 'safe-body' });
  root.append(el('h1', {}, t('safe.title')), card(null, chooser), body);

  const load = async () => {
    const safe = input.value.trim();
    if (!safe) { body.replaceChildren(empty(t('safe.pick'))); return; }
    localStorage.setItem(SAFE_KEY, safe);
    const [info, txs] = await Promise.all([api(`/safe/${safe}`), api(`/safe/${safe}/transactions`)]);
    const pending = txs.filter((tx) => tx.status === 'pending');
    const done = txs.filter((tx) => tx.status !== 'pending');
    body.replaceChildren(
      card(t('safe.account'), el('p', { id: 'safe-info' }, t('safe.summary', { threshold: info.threshold, owners: info.owners.length, nonce: info.nonce })),
        el('ul', {}, info.owners.map((o) => el('li', {}, o)))),
      proposeForm(ctx, safe, load),
      card(t('safe.pending'), txTable(ctx, safe, pending, load)),
      card(t('safe.history'), txTable(ctx, safe, done, load)),
    );
  };
  chooser.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(open, load);
  });
  try {
    await load();
  } catch (err) {
    body.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${t('common.failed')}: ${err.message || err}`));
  }
}
