// The trading floor's plumbing: market actions built by the API (POST /tx/market), signed in the
// wallet and relayed as every action of the dashboard; and the market's event stream
// (GET /market/stream, Server-Sent Events read with fetch() so the session's Authorization
// header goes with it), reconnecting from the last block seen.

import { api, session } from '../api.js';
import { sendAction, waitIndexed } from '../wallet.js';

function trace(message) {
  (window.__etsLog ||= []).push(`${new Date().toISOString()} ${message}`);
}

/** The token approvals the account still lacks to trade (signed once each, in order). */
export async function ensureApprovals(signer) {
  const missing = await api('/tx/market/approvals');
  for (const call of missing) await sendAction(signer, call.contract, call.function, call.args);
}

/** A market action end to end: POST /tx/market builds it (422 names the contract's refusal),
 *  the wallet signs, POST /tx/relay sends it, then wait for the indexer. */
export async function marketAction(signer, body) {
  const built = await api('/tx/market', { method: 'POST', body });
  const signed = await signer.signTransaction(built.tx);
  if (signed.hash) return { tx_hash: signed.hash, status: 'pending', events: [] };
  const outcome = await api('/tx/relay', { method: 'POST', body: { intent_id: built.intent_id, raw_transaction: signed.raw } });
  trace(`market ${body.action}: ${outcome.status} in block ${outcome.block_number}`);
  if (outcome.status === 'reverted') {
    const e = new Error(outcome.error ? outcome.error.message : 'transaction reverted');
    e.outcome = outcome;
    throw e;
  }
  if (outcome.block_number) await waitIndexed(outcome.block_number);
  return outcome;
}

/** Parse the SSE frames of `text`; returns the events and the unparsed tail. */
function frames(text) {
  const events = [];
  const parts = text.split(/\r?\n\r?\n/);
  const tail = parts.pop();
  for (const part of parts) {
    const event = { event: 'message', data: '', id: null };
    const data = [];
    for (const line of part.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const at = line.indexOf(':');
      const name = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (name === 'event') event.event = value;
      else if (name === 'data') data.push(value);
      else if (name === 'id') event.id = value;
    }
    event.data = data.join('\n');
    events.push(event);
  }
  return { events, tail };
}

/**
 * Follow GET /market/stream while `alive()` holds: `onMarket(payload)` for each `market` event.
 * Reconnects (Last-Event-ID = the last block seen) after an error or the server closing; stops
 * for good when the session ends (`signed_out` event, or 401 on reconnecting) and then calls
 * `onSignedOut(message)` if given. Returns a function that stops it.
 */
export function followMarket(onMarket, alive, onSignedOut = null) {
  const controller = new AbortController();
  let lastId = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    controller.abort();
  };
  const run = async () => {
    let delay = 500;
    while (!stopped && alive()) {
      try {
        const headers = { Accept: 'text/event-stream' };
        const s = session();
        if (s && s.token) headers.Authorization = `Bearer ${s.token}`;
        if (lastId) headers['Last-Event-ID'] = lastId;
        const response = await fetch('/market/stream', { headers, signal: controller.signal, cache: 'no-store' });
        if (response.status === 401) {
          stopped = true;
          trace('market stream: session ended (401)');
          if (onSignedOut) onSignedOut('HTTP 401');
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
        trace('market stream open');
        delay = 500;
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done || stopped || !alive()) break;
          buffer += decoder.decode(value, { stream: true });
          const parsed = frames(buffer);
          buffer = parsed.tail;
          for (const e of parsed.events) {
            if (e.id) lastId = e.id;
            if (e.event === 'market' && e.data) onMarket(JSON.parse(e.data));
            if (e.event === 'signed_out') {
              stopped = true;
              trace('market stream: signed out');
              if (onSignedOut) onSignedOut(e.data ? JSON.parse(e.data).message : '');
            }
          }
          if (stopped) break;
        }
        reader.cancel().catch(() => {});
      } catch (err) {
        if (stopped || (err && err.name === 'AbortError')) return;
        trace(`market stream: ${err.message || err}`);
      }
      if (stopped || !alive()) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  };
  run();
  return stop;
}
