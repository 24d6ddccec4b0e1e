// HTTP client of the ETS Chain API: bearer session, JSON in and out, typed errors.

const TOKEN_KEY = 'ets.session';

/** An API refusal: HTTP status, the API's machine-readable `error` and readable `message`. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.error = (body && body.error) || 'HttpError';
    this.details = body && body.details;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(TOKEN_KEY) || 'null');
  } catch {
    return null;
  }
}

export function setSession(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(TOKEN_KEY);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Call the API: `api('/holdings', {params: {account}})`, `api('/tx/build', {method: 'POST', body})`. */
export async function api(path, { method = 'GET', body, params, as = 'json' } = {}) {
  const headers = { Accept: as === 'json' ? 'application/json' : '*/*' };
  const s = session();
  if (s && s.token) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path + query(params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    throw new ApiError(response.status, payload);
  }
  if (response.status === 204) return null;
  if (as === 'blob') return response.blob();
  return response.json();
}

/** Every page of a list endpoint (`items`, `total`), up to `max` rows. */
export async function all(path, params = {}, max = 2000) {
  const rows = [];
  for (let offset = 0; offset < max; offset += 500) {
    const page = await api(path, { params: { ...params, limit: 500, offset } });
    rows.push(...page.items);
    if (rows.length >= page.total || page.items.length === 0) break;
  }
  return rows;
}
