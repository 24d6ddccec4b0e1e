// Signers: demo mode signs with the public Anvil demo keys in this page (ethers Wallet);
// production uses the browser's injected EIP-1193 wallet (window.ethereum). Keys of real
// accounts never reach the page or the server.

import { api } from './api.js';

let ethersLoading = null;

/** ethers v6 (UMD build, vendored), loaded on first use so read-only pages stay light. */
export function loadEthers() {
  if (!ethersLoading) {
    ethersLoading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = 'vendor/ethers.umd.min.js';
      script.onload = () => resolve(window.ethers);
      script.onerror = () => reject(new Error('could not load vendor/ethers.umd.min.js'));
      document.head.appendChild(script);
    });
  }
  return ethersLoading;
}

function toTxRequest(tx) {
  const request = {
    to: tx.to,
    data: tx.data,
    value: BigInt(tx.value || 0),
    gasLimit: BigInt(tx.gas),
    nonce: tx.nonce,
    chainId: BigInt(tx.chainId),
  };
  if (tx.maxFeePerGas !== undefined && tx.maxFeePerGas !== null) {
    request.type = 2;
    request.maxFeePerGas = BigInt(tx.maxFeePerGas);
    request.maxPriorityFeePerGas = BigInt(tx.maxPriorityFeePerGas || 0);
  } else {
    request.type = 0;
    request.gasPrice = BigInt(tx.gasPrice || 0);
  }
  return request;
}

function typedParts(typedData) {
  const types = { ...typedData.types };
  delete types.EIP712Domain;
  return [typedData.domain, types, typedData.message];
}

/** Signs with a public demo key (demo mode only: the server lists these keys only then). */
export class DemoSigner {
  constructor(account) {
    this.address = account.address;
    this.name = account.name;
    this.kind = 'demo';
    this._key = account.private_key;
  }

  async _wallet() {
    const ethers = await loadEthers();
    return new ethers.Wallet(this._key);
  }

  async signMessage(text) {
    return (await this._wallet()).signMessage(text);
  }

  async signTransaction(tx) {
    return { raw: await (await this._wallet()).signTransaction(toTxRequest(tx)) };
  }

  async signTypedData(typedData) {
    return (await this._wallet()).signTypedData(...typedParts(typedData));
  }
}

/** Signs in the injected EIP-1193 wallet. */
export class InjectedSigner {
  constructor(provider, address) {
    this.provider = provider;
    this.address = address;
    this.kind = 'injected';
  }

  static async connect() {
    const provider = window.ethereum;
    if (!provider) throw new Error('no browser wallet found (EIP-1193 window.ethereum)');
    const [address] = await provider.request({ method: 'eth_requestAccounts' });
    const ethers = await loadEthers();
    return new InjectedSigner(provider, ethers.getAddress(address));
  }

  async signMessage(text) {
    const ethers = await loadEthers();
    return this.provider.request({ method: 'personal_sign', params: [ethers.hexlify(ethers.toUtf8Bytes(text)), this.address] });
  }

  async signTransaction(tx) {
    const hex = (n) => (n === undefined || n === null ? undefined : '0x' + BigInt(n).toString(16));
    const request = {
      from: this.address, to: tx.to, data: tx.data, value: hex(tx.value || 0), gas: hex(tx.gas),
      nonce: hex(tx.nonce), chainId: hex(tx.chainId), maxFeePerGas: hex(tx.maxFeePerGas),
      maxPriorityFeePerGas: hex(tx.maxPriorityFeePerGas), gasPrice: hex(tx.gasPrice),
    };
    try {
      return { raw: await this.provider.request({ method: 'eth_signTransaction', params: [request] }) };
    } catch (err) {
      // Most extension wallets refuse eth_signTransaction: let the wallet send it itself.
      if (err && (err.code === 4200 || err.code === -32601 || /not supported|unsupported/i.test(err.message || ''))) {
        return { hash: await this.provider.request({ method: 'eth_sendTransaction', params: [request] }) };
      }
      throw err;
    }
  }

  async signTypedData(typedData) {
    return this.provider.request({ method: 'eth_signTypedData_v4', params: [this.address, JSON.stringify(typedData)] });
  }
}

/** SIWE (EIP-4361) sign-in: nonce, message, signature, session. */
export async function signIn(signer) {
  const offer = await api('/auth/nonce', { method: 'POST' });
  const issued = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const message = [
    `${offer.domain} wants you to sign in with your Ethereum account:`,
    signer.address,
    '',
    'Sign in to the ETS Chain dashboard',
    '',
    `URI: ${offer.uri}`,
    'Version: 1',
    `Chain ID: ${offer.chain_id}`,
    `Nonce: ${offer.nonce}`,
    `Issued At: ${issued}`,
  ].join('\n');
  const signature = await signer.signMessage(message);
  return api('/auth/verify', { method: 'POST', body: { message, signature } });
}

/** A short trace of the page's last transactions (read by the browser tests on a failure). */
function trace(message) {
  (window.__etsLog ||= []).push(`${new Date().toISOString()} ${message}`);
}

/** Wait until the read model holds `block` (the page's own transaction). */
export async function waitIndexed(block, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const state = await api('/dashboard/api/indexed', { params: { block } });
    if (state.caught_up) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** An action, end to end: the API builds the transaction, the wallet signs it, the API relays
 *  it; then wait for the indexer. Throws when the contract refuses or the transaction reverts. */
export async function sendAction(signer, contract, fn, args) {
  return sendBuilt(signer, '/tx/build', { contract, function: fn, args });
}

/** The same end to end for a typed builder route (e.g. POST /tx/permits): `path` builds the
 *  intent from `body`, the wallet signs it, POST /tx/relay relays it. */
export async function sendBuilt(signer, path, body) {
  const built = await api(path, { method: 'POST', body });
  const name = `${built.action.contract}.${built.action.function}`;
  const signed = await signer.signTransaction(built.tx);
  if (signed.hash) return { tx_hash: signed.hash, status: 'pending', events: [] };
  trace(`built ${name}`);
  const outcome = await api('/tx/relay', { method: 'POST', body: { intent_id: built.intent_id, raw_transaction: signed.raw } });
  trace(`relayed ${name}: ${outcome.status} in block ${outcome.block_number}`);
  if (outcome.status === 'reverted') {
    const e = new Error(outcome.error ? outcome.error.message : 'transaction reverted');
    e.outcome = outcome;
    throw e;
  }
  if (outcome.block_number) trace(`indexed: ${await waitIndexed(outcome.block_number)}`);
  return outcome;
}
