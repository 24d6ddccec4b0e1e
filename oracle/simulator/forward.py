"""Store-and-forward: the controller's upload loop (answer required, resent until answered)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from oracle.errors import FrameError
from oracle.hj212 import (
    CN_DATA_ANSWER,
    CN_MINUTE_DATA,
    Frame,
    FrameScanner,
    parse,
)
from oracle.simulator.controller import VirtualController
from oracle.simulator.links import DeviceLink

__all__ = [
    "ControllerStats",
    "LinkSettings",
    "StoreAndForward",
]

logger = logging.getLogger(__name__)


class LinkSettings(BaseModel):
    """Upload behaviour of a controller (HJ 212 answer timeout and retries).

    Attributes:
        ack_timeout: seconds to wait for the data answer before resending.
        max_attempts: sends of one frame before it is given up (and counted unanswered);
            ``None`` resends forever, as a store-and-forward DAU does.
        write_timeout: seconds a write may take before the link counts as failed.
        reconnect_delay: first wait after a link failure; doubled after each further one.
        max_reconnect_delay: longest wait between reconnection attempts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ack_timeout: float = Field(default=5.0, gt=0)
    max_attempts: int | None = Field(default=None, gt=0)
    write_timeout: float = Field(default=2.0, gt=0)
    reconnect_delay: float = Field(default=0.5, ge=0)
    max_reconnect_delay: float = Field(default=10.0, ge=0)


@dataclass(frozen=True)
class ControllerStats:
    """A consistent copy of one controller's counters (see :class:`StoreAndForward`).

    Attributes:
        mn: device code.
        emitted: frames handed to the link (minute frames and card swipes).
        minute_frames: minute frames built.
        card_swipes: card-swipe frames built.
        clock: DataTime of the next minute slot.
        last_datatime: DataTime of the last minute frame built.
        totals: ``Cou`` sums by factor code (m³ for flows, kg otherwise).
        events: fault, maintenance, calibration, spike and gap events started, by name.
        flagged: factor-minutes sent with a data flag other than ``N``, by flag letter.
        missed_minutes: minutes skipped by gaps.
        sent: transmissions, resends included.
        resent: transmissions of a frame sent before.
        answered: frames whose data answer arrived.
        unanswered: frames given up after ``max_attempts``.
        timeouts: waits for an answer that ran out.
        link_errors: failed connects, writes and reads.
        reconnects: connections opened after the first.
        done: whether the controller sent all its frames.
    """

    mn: str
    emitted: int
    minute_frames: int
    card_swipes: int
    clock: datetime
    last_datatime: datetime | None
    totals: dict[str, Decimal]
    events: dict[str, int]
    flagged: dict[str, int]
    missed_minutes: int
    sent: int
    resent: int
    answered: int
    unanswered: int
    timeouts: int
    link_errors: int
    reconnects: int
    done: bool


class StoreAndForward:
    """A controller's upload loop: send, wait for the answer, resend until answered.

    :meth:`run` (in one thread) draws frames from the controller; :meth:`snapshot` may be
    called from any thread.

    Args:
        controller: the frames' source.
        link: where frames go and answers come from.
        settings: timeouts and retries.
        stop: set to make :meth:`run` and :meth:`deliver` return soon; a fresh event when
            ``None``.
    """

    def __init__(
        self,
        controller: VirtualController,
        link: DeviceLink,
        settings: LinkSettings | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.controller = controller
        self.link = link
        self.settings = settings if settings is not None else LinkSettings()
        self._stop = stop if stop is not None else threading.Event()
        self._lock = threading.Lock()
        self._scanner = FrameScanner()
        self._backoff = self.settings.reconnect_delay
        self._connections = 0
        self.sent = 0
        self.resent = 0
        self.answered = 0
        self.unanswered = 0
        self.timeouts = 0
        self.link_errors = 0
        self.reconnects = 0
        self.done = False

    def snapshot(self) -> ControllerStats:
        """A consistent copy of the controller's and the link's counters."""
        c = self.controller
        with self._lock:
            return ControllerStats(
                mn=c.mn,
                emitted=c.emitted,
                minute_frames=c.minute_frames,
                card_swipes=c.card_swipes,
                clock=c.clock,
                last_datatime=c.last_datatime,
                totals=c.totals,
                events=dict(c.events),
                flagged={flag.value: n for flag, n in c.flagged.items()},
                missed_minutes=c.missed_minutes,
                sent=self.sent,
                resent=self.resent,
                answered=self.answered,
                unanswered=self.unanswered,
                timeouts=self.timeouts,
                link_errors=self.link_errors,
                reconnects=self.reconnects,
                done=self.done,
            )

    def run(self, count: int, *, interval: float = 0.0) -> None:
        """Send ``count`` minute frames (and the card swipes before them), one at a time.

        Args:
            count: minute frames to send.
            interval: real seconds from one minute frame's first send to the next one's; a
                frame answered late is followed at once (the DAU catches up). 0 sends as fast
                as answers allow.
        """
        frames = self.controller.frames(count)
        started = time.monotonic()
        minutes = 0
        while not self._stop.is_set():
            with self._lock:
                wire = next(frames, None)
            if wire is None:
                with self._lock:
                    self.done = True
                return
            frame = parse(wire)
            self.deliver(wire, frame)
            if frame.cn == CN_MINUTE_DATA:
                minutes += 1
                if interval > 0:
                    self._stop.wait(max(0.0, started + minutes * interval - time.monotonic()))

    def deliver(self, wire: str, frame: Frame | None = None) -> bool:
        """Send one frame until its data answer arrives (or it is given up, or stop is set).

        Args:
            wire: the frame as wire text.
            frame: ``wire`` parsed, when the caller has it.

        Returns:
            ``True`` when answered (or when the frame asks for no answer and was written).
        """
        if frame is None:
            frame = parse(wire)
        raw = wire.encode("ascii")
        limit = self.settings.max_attempts
        attempts = 0
        while not self._stop.is_set():
            if limit is not None and attempts >= limit:
                with self._lock:
                    self.unanswered += 1
                logger.warning(
                    "frame unanswered after %d attempts; giving it up",
                    attempts,
                    extra={"device": frame.mn, "qn": frame.qn, "cn": frame.cn},
                )
                return False
            if not self._ensure_connected():
                continue
            try:
                self.link.send(raw, self.settings.write_timeout)
            except OSError as error:
                self._link_failed(error, "write")
                continue
            attempts += 1
            with self._lock:
                self.sent += 1
                self.resent += attempts > 1
            if not frame.needs_ack:
                return True
            try:
                answered = self._await_answer(frame)
            except OSError as error:
                self._link_failed(error, "read")
                continue
            if answered:
                with self._lock:
                    self.answered += 1
                self._backoff = self.settings.reconnect_delay
                return True
            if not self._stop.is_set():
                with self._lock:
                    self.timeouts += 1
                logger.info(
                    "no answer within %.2f s; resending",
                    self.settings.ack_timeout,
                    extra={"device": frame.mn, "qn": frame.qn, "link": self.link.name},
                )
        return False

    def _await_answer(self, frame: Frame) -> bool:
        deadline = time.monotonic() + self.settings.ack_timeout
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            data = self.link.receive(min(left, 0.05))
            if not data:
                continue
            for item in self._scanner.feed(data):
                if isinstance(item, FrameError):
                    logger.debug("skipped bad bytes from %s: %s", self.link.name, type(item).__name__)
                    continue
                try:
                    reply = parse(item)
                except FrameError as error:
                    logger.debug("bad reply from %s: %s", self.link.name, type(error).__name__)
                    continue
                if reply.cn == CN_DATA_ANSWER and reply.qn == frame.qn and reply.mn == frame.mn:
                    return True
        return False

    def _ensure_connected(self) -> bool:
        if self.link.connected:
            return True
        try:
            self.link.connect()
        except OSError as error:
            self._link_failed(error, "connect")
            return False
        self._scanner = FrameScanner()
        self._connections += 1
        if self._connections > 1:
            with self._lock:
                self.reconnects += 1
            logger.info(
                "reconnected to %s",
                self.link.name,
                extra={"device": self.controller.mn, "link": self.link.name},
            )
        return True

    def _link_failed(self, error: OSError, what: str) -> None:
        with self._lock:
            self.link_errors += 1
        logger.warning(
            "%s on %s failed: %s; retrying in %.2f s",
            what,
            self.link.name,
            type(error).__name__,
            self._backoff,
            extra={"device": self.controller.mn, "link": self.link.name},
        )
        self.link.disconnect()
        self._stop.wait(self._backoff)
        self._backoff = min(max(self._backoff * 2, 0.01), self.settings.max_reconnect_delay)
