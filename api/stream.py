"""The market streams of one API process: how many are open (per account and in all), and the
wake-up that tells them the read model's checkpoint advanced.

Who advances it: the embedded indexer calls :meth:`MarketStreams.committed` right after it commits
a page (``Indexer(on_commit=...)``); when the indexer runs in another process, one thread of this
process reads the checkpoint every ``api_stream_poll_seconds`` while a stream is open. Either way a
stream waits on :meth:`MarketStreams.wait` without holding a worker thread, and is woken from the
indexer's (or the poller's) thread through its event loop.

Shutdown: :meth:`MarketStreams.close` ends every stream's wait; uvicorn waits for open responses
before the application's shutdown, so servers that keep streams open set uvicorn's
``timeout_graceful_shutdown`` (``ets api`` and the demo do), and every stream also ends on its own
after ``api_stream_max_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from api import market as q
from api.config import ApiSettings
from api.context import AppContext
from api.errors import RateLimitedError
from readmodel.indexer.run import StepResult

logger = logging.getLogger(__name__)

#: How long a client is told to wait before opening another stream when it holds too many.
RETRY_AFTER_SECONDS = 5


@dataclass
class StreamLease:
    """One open stream of ``account``; :meth:`MarketStreams.release` gives it back once."""

    account: str
    released: bool = False


class MarketStreams:
    """The open market streams of this process and the block the read model has committed.

    Args:
        settings: the stream limits and intervals (``api_stream_*``).
        read_checkpoint: the read model's last committed block (−1 before the first page); called
            in a worker or the poller thread.
    """

    def __init__(self, settings: ApiSettings, read_checkpoint: Callable[[], int]) -> None:
        self.settings = settings
        self.read_checkpoint = read_checkpoint
        #: True once an embedded indexer reports its commits (no polling needed then).
        self.embedded = False
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._total = 0
        self._block = -1
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._closed = threading.Event()
        self._poller: threading.Thread | None = None

    # ------------------------------------------------------------------ limits

    def open(self, account: str) -> StreamLease:
        """Count a new stream of ``account``.

        Raises:
            RateLimitedError: the account already has ``api_stream_per_user`` streams open, or the
                process ``api_stream_total``.
        """
        per_user, total = self.settings.api_stream_per_user, self.settings.api_stream_total
        with self._lock:
            held = self._open.get(account, 0)
            if held >= per_user:
                raise RateLimitedError(
                    f"{account} already has {held} market streams open (at most {per_user}): close one "
                    "or reuse it",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            if self._total >= total:
                raise RateLimitedError(
                    f"this API process serves {self._total} market streams (at most {total}): try again",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._open[account] = held + 1
            self._total += 1
            start_poller = not self.embedded and self._poller is None and not self._closed.is_set()
            if start_poller:
                self._poller = threading.Thread(target=self._poll, name="ets-stream-poller", daemon=True)
        if start_poller and self._poller is not None:
            self._poller.start()
        return StreamLease(account)

    def release(self, lease: StreamLease) -> None:
        """Give back ``lease`` (a second call does nothing)."""
        with self._lock:
            if lease.released:
                return
            lease.released = True
            left = self._open.get(lease.account, 0) - 1
            if left > 0:
                self._open[lease.account] = left
            else:
                self._open.pop(lease.account, None)
            self._total -= 1

    def open_streams(self, account: str | None = None) -> int:
        """Streams open in this process (of ``account`` when given)."""
        with self._lock:
            return self._total if account is None else self._open.get(account, 0)

    # ------------------------------------------------------------------ the checkpoint

    @property
    def block(self) -> int:
        """The last committed block this process has heard of (−1: none yet)."""
        return self._block

    def committed(self, result: StepResult | int) -> None:
        """The read model committed blocks up to ``result`` (a page's result or a block number):
        wake the streams waiting for it. Safe from any thread."""
        block = result if isinstance(result, int) else result.to_block
        with self._lock:
            if block <= self._block:
                return
            self._block = block
            waiters, self._waiters = self._waiters, set()
        _wake(waiters)

    async def wait(self, after: int, timeout: float) -> int:
        """Wait until a block after ``after`` is committed, at most ``timeout`` seconds, or until
        the streams are closed; returns the last committed block then."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._block > after or self._closed.is_set():
                return self._block
            self._waiters.add(waiter)
        try:
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return self._block

    async def refresh(self) -> int:
        """Read the checkpoint now (in a worker thread) and return the last committed block."""
        self.committed(await anyio.to_thread.run_sync(self.read_checkpoint))
        return self._block

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """End every stream's wait and stop polling (the application is shutting down)."""
        self._closed.set()
        with self._lock:
            waiters, self._waiters = self._waiters, set()
            poller = self._poller
        _wake(waiters)
        if poller is not None and poller is not threading.current_thread():
            poller.join(timeout=5)

    def _poll(self) -> None:
        """Read the checkpoint while streams are open (the indexer runs in another process)."""
        interval = self.settings.api_stream_poll_seconds
        while not self._closed.wait(interval):
            with self._lock:
                idle = self._total == 0
                if idle:
                    self._poller = None
            if idle:
                return
            try:
                self.committed(self.read_checkpoint())
            except Exception:  # the database restarting: next poll
                logger.exception("market stream poll failed; retrying")


def _wake(waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
    for loop, event in waiters:
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits any more
            loop.call_soon_threadsafe(event.set)


def market_streams(ctx: AppContext) -> MarketStreams:
    """The market streams of a process serving ``ctx`` (they read its read model's checkpoint)."""

    def read_checkpoint() -> int:
        with ctx.sessions() as db:
            return q.committed_block(db)

    return MarketStreams(ctx.settings, read_checkpoint)
