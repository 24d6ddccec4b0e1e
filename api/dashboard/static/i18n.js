// Labels in English (default) and Chinese from i18n/<lang>.json; `t(key, vars)` looks one up.

const LANG_KEY = 'ets.lang';
let strings = {};
let fallback = {};
let current = 'en';

export function lang() {
  return current;
}

export async function loadLang(wanted) {
  const pick = wanted || localStorage.getItem(LANG_KEY) || 'en';
  current = pick === 'zh' ? 'zh' : 'en';
  const load = (l) => fetch(`i18n/${l}.json`).then((r) => r.json());
  [fallback, strings] = await Promise.all([load('en'), current === 'en' ? null : load(current)]);
  strings = strings || fallback;
  localStorage.setItem(LANG_KEY, current);
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  applyStatic(document);
}

/** The label of `key`, `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let s = strings[key] ?? fallback[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** The label of `key` for the count `n` in the language's plural form (`key.one`, `key.other`
 *  ...; Chinese has only `other`), `{n}` filled with the number as the page writes numbers. */
export function tn(key, n, vars) {
  const form = new Intl.PluralRules(current === 'zh' ? 'zh-CN' : 'en-US').select(Number(n));
  const exact = `${key}.${form}`;
  const chosen = exact in strings || exact in fallback ? exact : `${key}.other`;
  const shown = Number(n).toLocaleString(current === 'zh' ? 'zh-CN' : 'en-US');
  return t(chosen, { ...vars, n: shown });
}

/** Translate every element with `data-i18n` under `root`. */
export function applyStatic(root) {
  root.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
}
