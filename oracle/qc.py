"""Data quality control of parsed HJ 212 frames: validity, order, flags, outliers, gaps, tampering.

:meth:`QualityControl.check` turns one data frame into :class:`QcReading` objects, one per
numeric CP item (``w01018-Avg``, ``w01018-Cou`` ...), each with a :class:`QcStatus`:

* ``MEASURED`` — the value as sent, within its plausible range. A data flag other than ``N``
  (stopped, maintenance, manual setting, fault, calibration, over range, communication
  abnormal) keeps the reading but marks it not valid for compliance (reason ``FLAGGED``).
* ``INVALID`` — out of the plausible range of :data:`PLAUSIBLE_RANGES` (a negative total, an
  unknown flag letter ...); kept, with the reason.
* ``OUTLIER`` — far from the robust rolling median of the same device, command, factor and
  suffix (modified z-score on the median absolute deviation). Outliers are flagged, never
  dropped or replaced; they still enter the window, so a real change of level is accepted
  after about half a window.
* ``FILLED`` — produced, not measured: when frames are missing between two frames of a
  device (by the device's reporting step), each missing time gets a linear interpolation
  between the two measured values around the gap, in readings of their own.

Whole frames are refused with a typed :class:`~oracle.errors.FrameRejectedError` when their
DataTime is missing, equal to (a replay, :class:`~oracle.errors.ReplayedFrameError`) or
older than (:class:`~oracle.errors.OutOfOrderFrameError`) the last accepted frame of the same
device **and command**: minute, hour and day data of one device legitimately share stamps.

Tamper detection reports through a callback (:class:`TamperAlarm`): a change of the set of
factors a device reports. A change of an instrument parameter (CN=3020 ``i13xxx-Info`` items:
range, interval, digestion, intercept, slope, detection limit ...) is the gateway's field rule
(:mod:`oracle.tamper`, against a persisted baseline, alarmed and delivered), not QC's.

Speed: the gateway target is 20,000 readings/s through parse, QC, signing and queueing on one
core, so the per-reading path avoids allocations beyond the reading itself and computes the
median absolute deviation only for values far from the median.

Not thread-safe: one instance is fed by one thread (the transports' handler thread).
"""

from __future__ import annotations

import logging
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from oracle.errors import (
    FrameRejectedError,
    MissingDataTimeError,
    OutOfOrderFrameError,
    QcConfigError,
    ReplayedFrameError,
)
from oracle.hj212 import (
    CN_DAY_DATA,
    CN_HOUR_DATA,
    CN_MINUTE_DATA,
    CN_REALTIME_DATA,
    LEGACY_CODES,
    NUMERIC_SUFFIXES,
    POLLUTANTS,
    DataFlag,
    Frame,
)

__all__ = [
    "PLAUSIBLE_RANGES",
    "FrameRejectedError",
    "QcConfig",
    "QcReading",
    "QcReason",
    "QcStatus",
    "QualityControl",
    "TamperAlarm",
    "TamperKind",
    "TamperNotifier",
]

logger = logging.getLogger(__name__)

D = Decimal
#: Plausible value ranges (physically possible for the instruments in use, not legal limits)
#: in the factor's concentration unit of :data:`~oracle.hj212.POLLUTANTS`, for ``Rtd``,
#: ``Avg``, ``Min``, ``Max`` and their ``Zs`` (converted) forms. Totals (``Cou``) must only be
#: non-negative. Factors not listed get no range check.
PLAUSIBLE_RANGES: Final[Mapping[str, tuple[Decimal, Decimal]]] = {
    # wastewater, mg/L unless stated
    "w00000": (D(0), D(100_000)),  # flow, L/s
    "w01001": (D(0), D(14)),  # pH
    "w01010": (D(-5), D(100)),  # water temperature, °C
    "w01012": (D(0), D(20_000)),  # suspended solids
    "w01017": (D(0), D(20_000)),  # BOD5
    "w01018": (D(0), D(20_000)),  # COD
    "w01019": (D(0), D(10_000)),  # permanganate index
    "w01020": (D(0), D(20_000)),  # TOC
    "w21001": (D(0), D(2_000)),  # total nitrogen
    "w21003": (D(0), D(1_000)),  # ammonia nitrogen (NH3-N)
    "w21011": (D(0), D(500)),  # total phosphorus
    "w21016": (D(0), D(100)),  # cyanide
    "w22001": (D(0), D(1_000)),  # petroleum
    "w23002": (D(0), D(1_000)),  # volatile phenol
    # flue gas, mg/m³ unless stated
    "a00000": (D(0), D(10_000)),  # flue gas flow, m³/s
    "a01011": (D(0), D(100)),  # flue gas velocity, m/s
    "a01012": (D(-40), D(1_200)),  # flue gas temperature, °C
    "a01013": (D(-50), D(50)),  # flue gas pressure, kPa
    "a01014": (D(0), D(100)),  # flue gas humidity, %
    "a05001": (D(0), D(600_000)),  # CO2
    "a19001": (D(0), D(25)),  # O2, %
    "a21002": (D(0), D(10_000)),  # NOx
    "a21003": (D(0), D(10_000)),  # NO
    "a21004": (D(0), D(5_000)),  # NO2
    "a21005": (D(0), D(50_000)),  # CO
    "a21024": (D(0), D(5_000)),  # HCl
    "a21026": (D(0), D(30_000)),  # SO2
    "a21028": (D(0), D(5_000)),  # H2S
    "a24088": (D(0), D(50_000)),  # non-methane hydrocarbons
    "a34013": (D(0), D(20_000)),  # particulate matter
}
del D

_TOTAL_SUFFIXES: Final = frozenset({"Cou", "ZsCou"})
_FLAGS: Final[Mapping[str, DataFlag]] = {flag.value: flag for flag in DataFlag}
_NORMAL: Final = DataFlag.NORMAL
_NAN: Final = Decimal("NaN")
# Consistency constant of the MAD for normally distributed data (MAD x 1.4826 ~ sigma).
_MAD_SIGMA: Final = 1.4826


class QcStatus(StrEnum):
    """What a QC'd reading is."""

    MEASURED = "measured"
    FILLED = "filled"
    OUTLIER = "outlier"
    INVALID = "invalid"


class QcReason(StrEnum):
    """Why a reading is not a plain valid measurement."""

    FLAGGED = "flagged"  # data flag other than N: kept, not valid for compliance
    UNKNOWN_FLAG = "unknown_flag"  # a flag letter the standard does not define
    BELOW_RANGE = "below_range"
    ABOVE_RANGE = "above_range"
    NEGATIVE_TOTAL = "negative_total"  # a Cou below zero
    NOT_A_NUMBER = "not_a_number"  # only in frames built without parse()
    OUTLIER = "outlier"  # far from the rolling median
    INTERPOLATED = "interpolated"  # a filled reading of a gap


@dataclass(frozen=True, slots=True)
class QcReading:
    """One reading after quality control.

    Attributes:
        mn: device (monitoring point) code.
        cn: command code of the frame (``2051`` minute data ...), or of the gap it fills.
        time: DataTime of the frame, or of the missing frame for a filled reading.
        code: factor code as sent (``w01018``; HJ/T 212-2005 codes are kept as sent).
        suffix: ``Rtd``, ``Avg``, ``Min``, ``Max``, ``Cou``, ``ZsAvg`` ...
        value: the value, exactly as sent (or as interpolated, to the endpoints' decimals).
        text: the value's text as sent (or as interpolated).
        unit: unit of ``value`` (concentration unit, or total unit for ``Cou``); ``""`` when
            the factor is unknown or unitless (pH).
        flag: the factor's data flag, ``None`` when none was sent (or for a filled reading).
        status: measured, filled, outlier or invalid.
        reason: why the reading is not a plain valid measurement, ``None`` when it is.
    """

    mn: str
    cn: str
    time: datetime
    code: str
    suffix: str
    value: Decimal
    text: str
    unit: str
    flag: DataFlag | None
    status: QcStatus
    reason: QcReason | None = None

    @property
    def valid_for_compliance(self) -> bool:
        """Measured, in range, not an outlier, and flagged normal (or not flagged)."""
        return self.status is QcStatus.MEASURED and (self.flag is None or self.flag is _NORMAL)


def _reading_factory() -> Callable[
    [str, str, datetime, str, str, Decimal, str, str, DataFlag | None, QcStatus, QcReason | None], QcReading
]:
    """A constructor of :class:`QcReading` for the hot path, equal to calling the class.

    A frozen dataclass sets each field through ``object.__setattr__``; setting the slots
    through their descriptors builds the same object in about half the time.
    """
    new = object.__new__
    setters = tuple(getattr(QcReading, f.name).__set__ for f in fields(QcReading))
    set_mn, set_cn, set_time, set_code, set_suffix, set_value = setters[:6]
    set_text, set_unit, set_flag, set_status, set_reason = setters[6:]

    def make(
        mn: str,
        cn: str,
        time: datetime,
        code: str,
        suffix: str,
        value: Decimal,
        text: str,
        unit: str,
        flag: DataFlag | None,
        status: QcStatus,
        reason: QcReason | None,
    ) -> QcReading:
        reading: QcReading = new(QcReading)
        set_mn(reading, mn)
        set_cn(reading, cn)
        set_time(reading, time)
        set_code(reading, code)
        set_suffix(reading, suffix)
        set_value(reading, value)
        set_text(reading, text)
        set_unit(reading, unit)
        set_flag(reading, flag)
        set_status(reading, status)
        set_reason(reading, reason)
        return reading

    return make


_reading: Final = _reading_factory()
_MEASURED: Final = QcStatus.MEASURED
_INVALID: Final = QcStatus.INVALID
_OUTLIER: Final = QcStatus.OUTLIER
_FLAGGED: Final = QcReason.FLAGGED
_UNKNOWN_FLAG: Final = QcReason.UNKNOWN_FLAG
_BELOW: Final = QcReason.BELOW_RANGE
_ABOVE: Final = QcReason.ABOVE_RANGE
_NEGATIVE: Final = QcReason.NEGATIVE_TOTAL
_NOT_A_NUMBER: Final = QcReason.NOT_A_NUMBER
_OUTLIER_REASON: Final = QcReason.OUTLIER


class TamperKind(StrEnum):
    """What changed on a device."""

    FACTORS_CHANGED = "factors_changed"  # the set of factors a device reports for a command


@dataclass(frozen=True, slots=True)
class TamperAlarm:
    """A change of a device's configuration that may be tampering.

    Attributes:
        mn: device code.
        time: DataTime of the frame that showed the change, ``None`` when it had none.
        kind: what changed.
        pollutant: the factor concerned, ``None`` for the set of factors.
        item: ``factors`` for the set of factors.
        old: previous value (factor codes joined by ``,`` for a set of factors).
        new: new value.
        cn: command code of the frame.
    """

    mn: str
    time: datetime | None
    kind: TamperKind
    pollutant: str | None
    item: str
    old: str
    new: str
    cn: str


#: Receives tamper alarms (the regulator's platform, an alarm queue ...).
TamperNotifier = Callable[[TamperAlarm], None]


def _log_tamper(alarm: TamperAlarm) -> None:
    logger.warning(
        "tamper alarm: %s %s %s changed from %s to %s",
        alarm.kind.value,
        alarm.pollutant or "-",
        alarm.item,
        alarm.old,
        alarm.new,
        extra={"device": alarm.mn, "tamper": alarm.kind.value, "datatime": alarm.time},
    )


@dataclass(frozen=True)
class QcConfig:
    """Quality-control settings.

    Attributes:
        ranges: plausible (low, high) by factor code (see :data:`PLAUSIBLE_RANGES`).
        data_cns: command codes of data frames to check (real-time, minute, hour, day).
        suffixes: numeric suffixes turned into readings.
        trend_suffixes: suffixes checked for outliers and gap-filled.
        window: readings in each rolling window.
        min_history: readings a window needs before it judges outliers.
        outlier_threshold: modified z-score (distance to the median over 1.4826 x MAD) above
            which a reading is an outlier.
        relative_floor: smallest spread assumed, as a fraction of the median (flat signals
            have a MAD of zero; analysers hold a value between measurements).
        absolute_floor: smallest spread assumed, as a fraction of the factor's plausible span
            (for medians near zero).
        intervals: reporting step by command code for gap filling; ``None`` learns each
            device's step (the smallest spacing seen, or a larger one seen 3 times running);
            commands not listed are not gap-filled (real-time data).
        max_fill: longest gap, in missing steps, that is filled; longer gaps are only logged.
        detect_factor_changes: alarm when the set of factors of a device's frames changes.
    """

    ranges: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=lambda: dict(PLAUSIBLE_RANGES))
    data_cns: frozenset[str] = frozenset({CN_REALTIME_DATA, CN_MINUTE_DATA, CN_HOUR_DATA, CN_DAY_DATA})
    suffixes: frozenset[str] = NUMERIC_SUFFIXES
    trend_suffixes: frozenset[str] = frozenset({"Rtd", "Avg"})
    window: int = 30
    min_history: int = 10
    outlier_threshold: float = 6.0
    relative_floor: float = 0.05
    absolute_floor: float = 1e-4
    intervals: Mapping[str, timedelta | None] = field(
        default_factory=lambda: {
            CN_MINUTE_DATA: None,
            CN_HOUR_DATA: timedelta(hours=1),
            CN_DAY_DATA: timedelta(days=1),
        }
    )
    max_fill: int = 60
    detect_factor_changes: bool = True

    def __post_init__(self) -> None:
        for code, (low, high) in self.ranges.items():
            if not (low.is_finite() and high.is_finite() and low <= high):
                raise QcConfigError(f"range of {code} is not low <= high")
        if not 1 <= self.min_history <= self.window:
            raise QcConfigError("need 1 <= min_history <= window")
        if not (self.outlier_threshold > 0 and self.relative_floor >= 0 and self.absolute_floor >= 0):
            raise QcConfigError("outlier threshold must be positive and floors non-negative")
        if self.max_fill < 0:
            raise QcConfigError("max_fill must be >= 0")
        for cn, step in self.intervals.items():
            if step is not None and step <= timedelta(0):
                raise QcConfigError(f"interval of CN={cn} must be positive")
        if self.trend_suffixes & _TOTAL_SUFFIXES:
            raise QcConfigError("totals (Cou) cannot be trend suffixes")


@dataclass(slots=True)
class _Track:
    """What QC remembers of one device and command."""

    last: datetime | None = None
    fill: bool = False
    step: timedelta | None = None
    fixed_step: bool = False
    run_spacing: timedelta | None = None
    run_count: int = 0
    # (code, suffix) -> rolling window: values in arrival order, and sorted
    windows: dict[tuple[str, str], tuple[deque[float], list[float]]] = field(default_factory=dict)
    # (code, suffix) -> clean value of the last frame, the left end of an interpolation
    previous: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    factors: frozenset[str] | None = None


_FactorInfo = tuple[str, str, Decimal | None, Decimal | None, float]


def _mad_outlier(ranked: list[float], median: float, distance: float, floor: float, threshold: float) -> bool:
    """Whether ``distance`` from the median exceeds ``threshold`` robust spreads.

    The spread is 1.4826 x the median absolute deviation of the window (``ranked``, sorted),
    but never less than ``floor``.
    """
    n = len(ranked)
    mid = n >> 1
    spread = sorted([abs(v - median) for v in ranked])
    mad = spread[mid] if n & 1 else (spread[mid - 1] + spread[mid]) * 0.5
    return distance > threshold * max(_MAD_SIGMA * mad, floor)


def _units(code: str) -> tuple[str, str]:
    pollutant = POLLUTANTS.get(LEGACY_CODES.get(code, code))
    if pollutant is None:
        return "", ""
    return pollutant.unit, pollutant.total_unit or ""


class QualityControl:
    """Checks data frames and watches devices for tampering (see the module docstring).

    Args:
        config: settings; the defaults when ``None``.
        on_tamper: receives tamper alarms; they are logged when ``None``. Its exceptions are
            logged, never raised.
    """

    def __init__(self, config: QcConfig | None = None, *, on_tamper: TamperNotifier | None = None) -> None:
        self.config = config if config is not None else QcConfig()
        self._on_tamper: TamperNotifier = on_tamper if on_tamper is not None else _log_tamper
        self._tracks: dict[tuple[str, str], _Track] = {}
        c = self.config
        # Per factor code: (unit, total unit, low, high, absolute floor).
        self._factor_cache: dict[str, _FactorInfo] = {}
        self._ranges = {LEGACY_CODES.get(code, code): r for code, r in c.ranges.items()}
        self._suffixes = c.suffixes
        self._trend = c.trend_suffixes
        self._window = c.window
        self._min_history = c.min_history
        self._threshold = c.outlier_threshold
        self._relative_floor = c.relative_floor

    # --- public ---

    def check(self, frame: Frame) -> list[QcReading]:
        """Quality-control one frame.

        Data frames (``data_cns``) give their readings, preceded by any filled readings of a
        gap before them; other frames (parameter uploads included: :mod:`oracle.tamper`
        watches those) give none.

        Args:
            frame: a parsed (and, when split, joined) frame.

        Returns:
            Filled readings of the gap before the frame (oldest first), then the frame's
            readings in frame order.

        Raises:
            MissingDataTimeError: a data frame has no DataTime.
            ReplayedFrameError: its DataTime equals the last accepted one (same device, CN).
            OutOfOrderFrameError: its DataTime is older than the last accepted one.
        """
        cn = frame.cn
        if cn not in self.config.data_cns:
            return []
        when = frame.datatime
        mn = frame.mn
        if when is None:
            raise MissingDataTimeError(f"data frame CN={cn} from {mn} has no DataTime", mn=mn, cn=cn)
        key = (mn, cn)
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = self._new_track(cn)
        last = track.last
        if last is not None and when <= last:
            kind = ReplayedFrameError if when == last else OutOfOrderFrameError
            what = "repeats" if when == last else "is older than"
            raise kind(
                f"DataTime {when:%Y-%m-%d %H:%M:%S} of CN={cn} from {mn} {what} the last accepted",
                mn=mn,
                cn=cn,
                datatime=when,
                last=last,
            )
        values = frame.values
        if self.config.detect_factor_changes:
            self._check_factors(frame, track, values)
        out: list[QcReading] = []
        clean: dict[tuple[str, str], Decimal] = {}
        append = out.append
        suffixes, trend, windows = self._suffixes, self._trend, track.windows
        size, history, threshold, relative = (
            self._window,
            self._min_history,
            self._threshold,
            self._relative_floor,
        )
        for code, items in values.items():
            info = self._factor_cache.get(code)
            if info is None:
                info = self._factor(code)
            unit, total_unit, low, high, absolute_floor = info
            flag_text = items.get("Flag")
            flag_reason: QcReason | None
            if flag_text is None:
                flag = None
                flag_reason = None
            else:
                flag = _FLAGS.get(flag_text)
                flag_reason = None if flag is _NORMAL else _FLAGGED if flag is not None else _UNKNOWN_FLAG
            for suffix, text in items.items():
                if suffix not in suffixes:
                    continue
                try:
                    value = Decimal(text)
                except ArithmeticError:
                    value = _NAN
                if not value.is_finite():
                    append(
                        _reading(mn, cn, when, code, suffix, _NAN, text, unit, flag, _INVALID, _NOT_A_NUMBER)
                    )
                    continue
                status: QcStatus
                reason: QcReason | None
                if suffix in _TOTAL_SUFFIXES:
                    if flag_reason is _UNKNOWN_FLAG:
                        status, reason = _INVALID, flag_reason
                    elif value < 0:
                        status, reason = _INVALID, _NEGATIVE
                    else:
                        status, reason = _MEASURED, flag_reason
                    append(
                        _reading(mn, cn, when, code, suffix, value, text, total_unit, flag, status, reason)
                    )
                    continue
                if flag_reason is _UNKNOWN_FLAG:
                    status, reason = _INVALID, flag_reason
                elif low is not None and value < low:
                    status, reason = _INVALID, _BELOW
                elif high is not None and value > high:
                    status, reason = _INVALID, _ABOVE
                elif flag_reason is not None:
                    status, reason = _MEASURED, flag_reason
                elif suffix in trend:
                    # Rolling robust outlier test, inlined: this is the per-reading hot path.
                    x = float(value)
                    window = windows.get((code, suffix))
                    if window is None:
                        window = windows[code, suffix] = (deque(), [])
                    order, ranked = window
                    n = len(ranked)
                    status, reason = _MEASURED, None
                    if n >= history:
                        mid = n >> 1
                        median = ranked[mid] if n & 1 else (ranked[mid - 1] + ranked[mid]) * 0.5
                        distance = x - median if x > median else median - x
                        floor = relative * (median if median > 0 else -median)
                        if floor < absolute_floor:
                            floor = absolute_floor
                        # The spread is never below the floor, so only values this far from the
                        # median pay for the median absolute deviation.
                        if distance > threshold * floor and _mad_outlier(
                            ranked, median, distance, floor, threshold
                        ):
                            status, reason = _OUTLIER, _OUTLIER_REASON
                    if len(order) == size:
                        del ranked[bisect_left(ranked, order.popleft())]
                    order.append(x)
                    insort(ranked, x)
                    if reason is None:
                        clean[code, suffix] = value
                else:
                    status, reason = _MEASURED, None
                append(_reading(mn, cn, when, code, suffix, value, text, unit, flag, status, reason))
        if last is not None and track.fill:
            spacing = when - last
            if track.step is not None and spacing > track.step and track.previous and clean:
                out[:0] = self._fill(mn, cn, track, last, when, clean)
            if not track.fixed_step:
                self._learn_step(track, spacing)
        track.last = when
        track.previous = clean
        return out

    def set_interval(self, mn: str, cn: str, step: timedelta) -> None:
        """Fix a device's reporting step for a command (e.g. its ``MinInterval``).

        Raises:
            QcConfigError: ``step`` is not positive.
        """
        if step <= timedelta(0):
            raise QcConfigError("a reporting step must be positive")
        track = self._tracks.get((mn, cn))
        if track is None:
            track = self._tracks[mn, cn] = self._new_track(cn)
        track.step, track.fixed_step, track.fill = step, True, self.config.max_fill > 0

    def resume(self, mn: str, cn: str, last: datetime) -> None:
        """Set the last accepted DataTime of a device and command (after a restart, from the
        durable store), so replays of stored frames are refused."""
        track = self._tracks.get((mn, cn))
        if track is None:
            track = self._tracks[mn, cn] = self._new_track(cn)
        if track.last is None or last > track.last:
            track.last = last

    def last_time(self, mn: str, cn: str) -> datetime | None:
        """The last accepted DataTime of a device and command, ``None`` if none yet."""
        track = self._tracks.get((mn, cn))
        return None if track is None else track.last

    # --- internals ---

    def _new_track(self, cn: str) -> _Track:
        intervals = self.config.intervals
        step = intervals.get(cn)
        return _Track(
            fill=cn in intervals and self.config.max_fill > 0, step=step, fixed_step=step is not None
        )

    def _factor(self, code: str) -> _FactorInfo:
        unit, total_unit = _units(code)
        bounds = self._ranges.get(LEGACY_CODES.get(code, code))
        if bounds is None:
            low = high = None
            span = 0.0
        else:
            low, high = bounds
            span = float(high - low)
        floor = max(span * self.config.absolute_floor, 1e-9)
        info = (unit, total_unit, low, high, floor)
        if len(self._factor_cache) < 4096:  # codes come from the wire: bound the cache
            self._factor_cache[code] = info
        return info

    def _fill(
        self,
        mn: str,
        cn: str,
        track: _Track,
        last: datetime,
        when: datetime,
        clean: dict[tuple[str, str], Decimal],
    ) -> list[QcReading]:
        step = track.step
        assert step is not None
        spacing = when - last
        missing = round(spacing / step) - 1
        if missing <= 0:
            return []
        if missing > self.config.max_fill:
            logger.warning(
                "gap of %d missing frames not filled (limit %d)",
                missing,
                self.config.max_fill,
                extra={"device": mn, "cn": cn, "datatime": when},
            )
            return []
        pairs = [(key, track.previous[key], value) for key, value in clean.items() if key in track.previous]
        total = Decimal(spacing // timedelta(microseconds=1))
        filled: list[QcReading] = []
        for k in range(1, missing + 1):
            at = last + step * k
            if at >= when:
                break
            share = Decimal((at - last) // timedelta(microseconds=1)) / total
            for (code, suffix), left, right in pairs:
                exponent = min(left.as_tuple().exponent, right.as_tuple().exponent)
                assert isinstance(exponent, int)
                value = (left + (right - left) * share).quantize(Decimal(1).scaleb(exponent))
                unit = (self._factor_cache.get(code) or self._factor(code))[0]
                filled.append(
                    QcReading(
                        mn,
                        cn,
                        at,
                        code,
                        suffix,
                        value,
                        format(value, "f"),
                        unit,
                        None,
                        QcStatus.FILLED,
                        QcReason.INTERPOLATED,
                    )
                )
        if filled:
            logger.info(
                "filled %d missing frames by interpolation",
                missing,
                extra={"device": mn, "cn": cn, "datatime": when},
            )
        return filled

    @staticmethod
    def _learn_step(track: _Track, spacing: timedelta) -> None:
        step = track.step
        if step is None or spacing < step:
            track.step, track.run_spacing, track.run_count = spacing, None, 0
        elif spacing > step:
            if spacing == track.run_spacing:
                track.run_count += 1
            else:
                track.run_spacing, track.run_count = spacing, 1
            if track.run_count >= 3:  # the device's cadence changed: adopt it
                track.step, track.run_spacing, track.run_count = spacing, None, 0
        else:
            track.run_spacing, track.run_count = None, 0

    def _check_factors(self, frame: Frame, track: _Track, values: Mapping[str, object]) -> None:
        factors = track.factors
        if factors is not None and len(factors) == len(values) and all(code in factors for code in values):
            return
        current = frozenset(values)
        track.factors = current
        if factors is not None:
            self._raise(
                TamperAlarm(
                    frame.mn,
                    frame.datatime,
                    TamperKind.FACTORS_CHANGED,
                    None,
                    "factors",
                    ",".join(sorted(factors)),
                    ",".join(sorted(current)),
                    frame.cn,
                )
            )

    def _raise(self, alarm: TamperAlarm) -> None:
        try:
            self._on_tamper(alarm)
        except Exception:
            logger.exception("tamper notification failed", extra={"device": alarm.mn})
