// Small DOM helpers shared by the views: elements, tables, numbers, badges, toasts.

import { t, lang } from './i18n.js';

/** `el('div', {class: 'card'}, child, 'text')`; `on*` attributes become listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '–';
  return Number(value).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Settlement cash (fen) as yuan. */
export function yuan(fen) {
  if (fen === null || fen === undefined) return '–';
  return '¥' + (Number(fen) / 100).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function pct(share) {
  return share === null || share === undefined ? '–' : `${(share * 100).toFixed(1)}%`;
}

/** The time zone every view shows times in (the one the footer names). */
export const TIME_ZONE = 'Asia/Shanghai';

export function when(unix, { seconds = false } = {}) {
  if (!unix) return '–';
  return new Date(unix * 1000).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: TIME_ZONE, dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short' });
}

export function short(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : '–';
}

export const POLLUTANTS = { 1: 'CO2', 2: 'SO2', 3: 'NOx', 4: 'COD', 5: 'NH3-N', 6: 'PM' };

/** An AllowanceToken id as text: id = kind << 24 | pollutant << 16 | vintage (kind 2: offset). */
export function tokenLabel(id) {
  const n = Number(id);
  const kind = Math.floor(n / 2 ** 24);
  const pollutant = Math.floor(n / 2 ** 16) % 256;
  const vintage = n % 2 ** 16;
  return `${kind === 2 ? `${t('kind.offset')} ` : ''}${POLLUTANTS[pollutant] || `P${pollutant}`} ${vintage}`;
}

export function badge(kind, label) {
  return el('span', { class: `badge ${kind}` }, label ?? t(`status.${kind}`));
}

export function card(title, ...children) {
  return el('section', { class: 'card' }, title ? el('h2', {}, title) : null, ...children);
}

export function empty(text) {
  return el('p', { class: 'empty' }, text || t('common.none'));
}

/** A table: `columns` = [{key, label, num, render(row)}]; rows of objects. */
export function table(columns, rows, { id, empty: emptyText } = {}) {
  if (!rows.length) return empty(emptyText);
  const head = el('tr', {}, columns.map((c) => el('th', { class: c.num ? 'num' : '' }, c.label)));
  const body = rows.map((row) => el('tr', { dataset: row.__data || {} }, columns.map((c) => {
    const value = c.render ? c.render(row) : row[c.key];
    return el('td', { class: c.num ? 'num' : '' }, value instanceof Node ? value : (c.num && typeof value === 'number' ? num(value) : value ?? '–'));
  })));
  return el('div', { class: 'table-wrap' }, el('table', { id }, el('thead', {}, head), el('tbody', {}, body)));
}

export function kpi(label, value, kind, id) {
  return el('div', { class: `kpi ${kind || ''}`, id }, el('div', { class: 'v' }, value), el('div', { class: 'k' }, label));
}

export function toast(message, kind = '') {
  const node = el('div', { class: `toast ${kind}`, role: 'status' }, message);
  document.getElementById('toasts').append(node);
  setTimeout(() => node.remove(), kind === 'bad' ? 9000 : 5000);
}

/** Run `work` with `button` disabled; report success or the API's / contract's message. */
export async function busy(button, work, okMessage) {
  button.disabled = true;
  try {
    const result = await work();
    if (okMessage) toast(okMessage, 'ok');
    return result;
  } catch (err) {
    toast(`${t('common.failed')}: ${err.message || err}`, 'bad');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function field(label, input) {
  return el('label', {}, label, input);
}
