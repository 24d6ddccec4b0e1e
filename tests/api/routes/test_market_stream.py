"""GET /market/stream on a real chain: a trading day (tests.utils.market_day) served by uvicorn with
its embedded indexer; a fill placed after a client connected reaches it within a bounded time,
anonymised as /market/trades shows it, with the caller's own order ids; a client that reconnects
with Last-Event-ID gets what it missed; with the indexer in another process (the TestClient's
app, indexed by the test) the stream polls the checkpoint; unauthenticated streams get 401, one
too many 429; a server with open streams shuts down."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from api.market import committed_block
from api.stream import MarketStreams
from chain.siwe import wallet_sign_in
from domain.market import Side
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import UNTHROTTLED, ApiWorld
from tests.utils.compliance import ENTERPRISES
from tests.utils.market_day import TOKEN, MarketDay, trade_day

E0, E1, E2, E3 = ENTERPRISES
#: Streams per account in the served app (the 429 test opens one more).
PER_USER = 2
#: The bound a fill must reach a connected client within (the target is 1 s; CI machines are slow).
BOUND_SECONDS = 5.0


@dataclass
class SseEvent:
    event: str
    id: int
    data: dict[str, Any]


@dataclass
class SseClient:
    """One open stream read by a thread into a queue (``next`` waits with a timeout)."""

    response: httpx.Response
    events: queue.Queue[SseEvent | None] = field(default_factory=queue.Queue)
    retry: int | None = None
    reader: threading.Thread | None = None

    def close(self) -> None:
        """Hang up, as a browser closing the page does. The socket closes once the reader's blocked
        read returns (at the next event or ping): wait for that."""
        self.response.close()
        client = self.response.extensions.get("client")
        if client is not None:
            client.close()
        if self.reader is not None:
            self.reader.join(timeout=10)

    def start(self) -> SseClient:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self.response.iter_lines():
                if not line:
                    if "event" in fields:
                        self.events.put(
                            SseEvent(fields["event"], int(fields["id"]), json.loads(fields["data"]))
                        )
                    fields = {}
                    continue
                name, _, value = line.partition(":")
                if name == "retry":
                    self.retry = int(value.strip())
                fields[name] = value.removeprefix(" ")
        except Exception:  # the response closed under the reader (httpx, anyio): the stream ended
            pass
        finally:
            self.events.put(None)

    def next(self, timeout: float = BOUND_SECONDS, event: str | None = None) -> SseEvent:
        deadline = time.monotonic() + timeout
        while True:
            got = self.events.get(timeout=max(deadline - time.monotonic(), 0.001))
            assert got is not None, "the stream ended"
            if event is None or got.event == event:
                return got


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """The app with its embedded indexer on a loopback port (its own read model)."""

    url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def streams(self) -> MarketStreams:
        streams: MarketStreams = self.app.state.market_streams
        return streams

    def token(self, who: LocalAccount) -> str:
        if who.address not in self.tokens:
            with httpx.Client(base_url=self.url, timeout=30) as client:
                self.tokens[who.address] = wallet_sign_in(client.post, who, statement="Sign in to ETS Chain")
        return self.tokens[who.address]

    def open(self, who: LocalAccount | None, *, last: int | None = None, **params: str) -> httpx.Response:
        headers = {} if who is None else {"Authorization": f"Bearer {self.token(who)}"}
        if last is not None:
            headers["Last-Event-ID"] = str(last)
        client = httpx.Client(base_url=self.url, timeout=httpx.Timeout(30, read=60))
        request = client.build_request("GET", "/market/stream", headers=headers, params=params)
        response = client.send(request, stream=True)
        response.extensions["client"] = client
        return response

    def stream(self, who: LocalAccount, **kwargs: Any) -> SseClient:
        deadline = time.monotonic() + 10
        while self.streams.open_streams(who.address) >= PER_USER:  # the last test's, being released
            assert time.monotonic() < deadline, "closed streams were not released"
            time.sleep(0.05)
        response = self.open(who, **kwargs)
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return SseClient(response).start()


def serve(world: ApiWorld, path: Path, **settings: Any) -> Served:
    port = _free_port()
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    values: dict[str, Any] = {
        "api_role_cache_seconds": 0,
        "indexer_poll_seconds": 0.05,
        "api_shutdown_seconds": 2,
        **UNTHROTTLED,
        **settings,
    }
    api_settings = ApiSettings(database_url=url, api_host="127.0.0.1", api_port=port, **values)
    ctx = AppContext(api_settings, world.c.chain, world.c.manifest, engine)
    app = create_app(ctx, migrate=False, indexer=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=api_settings.api_shutdown_seconds)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="stream-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    return Served(f"http://127.0.0.1:{port}", app, server, thread)


def _wait_indexed(served: Served, block: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while served.streams.block < block:
        with served.app.state.ctx.sessions() as db:
            served.streams.committed(committed_block(db))
        assert time.monotonic() < deadline, "the embedded indexer did not catch up"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def day(world: ApiWorld) -> MarketDay:
    d = trade_day(world.c)
    world.index()
    return d


@pytest.fixture(scope="module")
def served(world: ApiWorld, day: MarketDay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    path = Path(tmp_path_factory.mktemp("stream")) / "read.db"
    s = serve(world, path, api_stream_per_user=PER_USER, api_stream_ping_seconds=1.0)
    try:
        _wait_indexed(s, world.c.chain.w3.eth.block_number)
        yield s
        deadline = time.monotonic() + 10
        while s.streams.open_streams():  # every stream the tests closed is released
            assert time.monotonic() < deadline, s.streams._open
            time.sleep(0.05)
    finally:
        s.server.should_exit = True
        s.thread.join(timeout=15)
        s.app.state.ctx.engine.dispose()


def _buy_from_e0(world: ApiWorld, quantity: int) -> Any:
    """E2 buys ``quantity`` t of E0's resting sell at 10,200 (the day's best ask)."""
    return world.c.market.place(E2, TOKEN, Side.BUY, 10_200, quantity)


# ---------------------------------------------------------------------- the embedded indexer


def test_market_stream_sends_a_fill_placed_after_connecting_within_the_bound(
    world: ApiWorld, served: Served
) -> None:
    buyer, other = served.stream(E2), served.stream(E3)
    try:
        hello = buyer.next(event="ping")
        assert buyer.retry == 1000 and hello.data == {"block": hello.id} and hello.id >= 0
        other.next(event="ping")
        placed = _buy_from_e0(world, 3)
        sent = time.monotonic()
        event = buyer.next(event="market")
        latency = time.monotonic() - sent
        assert latency < BOUND_SECONDS
        block = placed.receipt["blockNumber"]
        assert event.id == event.data["block"] == block
        assert event.data["tokens"] == [TOKEN] and event.data["halts"] == []
        assert event.data["orders"] == [placed.id]  # E0's filled sell is not E2's to see
        (trade,) = event.data["trades"]
        assert (trade["price"], trade["quantity"], trade["mode"], trade["block_number"]) == (
            10_200, 3, "continuous", block,
        )  # fmt: skip
        assert (trade["buyer"], trade["buy_id"], trade["seller"], trade["sell_id"]) == (
            E2.address, placed.id, None, None,
        )  # fmt: skip
        seen = other.next(event="market")
        assert seen.id == block and seen.data["orders"] == []
        (anonymous,) = seen.data["trades"]
        assert anonymous["buyer"] is None and anonymous["seller"] is None and anonymous["tx_hash"] is None
    finally:
        buyer.close()
        other.close()


def test_market_stream_names_halts_and_the_callers_cancelled_order(world: ApiWorld, served: Served) -> None:
    c = world.c
    client = served.stream(E2)
    try:
        client.next(event="ping")
        order = c.market.place(E2, TOKEN, Side.BUY, 9_500, 4).id
        assert client.next(event="market").data["orders"] == [order]
        c.market.cancel(E2, order)
        assert client.next(event="market").data["orders"] == [order]
        c.market.halt(c.exchange, TOKEN, "stream test")
        try:
            halted = client.next(event="market").data
            assert halted["halts"] == [{"token_id": TOKEN, "halted": True, "reason": "stream test"}]
        finally:
            c.market.resume(c.exchange, TOKEN)
        resumed = client.next(event="market").data
        assert resumed["halts"] == [{"token_id": TOKEN, "halted": False, "reason": None}]
        assert resumed["tokens"] == [TOKEN] and resumed["trades"] == []
    finally:
        client.close()


def test_market_stream_resumes_from_last_event_id_with_what_was_missed(
    world: ApiWorld, served: Served
) -> None:
    first = served.stream(E2)
    left_at = first.next(event="ping").id
    first.close()
    missed = [_buy_from_e0(world, 1), _buy_from_e0(world, 2)]
    _wait_indexed(served, world.c.chain.w3.eth.block_number)
    again = served.stream(E2, last=left_at)
    try:
        event = again.next(event="market")
        assert event.data["block"] == world.c.chain.w3.eth.block_number
        assert [t["buy_id"] for t in event.data["trades"]] == [p.id for p in missed]
        assert [t["quantity"] for t in event.data["trades"]] == [1, 2]
        assert event.data["orders"] == [p.id for p in missed]
    finally:
        again.close()
    now = served.stream(E2, last=world.c.chain.w3.eth.block_number)
    try:  # nothing missed: a ping, no event repeated
        assert now.next(event=None).event == "ping"
    finally:
        now.close()


def test_market_stream_pings_when_nothing_happens(served: Served) -> None:
    client = served.stream(E3)
    try:
        hello = client.next(event="ping")
        again = client.next(timeout=5, event=None)
        assert (again.event, again.id) == ("ping", hello.id)
    finally:
        client.close()


def test_market_stream_ends_within_a_ping_interval_when_session_signed_out_or_expired(
    served: Served,
) -> None:
    """Served pings every second: a stream whose session is signed out (POST /auth/logout) or
    expires (the SIWE message's expiration time) sends `signed_out` and ends within about that."""
    with httpx.Client(base_url=served.url, timeout=30) as client:
        token = wallet_sign_in(client.post, E1, statement="Sign in to ETS Chain")
        expiry = datetime.now(UTC) + timedelta(seconds=3)
        short = wallet_sign_in(client.post, E3, statement="Sign in to ETS Chain", expiration_time=expiry)
        out = SseClient(served.open(None, access_token=token)).start()
        expiring = SseClient(served.open(None, access_token=short)).start()
        try:
            out.next(event="ping")
            expiring.next(event="ping")
            logged_out = client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
            assert logged_out.status_code == 204, logged_out.text
            started = time.monotonic()
            ended = out.next(timeout=5, event="signed_out")
            assert time.monotonic() - started < 1.0 + 1.0  # one ping interval, and slack
            assert ended.data == {
                "block": ended.id,
                "message": "unknown or signed-out session: sign in again",
            }
            assert out.events.get(timeout=5) is None  # the stream ended
            gone = expiring.next(timeout=10, event="signed_out")
            assert gone.data["message"] == "the session expired: sign in again"
            assert expiring.events.get(timeout=5) is None
            assert time.time() >= int(expiry.timestamp())  # not before it expired (whole seconds)
        finally:
            out.close()
            expiring.close()
    again = served.open(None, access_token=token)  # the reconnection is refused
    assert again.status_code == 401
    again.close()
    again.extensions["client"].close()


def test_market_stream_refuses_unauthenticated_clients(served: Served) -> None:
    for response in (
        served.open(None),
        served.open(None, access_token="not-a-session"),
        served.open(None, access_token=""),
    ):
        assert response.status_code == 401, response.status_code
        body = json.loads(response.read())
        assert body["error"] == "AuthError" and body["message"]
        assert response.headers["WWW-Authenticate"] == "Bearer"
        response.extensions["client"].close()
    token = served.token(E1)
    by_query = SseClient(served.open(None, access_token=token)).start()  # as EventSource connects
    try:
        assert by_query.response.status_code == 200 and by_query.next(event="ping").id >= 0
    finally:
        by_query.close()


def test_market_stream_refuses_one_stream_too_many_and_frees_closed_ones(served: Served) -> None:
    deadline = time.monotonic() + 10
    while served.streams.open_streams(E0.address):  # earlier tests' closed streams are released
        assert time.monotonic() < deadline
        time.sleep(0.05)
    held = [served.stream(E0) for _ in range(PER_USER)]
    try:
        for h in held:
            h.next(event="ping")
        refused = served.open(E0)
        assert refused.status_code == 429
        body = json.loads(refused.read())
        assert body["error"] == "RateLimitedError" and "market streams" in body["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        refused.close()
        refused.extensions["client"].close()
        other = served.stream(E1)  # another account is not affected
        other.next(event="ping")
        other.close()
        held.pop().close()
        deadline = time.monotonic() + 10
        while served.streams.open_streams(E0.address) >= PER_USER:
            assert time.monotonic() < deadline, "a closed stream was not released"
            time.sleep(0.05)
        held.append(served.stream(E0))
        held[-1].next(event="ping")
    finally:
        for h in held:
            h.close()


# ---------------------------------------------------------------------- the indexer elsewhere


def test_market_stream_polls_the_checkpoint_when_the_indexer_runs_elsewhere(
    world: ApiWorld, day: MarketDay
) -> None:
    """The world's app runs no indexer: the test indexes, as `ets index run --follow` would."""
    headers = world.sign_in(E2)
    world.index()
    with world.client.stream("GET", "/market/stream", headers=headers) as response:
        assert response.status_code == 200
        client = SseClient(response).start()
        client.next(event="ping")
        placed = _buy_from_e0(world, 1)
        world.index()
        event = client.next(event="market")
        assert [t["buy_id"] for t in event.data["trades"]] == [placed.id]
        assert event.data["orders"] == [placed.id]
    assert world.client.get("/market/stream").status_code == 401


# ---------------------------------------------------------------------- shutdown


def test_market_stream_server_shuts_down_with_streams_open(
    world: ApiWorld, day: MarketDay, tmp_path: Path
) -> None:
    s = serve(world, tmp_path / "read.db")
    try:
        clients = [s.stream(E0), s.stream(E1)]
        for client in clients:
            client.next(event="ping")
        started = time.monotonic()
        s.server.should_exit = True
        s.thread.join(timeout=20)
        assert not s.thread.is_alive(), "uvicorn hung on the open streams"
        assert time.monotonic() - started < 15
        assert s.streams.closed and s.streams.open_streams() == 0
    finally:
        s.server.should_exit = True
        s.app.state.ctx.engine.dispose()
