"""Benchmark: how soon a fill reaches a client of ``GET /market/stream``.

A consortium on Anvil (tests.utils.compliance's world) trades a day (tests.utils.market_day); the
API runs under uvicorn with its embedded indexer at the shipped settings (``indexer_poll_seconds``
0.25 s, the streams woken by the indexer's commits). A client signed in as the buyer holds the
stream open; the seller rests ``--fills`` one-tonne sells, then the buyer takes them one by one,
each order its own block (Anvil's automine: ``eth_sendRawTransaction`` returns once the block is
mined). Per fill: the time from the moment the block is mined (the send returned) to the moment
the ``market`` event carrying that trade arrives at the client.

Figures: ``stream_latency_ms_median``, ``_p90``, ``_max`` and ``stream_fills``.

Run: python bench/market_stream.py [--fills 30]   (last line: JSON)
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn
from rich.console import Console

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.compile import compile_contracts
from chain.node import AnvilNode
from chain.siwe import wallet_sign_in
from chain.suite import deploy_local_suite
from chain.tx import ChainClient
from domain.market import Side
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.compliance import ENTERPRISES, setup_cycle
from tests.utils.market_day import TOKEN, trade_day

SELLER, BUYER = ENTERPRISES[1], ENTERPRISES[2]
PRICE = 10_150  # inside the day's band, above the buyer's resting bid, below the other asks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read(response: httpx.Response, arrivals: queue.Queue[tuple[float, dict[str, Any]]]) -> None:
    fields: dict[str, str] = {}
    try:
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if fields.get("event") == "market":
                arrivals.put((time.monotonic(), json.loads(fields["data"])))
            fields = {}
    except Exception:  # the stream closed at the end
        return


def measure(fills: int = 30, console: Console | None = None) -> dict[str, Any]:
    """Median, 90th percentile and maximum milliseconds from a fill's block to its stream event."""
    say = (console or Console(stderr=True)).log
    with AnvilNode(accounts=40) as node, tempfile.TemporaryDirectory() as tmp:
        chain = ChainClient.connect(node.url, compile_contracts())
        c = Consortium(**vars(deploy_local_suite(chain, Path(tmp) / "deployment.json")))
        setup_cycle(c)
        trade_day(c)
        say("consortium deployed, a trading day traded")
        port = _free_port()
        url = f"sqlite:///{tmp}/read.db"
        engine = make_engine(url)
        upgrade(engine)
        settings = ApiSettings(database_url=url, api_host="127.0.0.1", api_port=port)
        app = create_app(AppContext(settings, chain, c.manifest, engine), migrate=False, indexer=True)
        grace = settings.api_shutdown_seconds  # as `ets api` stops: open streams get that long
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=grace,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            resting = [c.market.place(SELLER, TOKEN, Side.SELL, PRICE, 1).id for _ in range(fills)]
            with httpx.Client(base_url=base, timeout=httpx.Timeout(30, read=120)) as client:
                token = wallet_sign_in(client.post, BUYER, statement="Sign in to ETS Chain")
                arrivals: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
                headers = {"Authorization": f"Bearer {token}"}
                request = client.build_request("GET", "/market/stream", headers=headers)
                response = client.send(request, stream=True)
                threading.Thread(target=_read, args=(response, arrivals), daemon=True).start()
                while app.state.market_streams.block < chain.w3.eth.block_number:  # caught up
                    time.sleep(0.05)
                time.sleep(0.5)
                latencies = []
                for sell_id in resting:
                    tx = chain.build(c.market.place_call(TOKEN, Side.BUY, PRICE, 1), BUYER.address)
                    raw = chain.sign(tx, BUYER)
                    chain.send_raw(raw)
                    mined = time.monotonic()
                    while True:
                        arrived, data = arrivals.get(timeout=30)
                        if any(t["seller"] is None and t["buyer"] == BUYER.address for t in data["trades"]):
                            break
                    latencies.append((arrived - mined) * 1000)
                    say(f"fill of sell {sell_id}: {latencies[-1]:.0f} ms")
                    time.sleep(random.uniform(0.1, 0.6))  # fills land at random phases of the indexer's poll
                response.close()
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            engine.dispose()
    ordered = sorted(latencies)
    return {
        "stream_fills": len(latencies),
        "stream_latency_ms_median": round(statistics.median(latencies), 1),
        "stream_latency_ms_p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "stream_latency_ms_max": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(measure(args.fills)))


if __name__ == "__main__":
    main()
