"""Back-fill: gaps in each device's data series and the HJ 212-2017 history requests that close them.

A :class:`Backfiller` follows, per device code (MN) and data command (CN=2051 minute, 2061
hourly, 2031 daily data), the DataTime of every live data frame the gateway stored. Its
reporting step is the configured one or, for a device seen long enough, the smallest spacing
seen. A frame that comes more than one step after the last opens a :class:`Gap`
``[last + step, DataTime - step]``; so does an operator's window (``ets oracle backfill``).

The gateway asks the controller for a gap's stored frames with a history request
(:func:`oracle.hj212.history_request`: ``CN=2051;Flag=5;CP=&&BeginTime=..;EndTime=..&&``),
sent on the device's link right after the data answer of one of its frames. The exchange, as
HJ 212-2017 lays it out: the controller answers with a request answer (CN=9011, ``QnRtn``),
uploads the stored frames of the window under the request's QN (each answered with 9014),
then sends the execution result (CN=9012, ``ExeRtn``; 100 when it has no data). The 9012
closes the request and the part of the gap it covered.

Limits, so that neither side can flood the other:

* one request in flight per device; a request not closed within ``request_timeout`` seconds
  is asked again under a new QN (its late answers are then unsolicited and refused), at most
  ``max_attempts`` times, then the gap is abandoned (counted);
* a request covers at most ``max_frames`` steps; the rest of the gap waits for the next one;
* at most ``max_gaps`` open gaps per device: a further one is refused
  (:class:`~oracle.errors.HistoryLimitError`) and counted.

Not thread-safe: the gateway calls it under its lock.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from oracle.errors import HistoryLimitError, HistoryRequestError, HistoryWindowError
from oracle.hj212 import CN_DAY_DATA, CN_HOUR_DATA, CN_MINUTE_DATA, HISTORY_CNS, ExeRtn, QnRtn

__all__ = [
    "DEFAULT_STEPS",
    "BackfillStats",
    "Backfiller",
    "Gap",
    "HistoryRequest",
]

logger = logging.getLogger(__name__)

#: Reporting steps assumed until a device shows its own (minute, hourly, daily data).
DEFAULT_STEPS: Final[Mapping[str, timedelta]] = {
    CN_MINUTE_DATA: timedelta(minutes=1),
    CN_HOUR_DATA: timedelta(hours=1),
    CN_DAY_DATA: timedelta(days=1),
}
#: Spacings seen before a device's own step replaces the default.
_LEARN_AFTER: Final = 3


@dataclass(frozen=True, slots=True)
class Gap:
    """A window of a device's data series the gateway has no frames for (both ends inclusive).

    Attributes:
        mn: device code.
        cn: data command (``2051`` minute data ...).
        begin: DataTime of the first missing frame (naive local time).
        end: DataTime of the last missing frame.
        manual: asked for by an operator rather than found.
    """

    mn: str
    cn: str
    begin: datetime
    end: datetime
    manual: bool = False


@dataclass(slots=True)
class HistoryRequest:
    """A history request in flight.

    Attributes:
        mn: device code.
        cn: data command asked for.
        qn: the request's number; the controller's answers carry it.
        begin: BeginTime asked for.
        end: EndTime asked for.
        sent_at: gateway clock (unix seconds) when it was sent.
        attempts: how many times the window was asked for.
        qn_rtn: the controller's request answer, ``None`` before it came.
        frames: history frames stored for it.
        duplicates: history frames it brought that were stored already.
    """

    mn: str
    cn: str
    qn: str
    begin: datetime
    end: datetime
    sent_at: float
    attempts: int = 1
    qn_rtn: int | None = None
    frames: int = 0
    duplicates: int = 0

    def covers(self, when: datetime) -> bool:
        """Whether ``when`` lies in the requested window."""
        return self.begin <= when <= self.end


@dataclass
class BackfillStats:
    """What back-fill did (all counters only grow)."""

    gaps_found: int = 0
    gaps_asked: int = 0
    gaps_closed: int = 0
    gaps_abandoned: int = 0
    gaps_refused: int = 0
    requests_sent: int = 0
    requests_retried: int = 0
    requests_refused: int = 0
    requests_finished: int = 0
    requests_empty: int = 0
    frames_backfilled: int = 0
    readings_backfilled: int = 0
    frames_duplicate: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, object]:
        """A JSON-safe copy."""
        with self._lock:
            out: dict[str, object] = {
                name: getattr(self, name)
                for name in (
                    "gaps_found", "gaps_asked", "gaps_closed", "gaps_abandoned", "gaps_refused",
                    "requests_sent", "requests_retried", "requests_refused", "requests_finished",
                    "requests_empty", "frames_backfilled", "readings_backfilled", "frames_duplicate",
                )
            }  # fmt: skip
            out["rejected"] = dict(self.rejected)
            return out


@dataclass(slots=True)
class _Series:
    last: datetime | None = None
    step: timedelta | None = None
    spacings: int = 0


class Backfiller:
    """Finds gaps and keeps the history requests that close them (see the module docstring).

    Args:
        steps: reporting step per data command until a device shows its own; ``None``:
            :data:`DEFAULT_STEPS`.
        clock: the gateway's clock (unix seconds).
        max_gaps: open gaps kept per device.
        max_frames: most steps one request covers.
        request_timeout: seconds a request may stay open before it is asked again.
        max_attempts: times a window is asked for before its gap is abandoned.
    """

    def __init__(
        self,
        *,
        steps: Mapping[str, timedelta] | None = None,
        clock: Callable[[], float],
        max_gaps: int = 64,
        max_frames: int = 240,
        request_timeout: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        if max_gaps < 1 or max_frames < 1 or max_attempts < 1 or not request_timeout > 0:
            raise HistoryRequestError("back-fill limits must be positive")
        self.stats = BackfillStats()
        self._steps = dict(DEFAULT_STEPS if steps is None else steps)
        self._clock = clock
        self._max_gaps = max_gaps
        self._max_frames = max_frames
        self._timeout = request_timeout
        self._max_attempts = max_attempts
        self._series: dict[tuple[str, str], _Series] = {}
        self._gaps: dict[str, deque[Gap]] = {}
        self._inflight: dict[str, HistoryRequest] = {}
        self._attempts: dict[str, int] = {}

    # --- the series ---

    def step(self, mn: str, cn: str) -> timedelta:
        """The reporting step of a device's data command (its own once seen, else the default)."""
        series = self._series.get((mn, cn))
        if series is not None and series.step is not None and series.spacings >= _LEARN_AFTER:
            return series.step
        return self._steps.get(cn, DEFAULT_STEPS[CN_MINUTE_DATA])

    def resume(self, mn: str, cn: str, last: datetime) -> None:
        """Set the last stored DataTime of a device's command (after a restart)."""
        if cn in HISTORY_CNS:
            series = self._series.setdefault((mn, cn), _Series())
            if series.last is None or last > series.last:
                series.last = last

    def observe(self, mn: str, cn: str, when: datetime) -> Gap | None:
        """Follow a stored live data frame; the gap before it, if any, is opened and returned."""
        if cn not in HISTORY_CNS:
            return None
        series = self._series.get((mn, cn))
        if series is None:
            series = self._series[mn, cn] = _Series()
        last = series.last
        if last is None or when <= last:
            series.last = when if last is None else last
            return None
        spacing = when - last
        series.last = when
        step = self.step(mn, cn)
        if series.step is None or spacing < series.step:
            series.step = spacing
        series.spacings += 1
        if spacing < 2 * step:  # no whole step fits between the two frames: nothing missing
            return None
        gap = Gap(mn, cn, last + step, when - step)
        with self.stats._lock:
            self.stats.gaps_found += 1
        logger.warning(
            "gap in the data series: %s .. %s",
            f"{gap.begin:%Y-%m-%d %H:%M:%S}",
            f"{gap.end:%Y-%m-%d %H:%M:%S}",
            extra={"device": mn, "cn": cn},
        )
        try:
            self.open(gap)
        except HistoryLimitError:
            return None
        return gap

    # --- gaps ---

    def open(self, gap: Gap) -> None:
        """Keep a gap to be asked for.

        Raises:
            HistoryRequestError: the command is not minute, hourly or daily data, or the
                window ends before it begins.
            HistoryLimitError: the device has ``max_gaps`` open gaps already.
        """
        if gap.cn not in HISTORY_CNS:
            raise HistoryRequestError(f"CN={gap.cn} is not minute, hourly or daily data")
        if gap.end < gap.begin:
            raise HistoryRequestError("the window ends before it begins")
        gaps = self._gaps.setdefault(gap.mn, deque())
        if len(gaps) >= self._max_gaps:
            with self.stats._lock:
                self.stats.gaps_refused += 1
            logger.warning("open gaps limit reached; gap not kept", extra={"device": gap.mn})
            raise HistoryLimitError(f"device {gap.mn} has {len(gaps)} open gaps already")
        gaps.append(gap)

    def gaps(self, mn: str | None = None) -> list[Gap]:
        """Open gaps (of one device, or all), oldest first per device."""
        if mn is not None:
            return list(self._gaps.get(mn, ()))
        return [g for gaps in self._gaps.values() for g in gaps]

    # --- requests ---

    def due(self, mn: str, qn: str) -> HistoryRequest | None:
        """The request to send to a device now, numbered ``qn``; ``None`` when none is due.

        A request in flight past its timeout is given up and its window asked again (or the
        gap abandoned after ``max_attempts``).
        """
        now = self._clock()
        current = self._inflight.get(mn)
        if current is not None:
            if now - current.sent_at < self._timeout:
                return None
            del self._inflight[mn]
            logger.warning("history request unanswered; asking again", extra={"device": mn, "qn": current.qn})
        gaps = self._gaps.get(mn)
        if not gaps:
            return None
        gap = gaps[0]
        attempts = self._attempts.get(mn, 0) + 1
        if attempts > self._max_attempts:
            gaps.popleft()
            self._attempts.pop(mn, None)
            with self.stats._lock:
                self.stats.gaps_abandoned += 1
            logger.warning(
                "gap abandoned after %d requests", attempts - 1, extra={"device": mn, "cn": gap.cn}
            )
            return self.due(mn, qn)
        self._attempts[mn] = attempts
        if attempts == 1:
            with self.stats._lock:
                self.stats.gaps_asked += 1
        step = self.step(mn, gap.cn)
        end = min(gap.end, gap.begin + step * (self._max_frames - 1))
        request = HistoryRequest(mn, gap.cn, qn, gap.begin, end, now, attempts)
        self._inflight[mn] = request
        with self.stats._lock:
            self.stats.requests_sent += 1
            self.stats.requests_retried += attempts > 1
        return request

    def pending(self, mn: str, qn: str | None) -> HistoryRequest | None:
        """The device's request in flight numbered ``qn``, if any."""
        current = self._inflight.get(mn)
        return current if current is not None and qn is not None and current.qn == qn else None

    def check(self, request: HistoryRequest, when: datetime | None) -> None:
        """Check that a history answer of ``request`` is dated inside the window asked for.

        Raises:
            HistoryWindowError: it has no DataTime or lies outside ``begin`` .. ``end``.
        """
        if when is None or not request.covers(when):
            shown = "no DataTime" if when is None else f"DataTime {when:%Y-%m-%d %H:%M:%S}"
            raise HistoryWindowError(
                f"history answer of {request.mn} with {shown} outside "
                f"{request.begin:%Y-%m-%d %H:%M:%S} .. {request.end:%Y-%m-%d %H:%M:%S} (QN {request.qn})"
            )

    def answered(self, request: HistoryRequest, qn_rtn: int) -> None:
        """The controller's request answer (CN=9011); a refusal ends the request (asked again
        after the timeout, counted)."""
        request.qn_rtn = qn_rtn
        if qn_rtn != QnRtn.READY:
            with self.stats._lock:
                self.stats.requests_refused += 1
            logger.warning("history request refused: QnRtn=%d", qn_rtn, extra={"device": request.mn})

    def finished(self, request: HistoryRequest, exe_rtn: int) -> bool:
        """The controller's execution result (CN=9012) closes the request and the part of its
        gap the request covered (also with ``ExeRtn=100``: the controller holds no data there).

        Returns:
            Whether the whole gap is closed.
        """
        self._inflight.pop(request.mn, None)
        if exe_rtn not in (ExeRtn.SUCCESS, ExeRtn.NO_DATA):
            with self.stats._lock:
                self.stats.requests_refused += 1
            logger.warning("history request failed: ExeRtn=%d", exe_rtn, extra={"device": request.mn})
            return False
        self._attempts.pop(request.mn, None)
        with self.stats._lock:
            self.stats.requests_finished += 1
            self.stats.requests_empty += exe_rtn == ExeRtn.NO_DATA
        gaps = self._gaps.get(request.mn)
        if not gaps:
            return False
        gap = gaps[0]
        if gap.cn != request.cn or gap.begin != request.begin:
            return False
        if request.end >= gap.end:
            gaps.popleft()
            with self.stats._lock:
                self.stats.gaps_closed += 1
            logger.info("gap closed", extra={"device": request.mn, "cn": request.cn})
            return True
        gaps[0] = Gap(gap.mn, gap.cn, request.end + self.step(request.mn, request.cn), gap.end, gap.manual)
        return False

    def stored(self, request: HistoryRequest, readings: int) -> None:
        """A history frame of ``request`` was stored with ``readings`` signed readings."""
        request.frames += 1
        with self.stats._lock:
            self.stats.frames_backfilled += 1
            self.stats.readings_backfilled += readings

    def duplicate(self, request: HistoryRequest) -> None:
        """A history frame of ``request`` was stored already (as live data or back-filled before)."""
        request.duplicates += 1
        with self.stats._lock:
            self.stats.frames_duplicate += 1

    def reject(self, reason: str) -> None:
        """Count a history answer refused for ``reason``."""
        with self.stats._lock:
            self.stats.rejected[reason] += 1
