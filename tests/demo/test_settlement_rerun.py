"""The settlement step of ``ets demo`` re-run on a node that no longer answers reads at past blocks
(a restarted Anvil, loaded from its state file): the day's written and anchored report is verified
against the chain instead of settled again, nothing sent; a report altered since, or written but
never anchored, fails with a typed error. The node here is the test chain behind a JSON-RPC proxy
that refuses every read at a block older than the head, as the restarted node does."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chain.compile import compile_contracts
from chain.config import ChainSettings
from chain.errors import ChainError
from chain.settlement import ledger_for
from chain.tx import ChainClient
from demo.settlement import run_settlement_demo
from settlement.errors import ReconciliationError, ReportAlteredError, ReportNotAnchoredError
from settlement.verify import MANIFEST
from tests.conftest import Consortium
from tests.demo.test_settlement import _new_day, _settings
from tests.settlement.conftest import E1

#: Methods that read state as of a block (their last parameter).
STATE_READS = {
    "eth_call": 1,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_getStorageAt": 2,
    "eth_getTransactionCount": 1,
}


@dataclass
class NoHistoryNode:
    """A JSON-RPC proxy to the test chain refusing state reads at past blocks (Anvil's error)."""

    url: str
    refused: list[str] = field(default_factory=list)


def _refusal(request: dict[str, Any], upstream: str) -> dict[str, Any] | None:
    """Anvil's answer to a read at a block whose state it does not keep, or None to forward."""
    at = STATE_READS.get(str(request.get("method")))
    params = request.get("params") or []
    if at is None or len(params) <= at or not str(params[at]).startswith("0x"):
        return None  # latest, pending, or not a state read
    head = int(
        _post(upstream, {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})["result"], 16
    )
    block = int(str(params[at]), 16)
    if block >= head:
        return None
    message = f"BlockOutOfRangeError: block height is {head} but requested was {block}"
    return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32000, "message": message}}


def _post(url: str, payload: Any) -> Any:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as answer:
        return json.loads(answer.read())


@pytest.fixture
def no_history(fresh: Consortium) -> Iterator[NoHistoryNode]:
    upstream = str(fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    node = NoHistoryNode("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            requests = payload if isinstance(payload, list) else [payload]
            refusals = [_refusal(r, upstream) for r in requests]
            if any(refusals):
                node.refused += [str(r["method"]) for r, no in zip(requests, refusals, strict=True) if no]
                answer: Any = [no or _post(upstream, r) for r, no in zip(requests, refusals, strict=True)]
                answer = answer if isinstance(payload, list) else answer[0]
            else:
                answer = _post(upstream, payload)
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    node.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _restarted(settings: ChainSettings, node: NoHistoryNode) -> ChainSettings:
    return settings.model_copy(update={"rpc_url": node.url})


def test_settlement_demo_verifies_written_report_without_settling_when_node_lost_past_states(
    fresh: Consortium, tmp_path: Path, no_history: NoHistoryNode
) -> None:
    _new_day(fresh)
    settings = _settings(fresh, tmp_path)
    first = run_settlement_demo(settings)
    assert first.settled and first.anchored == "published" and first.verified
    # the node as restarted: settling again would read balances at the day's blocks, refused
    proxied = ChainClient.connect(no_history.url, compile_contracts())
    ledger = ledger_for(proxied, {n: r.address for n, r in fresh.manifest.contracts.items()})
    with pytest.raises(ChainError, match="BlockOutOfRangeError"):
        ledger.cash_balances([fresh.exchange.address], first.summary.first_block)
    no_history.refused.clear()

    head = fresh.chain.w3.eth.block_number
    before = {p.name: p.read_bytes() for p in first.files}
    said: list[str] = []
    again = run_settlement_demo(_restarted(settings, no_history), say=said.append)
    assert no_history.refused == [] and fresh.chain.w3.eth.block_number == head  # no past read, nothing sent
    assert not again.settled and again.result is None and (again.anchored, again.tx_hash) == ("already", None)
    assert again.verified and again.signer == first.signer and again.day == first.day
    assert again.summary == first.summary and again.totals == first.totals
    assert (again.bank_file, again.bank_lines, again.applied) == (first.bank_file, first.bank_lines, 0)
    assert {p.name: p.read_bytes() for p in again.files} == before
    assert said == [f"settlement: trading day {first.day} is settled: verifying its report against the chain"]
    assert len(again.steps) == 1 and "verified against the chain instead of settling again" in again.steps[0]


def test_settlement_demo_raises_altered_when_report_file_or_manifest_changed_since_anchoring(
    fresh: Consortium, tmp_path: Path, no_history: NoHistoryNode
) -> None:
    _new_day(fresh)
    settings = _settings(fresh, tmp_path)
    first = run_settlement_demo(settings)
    restarted = _restarted(settings, no_history)
    head = fresh.chain.w3.eth.block_number
    totals = next(p for p in first.files if p.name.startswith("totals-"))
    kept = totals.read_bytes()
    totals.write_bytes(kept.replace(b",", b";", 1))
    with pytest.raises(ReportAlteredError, match="was altered") as info:
        run_settlement_demo(restarted)
    assert info.value.altered == [totals.name]

    # files matching a rewritten manifest: the manifest is not the one anchored
    totals.write_bytes(kept)
    manifest = first.summary.bundle.manifest
    edited = json.loads(manifest.read_text())
    edited["movements"] += 1
    manifest.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n")
    with pytest.raises(ReportAlteredError, match="is not the one anchored") as info:
        run_settlement_demo(restarted)
    assert info.value.altered == [MANIFEST]
    assert no_history.refused == [] and fresh.chain.w3.eth.block_number == head


def test_settlement_demo_raises_not_anchored_when_report_written_but_withheld(
    fresh: Consortium, tmp_path: Path, no_history: NoHistoryNode
) -> None:
    _new_day(fresh)
    fresh.cash.deposit(fresh.exchange, E1.address, 4_242, "OTHER-BANK-000001")
    settings = _settings(fresh, tmp_path)
    with pytest.raises(ReconciliationError):
        run_settlement_demo(settings)  # written, not anchored
    head = fresh.chain.w3.eth.block_number
    with pytest.raises(
        ReportNotAnchoredError, match=r"written but not anchored .*balanced False, 1 differences"
    ):
        run_settlement_demo(_restarted(settings, no_history))
    assert no_history.refused == [] and fresh.chain.w3.eth.block_number == head
