"""Store-and-forward: the controller's upload loop (answer required, resent until answered),
and its answers to the platform's history requests (HJ 212-2017: 9011, the stored frames
under the request's QN, each answered with 9014, then 9012)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from oracle.errors import FrameError
from oracle.hj212 import (
    CN_DATA_ANSWER,
    CN_MINUTE_DATA,
    CN_VALVE_CONTROL,
    ExeRtn,
    Frame,
    FrameScanner,
    QnRtn,
    execution_result,
    history_window,
    is_history_request,
    parse,
    request_answer,
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
        drop_rate: chance that a minute frame is lost in transit (never reaches the
            platform, not resent; the controller keeps it for history requests), to show
            back-fill; 0 in normal use.
        max_history_requests: history requests queued at once; further ones are refused
            (``QnRtn=2``, rejected) and counted, so a flood of requests cannot stall the uploads.
        history_linger: seconds the controller keeps answering history requests after its
            last frame.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ack_timeout: float = Field(default=5.0, gt=0)
    max_attempts: int | None = Field(default=None, gt=0)
    write_timeout: float = Field(default=2.0, gt=0)
    reconnect_delay: float = Field(default=0.5, ge=0)
    max_reconnect_delay: float = Field(default=10.0, ge=0)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    max_history_requests: int = Field(default=4, ge=1)
    history_linger: float = Field(default=0.5, ge=0)


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
        dropped: minute frames lost in transit (``drop_rate``).
        history_requests: history requests taken.
        history_refused: history requests refused (queue full, wrong password, bad window).
        history_frames: stored frames sent in answer to history requests.
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
    dropped: int = 0
    history_requests: int = 0
    history_refused: int = 0
    history_frames: int = 0


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
        self.dropped = 0
        self.history_requests = 0
        self.history_refused = 0
        self.history_frames = 0
        self._requests: deque[Frame] = deque()
        self._transit = random.Random(f"transit-{controller.mn}")

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
                dropped=self.dropped,
                history_requests=self.history_requests,
                history_refused=self.history_refused,
                history_frames=self.history_frames,
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
                self._linger()
                with self._lock:
                    self.done = True
                return
            self._serve_history()
            frame = parse(wire, crc=self.controller.crc)
            if frame.cn == CN_MINUTE_DATA and self._lost_in_transit():
                with self._lock:
                    self.dropped += 1
                logger.info("frame lost in transit", extra={"device": frame.mn, "qn": frame.qn})
            else:
                self.deliver(wire, frame)
            if frame.cn == CN_MINUTE_DATA:
                minutes += 1
                if interval > 0:
                    self._stop.wait(max(0.0, started + minutes * interval - time.monotonic()))

    def _lost_in_transit(self) -> bool:
        rate = self.settings.drop_rate
        return rate > 0 and self._transit.random() < rate

    def _linger(self) -> None:
        """Answer history requests that come after the last frame, until none came for
        ``history_linger`` seconds."""
        while not self._stop.is_set():
            if not self._requests:
                try:
                    if self.link.connected:
                        self._read_replies(None, self.settings.history_linger)
                except OSError as error:
                    self._link_failed(error, "read")
                    return
            if not self._requests:
                return
            self._serve_history()

    # --- history requests ---

    def _take_request(self, request: Frame) -> None:
        """Queue a history request (or refuse it with a request answer)."""
        controller = self.controller
        refusal: int | None = None
        if request.mn != controller.mn:
            return  # not for this controller (a shared line): not answered
        if not controller.accepts(request.pw):
            refusal = QnRtn.PW_ERROR
        elif len(self._requests) >= self.settings.max_history_requests:
            refusal = QnRtn.REJECTED
        if refusal is None:
            self._requests.append(request)
            return
        with self._lock:
            self.history_refused += 1
        logger.warning(
            "history request refused: QnRtn=%d", refusal, extra={"device": request.mn, "qn": request.qn}
        )
        self._send_quietly(request_answer(request, refusal))

    def _valve(self, command: Frame) -> None:
        """Obey a valve command (CN=3098, ``ValveCmd`` 0 close / 1 open): 9011, move, 9012."""
        setting = command.extras.get("ValveCmd")
        if not self.controller.accepts(command.pw):
            self._send_quietly(request_answer(command, QnRtn.PW_ERROR))
            return
        if setting not in ("0", "1"):
            self._send_quietly(request_answer(command, QnRtn.REJECTED))
            return
        self._send_quietly(request_answer(command, QnRtn.READY))
        with self._lock:
            self.controller.command_valve(setting == "1")
        self._send_quietly(execution_result(command, ExeRtn.SUCCESS))

    def _send_quietly(self, wire: str) -> None:
        try:
            self.link.send(wire.encode("ascii"), self.settings.write_timeout)
        except OSError as error:
            self._link_failed(error, "write")

    def _serve_history(self) -> None:
        """Answer the queued history requests: 9011, the stored frames, 9012."""
        while self._requests and not self._stop.is_set():
            request = self._requests.popleft()
            try:
                begin, end = history_window(request)
            except FrameError:
                with self._lock:
                    self.history_refused += 1
                self._send_quietly(request_answer(request, QnRtn.UNKNOWN_ERROR))
                continue
            with self._lock:
                self.history_requests += 1
            self._send_quietly(request_answer(request, QnRtn.READY))
            stored = self.controller.history(request.cn, begin, end)
            for wire in stored:
                frame = replace(parse(wire, crc=self.controller.crc), qn=request.qn)
                delivered = self.deliver(frame.to_wire(), frame)
                if self._stop.is_set():
                    return
                with self._lock:
                    self.history_frames += delivered
            self._send_quietly(execution_result(request, ExeRtn.SUCCESS if stored else ExeRtn.NO_DATA))
            logger.info(
                "history request answered with %d frames",
                len(stored),
                extra={"device": request.mn, "qn": request.qn},
            )

    def deliver(self, wire: str, frame: Frame | None = None) -> bool:
        """Send one frame until its data answer arrives (or it is given up, or stop is set).

        Args:
            wire: the frame as wire text.
            frame: ``wire`` parsed, when the caller has it.

        Returns:
            ``True`` when answered (or when the frame asks for no answer and was written).
        """
        if frame is None:
            frame = parse(wire, crc=self.controller.crc)
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
        return self._read_replies(frame, self.settings.ack_timeout)

    def _read_replies(self, frame: Frame | None, timeout: float) -> bool:
        """Read what the platform sends for up to ``timeout`` seconds: queue its history
        requests, and return ``True`` once the data answer to ``frame`` came (the rest of the
        bytes read with it are taken too). With ``frame=None``, return at the first request."""
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            data = self.link.receive(min(left, 0.05))
            if not data:
                continue
            answered = False
            for item in self._scanner.feed(data):
                if isinstance(item, FrameError):
                    logger.debug("skipped bad bytes from %s: %s", self.link.name, type(item).__name__)
                    continue
                try:
                    reply = parse(item, crc=self.controller.crc)
                except FrameError as error:
                    logger.debug("bad reply from %s: %s", self.link.name, type(error).__name__)
                    continue
                if is_history_request(reply):
                    self._take_request(reply)
                elif reply.cn == CN_VALVE_CONTROL and reply.mn == self.controller.mn:
                    self._valve(reply)
                elif (
                    frame is not None
                    and reply.cn == CN_DATA_ANSWER
                    and reply.qn == frame.qn
                    and reply.mn == frame.mn
                ):
                    answered = True
            if answered or (frame is None and self._requests):
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
