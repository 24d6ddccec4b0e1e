"""Fixtures of the scheduler tests: a settable clock, recording notifiers, a loopback webhook, and
the settlement tests' market (two trading days on a real chain, indexed) for the settlement job."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scheduler.alarms import Alarm
from tests.settlement.conftest import market  # noqa: F401  (the settlement job settles its day 1)


@dataclass
class ManualClock:
    """A clock that says what the test set."""

    now: int = 0

    def __call__(self) -> int:
        return self.now


@dataclass
class RecordingNotifier:
    """Records each alarm it is given; fails while ``failures`` is positive."""

    name: str = "recorder"
    delivered: list[Alarm] = field(default_factory=list)
    failures: int = 0

    def deliver(self, alarm: Alarm) -> None:
        from scheduler.errors import NotifierError

        if self.failures > 0:
            self.failures -= 1
            raise NotifierError("recorder told to fail")
        self.delivered.append(alarm)


@dataclass
class Hook:
    """A webhook receiver on 127.0.0.1: answers ``statuses`` in turn (then 200), records requests."""

    url: str
    statuses: list[int]
    requests: list[tuple[Message, bytes, int]]

    def bodies(self, status: int = 200) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, answered in self.requests if answered == status]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def recorder() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def hook() -> Iterator[Hook]:
    requests: list[tuple[Message, bytes, int]] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = statuses.pop(0) if statuses else 200
            requests.append((self.headers, body, status))  # header names: any letter case
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Hook(f"http://127.0.0.1:{server.server_address[1]}/alarms?token=t0k3n", statuses, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
