"""A loopback JSON-RPC server answering as a Besu QBFT node would, for what no Besu binary can be
run for here: the ``perm_*`` allowlist methods (Besu's documented semantics and error messages,
from ``PermAddAccountsToAllowlist`` & co. and ``RpcErrorType``) and QBFT block headers.

Not a stand-in for the chain: contracts and transactions are tested on Anvil. This only answers
the node-local administration API and header shape that Anvil has no equivalent for."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_utils import is_hex_address

from chain.network.keys import Enode

ERRORS = {
    "account_empty": "Request contains an empty list of accounts",
    "account_invalid": "Request contains an invalid account",
    "account_duplicated": "Request contains duplicate accounts",
    "account_existing": "Cannot add an existing account to allowlist",
    "account_absent": "Cannot remove an absent account from allowlist",
    "node_empty": "Request contains an empty list of nodes",
    "node_invalid": "Request contains an invalid node",
    "node_duplicated": "Request contains duplicate nodes",
    "node_existing": "Cannot add an existing node to allowlist",
    "node_absent": "Cannot remove an absent node from allowlist",
    "node_fixed": "Cannot remove a fixed node (bootnode or static node) from allowlist",
}


class RpcFailure(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(ERRORS[key])


@dataclass
class BesuState:
    """What the fake node holds: its allowlists, fixed nodes, a call log and a QBFT header."""

    accounts: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    fixed_nodes: set[str] = field(default_factory=set)
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)
    extra_data: str = "0x"
    chain_id: int = 1337
    down: bool = False

    def _accounts(self, params: list[Any]) -> list[str]:
        items = params[0] if params else []
        if not items:
            raise RpcFailure("account_empty")
        if any(not isinstance(a, str) or not is_hex_address(a) for a in items):
            raise RpcFailure("account_invalid")
        lowered = [a.lower() for a in items]
        if len(set(lowered)) != len(lowered):
            raise RpcFailure("account_duplicated")
        return lowered

    def _nodes(self, params: list[Any]) -> list[str]:
        items = params[0] if params else []
        if not items:
            raise RpcFailure("node_empty")
        try:
            urls = [Enode.parse(n).url for n in items]
        except Exception:
            raise RpcFailure("node_invalid") from None
        if len(set(urls)) != len(urls):
            raise RpcFailure("node_duplicated")
        return urls

    def handle(self, method: str, params: list[Any]) -> Any:
        self.calls.append((method, params))
        current_accounts = [a.lower() for a in self.accounts]
        if method == "perm_getAccountsAllowlist":
            return list(self.accounts)
        if method == "perm_getNodesAllowlist":
            return list(self.nodes)
        if method == "perm_addAccountsToAllowlist":
            accounts = self._accounts(params)
            if any(a in current_accounts for a in accounts):
                raise RpcFailure("account_existing")
            self.accounts += accounts
            return "Success"
        if method == "perm_removeAccountsFromAllowlist":
            accounts = self._accounts(params)
            if any(a not in current_accounts for a in accounts):
                raise RpcFailure("account_absent")
            self.accounts = [a for a in self.accounts if a.lower() not in accounts]
            return "Success"
        if method == "perm_addNodesToAllowlist":
            nodes = self._nodes(params)
            if any(n in self.nodes for n in nodes):
                raise RpcFailure("node_existing")
            self.nodes += nodes
            return "Success"
        if method == "perm_removeNodesFromAllowlist":
            nodes = self._nodes(params)
            if any(n not in self.nodes for n in nodes):
                raise RpcFailure("node_absent")
            if any(n in self.fixed_nodes for n in nodes):
                raise RpcFailure("node_fixed")
            self.nodes = [n for n in self.nodes if n not in nodes]
            return "Success"
        return self._eth(method, params)

    def _eth(self, method: str, params: list[Any]) -> Any:
        if method == "web3_clientVersion":
            return "besu/v25.5.0/linux-x86_64/openjdk-java-21"
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "eth_blockNumber":
            return "0x5"
        if method == "eth_gasPrice":
            return "0x0"
        if method == "eth_getBlockByNumber":
            return {
                "number": "0x5", "hash": "0x" + "ab" * 32, "parentHash": "0x" + "cd" * 32,
                "nonce": "0x0000000000000000", "sha3Uncles": "0x" + "00" * 32,
                "logsBloom": "0x" + "00" * 256, "transactionsRoot": "0x" + "00" * 32,
                "stateRoot": "0x" + "00" * 32, "receiptsRoot": "0x" + "00" * 32,
                "miner": "0x" + "00" * 20, "difficulty": "0x1", "totalDifficulty": "0x6",
                "extraData": self.extra_data, "size": "0x300", "gasLimit": "0x1c9c380", "gasUsed": "0x0",
                "timestamp": "0x6560f000", "transactions": [], "uncles": [], "baseFeePerGas": "0x0",
                "mixHash": "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
            }  # fmt: skip
        raise KeyError(method)


def _handler(state: BesuState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            if state.down:
                self.send_response(503)
                self.end_headers()
                return
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
            try:
                reply["result"] = state.handle(request["method"], request.get("params") or [])
            except RpcFailure as exc:
                reply["error"] = {"code": -32000, "message": str(exc)}
            except KeyError:
                reply["error"] = {"code": -32601, "message": "Method not found"}
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def loopback_besu(state: BesuState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1 (a free port); yields the URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
