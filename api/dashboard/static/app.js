// The dashboard shell: language, sign-in (demo keys or browser wallet), navigation by role,
// and the views (regulator, enterprise, auditor, exchange, market, audit trail).

import { api, session, setSession } from './api.js';
import { disposeAll } from './charts.js';
import { applyStatic, lang, loadLang, t } from './i18n.js';
import { el, short, toast } from './ui.js';
import { DemoSigner, InjectedSigner, signIn } from './wallet.js';

const VIEWS = {
  regulator: { roles: ['REGULATOR'], load: () => import('./views/regulator.js') },
  exchange: { roles: ['EXCHANGE', 'REGULATOR'], load: () => import('./views/exchange.js') },
  enterprise: { roles: ['ENTERPRISE'], load: () => import('./views/enterprise.js') },
  auditor: { roles: ['AUDITOR'], load: () => import('./views/auditor.js') },
  market: { roles: null, load: () => import('./views/market.js') },
  accounts: { roles: null, load: () => import('./views/accounts.js') },
  safe: { roles: null, load: () => import('./views/safe.js') },
  audit: { roles: null, load: () => import('./views/audit.js') },
};
const DEMO_KEY = 'ets.demoAccount';

const state = { config: null, me: null, signer: null };

function allowed(name) {
  const view = VIEWS[name];
  return !!state.me && (!view.roles || view.roles.some((r) => state.me.roles.includes(r)));
}

function homeView() {
  // a wallet without a role (an applicant) lands on its applications
  if (state.me && !state.me.roles.length) return 'accounts';
  return ['regulator', 'exchange', 'enterprise', 'auditor'].find(allowed) || 'audit';
}

function renderNav() {
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  if (!state.me) return;
  const current = location.hash.replace(/^#\/?/, '').split('?')[0];
  for (const name of Object.keys(VIEWS).filter(allowed)) {
    nav.append(el('a', { href: `#/${name}`, class: name === current ? 'active' : '', dataset: { nav: name } }, t(`nav.${name}`)));
  }
  const who = document.getElementById('who');
  who.hidden = false;
  who.textContent = `${state.signer && state.signer.name ? state.signer.name + ' · ' : ''}${short(state.me.address)}`;
  who.title = `${state.me.address} (${state.me.roles.join(', ')})`;
  document.getElementById('sign-out').hidden = false;
}

async function route() {
  disposeAll();
  const host = document.getElementById('view');
  const signinBox = document.getElementById('signin');
  if (!state.me) {
    host.replaceChildren();
    signinBox.hidden = false;
    renderNav();
    return;
  }
  signinBox.hidden = true;
  const [name, search] = location.hash.replace(/^#\/?/, '').split('?');
  if (!VIEWS[name] || !allowed(name)) {
    location.replace(`#/${homeView()}`);
    return;
  }
  renderNav();
  const params = Object.fromEntries(new URLSearchParams(search || ''));
  // A fresh container per render: a slower, superseded render writes into a detached node.
  const root = el('div', { class: 'view', dataset: { view: name, ready: '0' } });
  (window.__etsLog ||= []).push(`${new Date().toISOString()} render ${name}`);
  host.replaceChildren(root);
  try {
    const module = await VIEWS[name].load();
    await module.render(root, { me: state.me, signer: getSigner, params, refresh: route, demo: state.config.demo, contracts: state.config.contracts, config: state.config });
  } catch (err) {
    root.append(el('p', { class: 'error', role: 'alert' }, `${t('common.failed')}: ${err.message || err}`));
  } finally {
    root.dataset.ready = '1';
    window.__etsLog.push(`${new Date().toISOString()} rendered ${name}`);
  }
}

/** The signer of the session: the demo key picked at sign-in, or the browser wallet. */
async function getSigner() {
  if (!state.signer) state.signer = await signerFor(null);
  return state.signer;
}

function go(hash) {
  if (location.hash !== hash) location.hash = hash;
  else route();
}

async function signerFor(name) {
  if (state.config.demo) {
    const account = state.config.accounts.find((a) => a.address === name || a.name === name);
    if (!account) throw new Error(`unknown demo account ${name}`);
    return new DemoSigner(account);
  }
  return InjectedSigner.connect();
}

async function doSignIn(event) {
  const button = event.currentTarget;
  const errorBox = document.getElementById('signin-error');
  errorBox.hidden = true;
  button.disabled = true;
  try {
    const choice = state.config.demo ? document.getElementById('demo-account').value : null;
    const signer = await signerFor(choice);
    const issued = await signIn(signer);
    setSession({ token: issued.token, address: issued.address, demo: state.config.demo ? choice : null });
    if (state.config.demo) sessionStorage.setItem(DEMO_KEY, choice);
    state.signer = signer;
    state.me = { address: issued.address, roles: issued.roles };
    go(`#/${homeView()}`);
  } catch (err) {
    errorBox.textContent = `${t('auth.failed')}: ${err.message || err}`;
    errorBox.hidden = false;
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  try {
    await api('/auth/logout', { method: 'POST' });
  } catch {
    // the session may have expired already
  }
  setSession(null);
  sessionStorage.removeItem(DEMO_KEY);
  state.me = null;
  state.signer = null;
  document.getElementById('who').hidden = true;
  document.getElementById('sign-out').hidden = true;
  go('#/');
}

function fillSignIn() {
  const { demo, accounts } = state.config;
  document.getElementById('demo-banner').hidden = !demo;
  document.getElementById('demo-signin').hidden = !demo;
  document.getElementById('wallet-hint').hidden = demo;
  if (demo) {
    const select = document.getElementById('demo-account');
    select.replaceChildren(...accounts.map((a) => el('option', { value: a.address },
      `${a.name}${a.label ? ` — ${a.label}` : ''}${a.roles.length ? ` (${a.roles.join(', ')})` : ''}`)));
  }
}

async function restore(pendingMe) {
  const saved = session();
  if (!saved || !saved.token) return;
  const me = await pendingMe;
  if (!me) {
    setSession(null);
    return;
  }
  state.me = me;
  state.signer = state.config.demo && saved.demo ? await signerFor(saved.demo) : null;
}

async function main() {
  // Labels, configuration and the saved session are fetched together.
  const saved = session();
  const pendingMe = saved && saved.token ? api('/auth/me').catch(() => null) : Promise.resolve(null);
  const [, config] = await Promise.all([loadLang(), api('/dashboard/api/config')]);
  state.config = config;
  document.getElementById('lang').value = lang();
  document.getElementById('lang').addEventListener('change', async (e) => {
    await loadLang(e.target.value);
    fillSignIn();
    await route();
  });
  document.getElementById('sign-in').addEventListener('click', doSignIn);
  document.getElementById('sign-out').addEventListener('click', signOut);
  fillSignIn();
  await restore(pendingMe);
  window.addEventListener('hashchange', route);
  applyStatic(document);
  await route();
}

main().catch((err) => toast(`${t('common.failed')}: ${err.message || err}`, 'bad'));
