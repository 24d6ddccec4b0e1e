"""Virtual card-swipe total-amount controllers: realistic HJ 212-2017 minute data over a PTY or TCP.

A :class:`VirtualController` plays the data-acquisition unit (DAU) of one monitoring point:

* **Minute data** (CN=2051), one frame per simulated minute, with 8 factors per site kind
  (:data:`PROFILES`): ``Cou``, ``Min``, ``Avg``, ``Max`` and ``Flag`` for each, as fixed-decimal
  text. ``Cou`` is the minute's total: the flow volume in m³ for the flow factor, and for every
  factor whose total is in kg, the rounded product of the reported ``Avg`` and that volume
  (mg/L x m³ / 1000 for wastewater, mg/m³ x m³ / 10⁶ for flue gas), so a quota controller
  integrating ``Cou`` sees the totals the concentrations imply.
* A **daily cycle**: production load follows the time of day (low at night, a morning ramp,
  a working-day plateau with a lunch dip, an evening decline, lighter weekends) plus a slow
  random drift; flows and concentrations follow the load, with noise.
* Rare **faults**, at ``fault_rate`` events per minute: stretches of instrument fault
  (Flag ``D``, reads zero), maintenance (``M``, holds its last value) or calibration (``C``,
  reads the span standard) on one analyser; a one-minute outlier spike; a few missed minutes
  (a gap in DataTime).
* A **card swipe** (:data:`~oracle.hj212.CN_CARD_SWIPE`, ``DataTime`` + ``CardId``) before the
  first minute frame of each calendar month, the very first frame included, when the
  controller has a card.

Everything is deterministic for a seed (one :class:`random.Random`), and time is simulated:
DataTime and QN come from the controller's clock, never from the wall clock.

:class:`StoreAndForward` is the DAU's upload loop: every frame asks for a data answer
(``Flag=5``), is resent each ``ack_timeout`` until the CN=9014 answer naming its QN arrives,
and the next frame waits until then. Links are a pseudo-terminal (:class:`PtyLink`, for a
gateway's :class:`~oracle.transport.SerialFrameReader`) or a TCP connection to the platform
port (:class:`TcpLink`, for :class:`~oracle.transport.TcpFrameServer`; reconnects with a
backoff). :class:`Simulation` runs many controllers, one thread each (:func:`run_on_pty`,
:func:`run_over_tcp`).

The ``PW=`` password travels in every frame; it is never logged here.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import random
import select
import socket
import threading
import time
import tty
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from itertools import pairwise
from types import TracebackType
from typing import Final, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field

from oracle.errors import FrameError, OracleError
from oracle.hj212 import (
    CN_CARD_SWIPE,
    CN_DATA_ANSWER,
    CN_MINUTE_DATA,
    FLAG_ACK,
    POLLUTANTS,
    VERSION_2017,
    DataFlag,
    Frame,
    FrameScanner,
    encode,
    parse,
)
from oracle.qc import PLAUSIBLE_RANGES

__all__ = [
    "FRAME_FLAG",
    "PROFILES",
    "ControllerStats",
    "DeviceLink",
    "FactorModel",
    "LinkSettings",
    "PtyLink",
    "Simulation",
    "SimulationStateError",
    "SimulatorConfigError",
    "SiteKind",
    "SiteProfile",
    "StoreAndForward",
    "TcpLink",
    "VirtualController",
    "card_id",
    "daily_load",
    "device_mn",
    "device_password",
    "fleet",
    "run_on_pty",
    "run_over_tcp",
]

logger = logging.getLogger(__name__)


class SimulatorConfigError(OracleError, ValueError):
    """Raised when a virtual controller or simulation is set up wrongly (MN, scale, rate, start)."""


class SimulationStateError(OracleError, RuntimeError):
    """Raised when a simulation is started twice or after it was stopped."""


#: Flag of every uploaded frame: HJ 212-2017 version bits, answer required (``Flag=5``).
FRAME_FLAG: Final = (VERSION_2017 << 2) | FLAG_ACK

_MINUTE: Final = timedelta(minutes=1)
_MAX_MN_LEN: Final = 24


# --- site profiles --------------------------------------------------------------------------


class SiteKind(StrEnum):
    """What a monitoring point measures."""

    WASTEWATER = "wastewater"
    FLUE_GAS = "flue_gas"


@dataclass(frozen=True, slots=True)
class FactorModel:
    """How one factor's minute values are made.

    The level is linear in the production load: ``idle`` at load 0, ``full`` at load 1. Each
    minute's ``Avg`` is the level times ``1 + drift + noise`` (drift is a slow AR(1) process),
    clamped to the factor's range in :data:`~oracle.qc.PLAUSIBLE_RANGES`.

    Attributes:
        code: HJ 212-2017 factor code (a key of :data:`~oracle.hj212.POLLUTANTS`).
        idle: level at zero load, in the factor's unit.
        full: level at full load.
        decimals: decimals of ``Avg``/``Min``/``Max``.
        noise: relative standard deviation of the minute-to-minute noise.
        drift: relative standard deviation of each step of the slow drift.
        spread: largest relative distance of ``Min``/``Max`` from ``Avg``.
        spike: size of an outlier spike, added to the level, as a multiple of ``full``.
        span: the calibration standard an analyser reads while calibrating; ``None`` for
            factors that are not analysers (flows, temperatures), which get no D/M/C stretches.
        scaled: whether the controller's ``scale`` multiplies the level (flows).
    """

    code: str
    idle: float
    full: float
    decimals: int
    noise: float
    drift: float
    spread: float
    spike: float
    span: float | None = None
    scaled: bool = False


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """The factors of one site kind, the flow first.

    Attributes:
        kind: the site kind.
        st: HJ 212 system code of its uploads (``32`` water source, ``31`` air source).
        factors: the 8 factor models, the flow factor first.
        volume_decimals: decimals of the flow's ``Cou`` (m³ per minute).
        kg_per_unit: divisor from concentration x m³ to kg (1000 for mg/L, 10⁶ for mg/m³).
        m3_per_flow_second: m³ per unit of flow per second (0.001 for L/s, 1 for m³/s).
    """

    kind: SiteKind
    st: str
    factors: tuple[FactorModel, ...]
    volume_decimals: int
    kg_per_unit: int
    m3_per_flow_second: Decimal

    @property
    def flow(self) -> FactorModel:
        """The flow factor (``w00000`` or ``a00000``)."""
        return self.factors[0]


#: Decimals of the kg totals (milligram resolution).
_KG_DECIMALS: Final = 6

#: The factors of each site kind: a medium factory's outfall and a boiler stack at scale 1.
PROFILES: Final[Mapping[SiteKind, SiteProfile]] = {
    SiteKind.WASTEWATER: SiteProfile(
        kind=SiteKind.WASTEWATER,
        st="32",
        factors=(
            FactorModel("w00000", 0.0, 20.0, 2, 0.04, 0.010, 0.10, 2.0, scaled=True),  # flow, L/s
            FactorModel("w01018", 45.0, 85.0, 2, 0.04, 0.010, 0.06, 5.0, span=200.0),  # COD
            FactorModel("w21003", 3.0, 6.5, 3, 0.05, 0.010, 0.06, 5.0, span=10.0),  # NH3-N
            FactorModel("w21011", 0.30, 0.65, 3, 0.05, 0.010, 0.06, 5.0, span=2.0),  # TP
            FactorModel("w21001", 9.0, 16.0, 2, 0.04, 0.010, 0.05, 4.0, span=20.0),  # TN
            FactorModel("w01001", 7.05, 7.45, 2, 0.004, 0.002, 0.01, 0.4, span=9.18),  # pH
            FactorModel("w01010", 17.0, 27.0, 1, 0.005, 0.002, 0.01, 1.0),  # water temperature
            FactorModel("w01012", 18.0, 35.0, 2, 0.06, 0.010, 0.08, 6.0, span=100.0),  # SS
        ),
        volume_decimals=4,
        kg_per_unit=1_000,
        m3_per_flow_second=Decimal("0.001"),
    ),
    SiteKind.FLUE_GAS: SiteProfile(
        kind=SiteKind.FLUE_GAS,
        st="31",
        factors=(
            FactorModel("a00000", 0.0, 40.0, 2, 0.03, 0.010, 0.08, 1.5, scaled=True),  # flow, m³/s
            FactorModel("a21026", 18.0, 38.0, 2, 0.05, 0.010, 0.08, 6.0, span=100.0),  # SO2
            FactorModel("a21002", 45.0, 85.0, 2, 0.04, 0.010, 0.06, 4.0, span=200.0),  # NOx
            FactorModel("a34013", 3.0, 8.0, 2, 0.06, 0.010, 0.10, 8.0, span=30.0),  # particulates
            FactorModel("a19001", 14.0, 6.0, 2, 0.01, 0.004, 0.03, 0.6, span=20.9),  # O2, %
            FactorModel("a01012", 55.0, 135.0, 1, 0.005, 0.002, 0.02, 0.5),  # flue gas temperature
            FactorModel("a01014", 7.0, 11.0, 2, 0.02, 0.005, 0.04, 0.8),  # flue gas humidity, %
            FactorModel("a05001", 120_000.0, 260_000.0, 1, 0.01, 0.004, 0.02, 0.8, span=196_400.0),  # CO2
        ),
        volume_decimals=2,
        kg_per_unit=1_000_000,
        m3_per_flow_second=Decimal(1),
    ),
}

#: Production load by hour of the day (linear in between): night, ramp, plateau, lunch, evening.
_LOAD_CURVE: Final = (
    (0.0, 0.30),
    (5.5, 0.28),
    (6.5, 0.45),
    (8.0, 0.95),
    (11.5, 1.00),
    (12.0, 0.85),
    (13.0, 0.85),
    (13.5, 1.00),
    (17.5, 0.98),
    (19.0, 0.70),
    (22.0, 0.40),
    (24.0, 0.30),
)
#: Load factor on Saturdays and Sundays.
_WEEKEND_LOAD: Final = 0.7


def daily_load(when: datetime) -> float:
    """Production load (about 0.3 at night, 1.0 in the working day) at a local time, no noise.

    Args:
        when: the simulated local time.

    Returns:
        The load, a fraction of full production.
    """
    hour = when.hour + when.minute / 60 + when.second / 3600
    load = _LOAD_CURVE[-1][1]
    for (h0, l0), (h1, l1) in pairwise(_LOAD_CURVE):
        if h0 <= hour < h1:
            load = l0 + (l1 - l0) * (hour - h0) / (h1 - h0)
            break
    return load * (_WEEKEND_LOAD if when.weekday() >= 5 else 1.0)


# --- identities -----------------------------------------------------------------------------

#: Administrative division prefix of the simulated MN codes (Taizhou, Zhejiang).
_MN_REGION: Final = "331002"


def device_mn(index: int, *, region: str = _MN_REGION) -> str:
    """A realistic MN code: the 6-digit region code and a zero-padded 8-digit device number.

    Args:
        index: device number, 0 .. 99,999,999.
        region: administrative division code.

    Returns:
        A 14-digit MN (HJ 212 allows up to 24 characters).

    Raises:
        SimulatorConfigError: the index or region is out of range.
    """
    if not 0 <= index < 10**8 or not region.isdigit() or len(region) + 8 > _MAX_MN_LEN:
        raise SimulatorConfigError(f"no MN for device {index} in region {region[:16]!r}")
    return f"{region}{index:08d}"


def device_password(index: int) -> str:
    """The simulated device ``index``'s HJ 212 access password (``PW``), its own per device.

    Derived from a public seed: demo and simulation only, never for real controllers.
    """
    return hashlib.sha256(b"ets-demo-device-password-%d" % index).hexdigest()[:12]


def card_id(index: int) -> str:
    """The IC card id bound to device ``index``'s enterprise (``TZIC`` + 8 digits).

    Raises:
        SimulatorConfigError: the index is out of range.
    """
    if not 0 <= index < 10**8:
        raise SimulatorConfigError(f"no card id for device {index}")
    return f"TZIC{index:08d}"


# --- the virtual controller -----------------------------------------------------------------


class _Event(StrEnum):
    FAULT = "fault"
    MAINTENANCE = "maintenance"
    CALIBRATION = "calibration"
    SPIKE = "spike"
    GAP = "gap"


_EVENTS: Final = tuple(_Event)
_EVENT_WEIGHTS: Final = (3, 2, 2, 3, 2)
_STRETCH_FLAGS: Final = {
    _Event.FAULT: DataFlag.FAULT,
    _Event.MAINTENANCE: DataFlag.MAINTENANCE,
    _Event.CALIBRATION: DataFlag.CALIBRATION,
}
#: Length of each kind of stretch, in minutes (low, high).
_STRETCH_MINUTES: Final = {
    _Event.FAULT: (5, 45),
    _Event.MAINTENANCE: (15, 60),
    _Event.CALIBRATION: (5, 15),
}
_GAP_MINUTES: Final = (1, 3)
_DEFAULT_FAULT_RATE: Final = 0.002


def _quantum(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


@dataclass(slots=True)
class _Stretch:
    flag: DataFlag
    left: int
    held: float


class VirtualController:
    """One simulated card-swipe total-amount controller (the DAU of one monitoring point).

    Not thread-safe: one thread draws its frames (a :class:`StoreAndForward` guards it).

    Args:
        mn: device code (MN), at most 24 characters.
        kind: what the site measures.
        start: DataTime of the first minute frame, naive local time (seconds are dropped).
        seed: seed of the controller's random generator; same seed, same frames.
        password: access password sent as ``PW``.
        card_id: the enterprise's IC card; ``None`` sends no card swipes.
        scale: multiplier of the site's flow (its size).
        fault_rate: probability per minute that a fault, maintenance, calibration, spike or
            gap event starts (0 for clean data).
        st: system code; the site kind's (``32``/``31``) when ``None``.

    Raises:
        SimulatorConfigError: a bad MN, password, card id, scale, rate or start time.
    """

    def __init__(
        self,
        mn: str,
        kind: SiteKind,
        *,
        start: datetime,
        seed: int,
        password: str = "123456",
        card_id: str | None = None,
        scale: float = 1.0,
        fault_rate: float = _DEFAULT_FAULT_RATE,
        st: str | None = None,
    ) -> None:
        if not mn or len(mn) > _MAX_MN_LEN or not mn.isalnum() or not mn.isascii():
            raise SimulatorConfigError(f"MN {mn[:32]!r} is not 1..24 ASCII letters and digits")
        if not password or not password.isascii() or any(c in password for c in ";=&,"):
            raise SimulatorConfigError("password is empty or holds separators")
        if card_id is not None and (not card_id.isascii() or not card_id.isalnum()):
            raise SimulatorConfigError(f"card id {card_id[:32]!r} is not ASCII letters and digits")
        if not (math.isfinite(scale) and scale > 0):
            raise SimulatorConfigError(f"scale {scale!r} is not a positive number")
        if not 0.0 <= fault_rate <= 1.0:
            raise SimulatorConfigError(f"fault rate {fault_rate!r} is not within 0..1")
        if start.tzinfo is not None:
            raise SimulatorConfigError("start must be a naive local time, as HJ 212 DataTime is")
        self.mn = mn
        self.kind = kind
        self.profile = PROFILES[kind]
        self.card_id = card_id
        self.scale = scale
        self.fault_rate = fault_rate
        self.st = st if st is not None else self.profile.st
        self._password = password
        self._rng = random.Random(seed)
        self._clock = start.replace(second=0, microsecond=0)
        self._last_datatime: datetime | None = None
        self._last_qn_time: datetime | None = None
        self._swiped_month: tuple[int, int] | None = None
        self._outbox: deque[str] = deque()
        self._load_drift = 0.0
        self._drift = {m.code: 0.0 for m in self.profile.factors}
        self._last = {m.code: m.idle for m in self.profile.factors}
        self._stretches: dict[str, _Stretch] = {}
        self._ranges = {
            m.code: (float(PLAUSIBLE_RANGES[m.code][0]), float(PLAUSIBLE_RANGES[m.code][1]))
            for m in self.profile.factors
        }
        self._analysers = tuple(m.code for m in self.profile.factors if m.span is not None)
        self._kg_codes = frozenset(
            m.code for m in self.profile.factors if POLLUTANTS[m.code].total_unit == "kg"
        )
        self.emitted = 0
        self.minute_frames = 0
        self.card_swipes = 0
        self.missed_minutes = 0
        self.events: Counter[str] = Counter()
        self.flagged: Counter[DataFlag] = Counter()
        self._totals: dict[str, Decimal] = {
            m.code: Decimal(0) for m in self.profile.factors if POLLUTANTS[m.code].total_unit
        }

    def __repr__(self) -> str:
        clock = f"{self._clock:%Y-%m-%d %H:%M}"
        return f"VirtualController(mn={self.mn!r}, kind={self.kind.value!r}, clock={clock})"

    # --- what it emitted ---

    @property
    def clock(self) -> datetime:
        """DataTime of the next minute slot (the simulated clock)."""
        return self._clock

    @property
    def last_datatime(self) -> datetime | None:
        """DataTime of the last minute frame built, ``None`` before the first."""
        return self._last_datatime

    @property
    def totals(self) -> dict[str, Decimal]:
        """Sum of the ``Cou`` values built so far, by factor code (m³ for flows, kg otherwise)."""
        return dict(self._totals)

    @property
    def pending(self) -> int:
        """Frames built but not yet handed out (a minute frame behind its card swipe)."""
        return len(self._outbox)

    # --- frames ---

    def next_frame(self) -> str:
        """The next frame as wire text: a card swipe when one is due, else a minute frame.

        Returns:
            A complete frame ending in CR LF.
        """
        if not self._outbox:
            self._build_minute()
        self.emitted += 1
        return self._outbox.popleft()

    def frames(self, count: int) -> Iterator[str]:
        """The next ``count`` minute frames, each preceded by the card swipe due before it.

        Args:
            count: minute frames to emit.

        Yields:
            Each frame as wire text.
        """
        target = self.minute_frames + count
        while self._outbox or self.minute_frames < target:
            yield self.next_frame()

    # --- building ---

    def _build_minute(self) -> None:
        rng = self._rng
        events: list[tuple[_Event, str | None]] = []
        if self._last_datatime is not None and rng.random() < self.fault_rate:
            event = rng.choices(_EVENTS, _EVENT_WEIGHTS)[0]
            if event is _Event.GAP:
                missed = rng.randint(*_GAP_MINUTES)
                self._clock += missed * _MINUTE
                self.missed_minutes += missed
                self.events[event.value] += 1
                logger.debug("missed %d minutes", missed, extra={"device": self.mn, "datatime": self._clock})
            else:
                code = rng.choice(self._analysers)
                events.append((event, code))
        when = self._clock
        month = (when.year, when.month)
        if self.card_id is not None and month != self._swiped_month:
            self._swiped_month = month
            self._outbox.append(self._card_swipe(when + timedelta(seconds=rng.randint(0, 50))))
        self._outbox.append(self._minute_frame(when, events))
        self._last_datatime = when
        self._clock = when + _MINUTE

    def _qn(self, at: datetime) -> str:
        # QN is the send time; strictly increasing, so unique per device.
        if self._last_qn_time is not None and at <= self._last_qn_time:
            at = self._last_qn_time + timedelta(milliseconds=1)
        self._last_qn_time = at
        return f"{at:%Y%m%d%H%M%S}{at.microsecond // 1000:03d}"

    def _card_swipe(self, at: datetime) -> str:
        assert self.card_id is not None
        self.card_swipes += 1
        logger.info("card swiped", extra={"device": self.mn, "card": self.card_id, "datatime": at})
        return encode(
            qn=self._qn(at + timedelta(milliseconds=self._rng.randint(100, 900))),
            st=self.st,
            cn=CN_CARD_SWIPE,
            pw=self._password,
            mn=self.mn,
            flag=FRAME_FLAG,
            datatime=at,
            extras={"CardId": self.card_id},
        )

    def _minute_frame(self, when: datetime, events: list[tuple[_Event, str | None]]) -> str:
        rng = self._rng
        spiked: str | None = None
        for event, code in events:
            assert code is not None
            self.events[event.value] += 1
            if event is _Event.SPIKE:
                spiked = code
            elif code not in self._stretches:
                shortest, longest = _STRETCH_MINUTES[event]
                minutes = rng.randint(shortest, longest)
                self._stretches[code] = _Stretch(_STRETCH_FLAGS[event], minutes, self._last[code])
                logger.debug(
                    "instrument %s starts", event.value, extra={"device": self.mn, "pollutant": code}
                )
        self._load_drift = 0.97 * self._load_drift + rng.gauss(0.0, 0.012)
        load = min(max(daily_load(when) * (1.0 + self._load_drift), 0.05), 1.2)
        profile = self.profile
        values: dict[str, dict[str, str]] = {}
        volume = Decimal(0)
        for model in profile.factors:
            code = model.code
            avg, low, high, flag = self._reading(model, load, spike=code == spiked)
            items: dict[str, str] = {}
            if code == profile.flow.code:
                volume = (avg * 60 * profile.m3_per_flow_second).quantize(_quantum(profile.volume_decimals))
                items["Cou"] = format(volume, "f")
                self._totals[code] += volume
            elif code in self._kg_codes:
                kg = (avg * volume / profile.kg_per_unit).quantize(_quantum(_KG_DECIMALS), ROUND_HALF_EVEN)
                items["Cou"] = format(kg, "f")
                self._totals[code] += kg
            items["Min"] = format(low, "f")
            items["Avg"] = format(avg, "f")
            items["Max"] = format(high, "f")
            items["Flag"] = flag.value
            if flag is not DataFlag.NORMAL:
                self.flagged[flag] += 1
            values[code] = items
        self.minute_frames += 1
        sent = when + _MINUTE + timedelta(milliseconds=rng.randint(1_000, 9_999))
        return encode(
            qn=self._qn(sent),
            st=self.st,
            cn=CN_MINUTE_DATA,
            pw=self._password,
            mn=self.mn,
            flag=FRAME_FLAG,
            datatime=when,
            values=values,
        )

    def _reading(
        self, model: FactorModel, load: float, *, spike: bool
    ) -> tuple[Decimal, Decimal, Decimal, DataFlag]:
        """One factor's Avg, Min, Max and flag for a minute at ``load``."""
        rng = self._rng
        code = model.code
        lo, hi = self._ranges[code]
        drift = self._drift[code] = 0.95 * self._drift[code] + rng.gauss(0.0, model.drift)
        level = model.idle + (model.full - model.idle) * load
        if model.scaled:
            level *= self.scale
        value = level * (1.0 + drift + rng.gauss(0.0, model.noise))
        u_low, u_high = rng.uniform(0.2, 1.0), rng.uniform(0.2, 1.0)
        flag = DataFlag.NORMAL
        stretch = self._stretches.get(code)
        if stretch is not None:
            flag = stretch.flag
            if flag is DataFlag.FAULT:
                value = 0.0
            elif flag is DataFlag.CALIBRATION:
                assert model.span is not None
                value = model.span
            else:
                value = stretch.held
            stretch.left -= 1
            if stretch.left <= 0:
                del self._stretches[code]
        elif spike:
            value = level + model.spike * model.full * (self.scale if model.scaled else 1.0)
        q = _quantum(model.decimals)
        value = min(max(value, lo), hi)
        avg = Decimal(value).quantize(q, ROUND_HALF_EVEN)
        if flag is DataFlag.NORMAL:
            self._last[code] = value
            low_v = min(max(value * (1.0 - model.spread * u_low), lo), hi)
            high_v = min(max(value * (1.0 + model.spread * u_high), lo), hi)
            low = min(Decimal(low_v).quantize(q, ROUND_FLOOR), avg)
            high = max(Decimal(high_v).quantize(q, ROUND_CEILING), avg)
        else:
            low = high = avg
        return avg, low, high, flag


def fleet(
    count: int,
    *,
    start: datetime,
    seed: int,
    kinds: Sequence[SiteKind] = (SiteKind.WASTEWATER, SiteKind.FLUE_GAS),
    password: str | None = None,
    fault_rate: float = _DEFAULT_FAULT_RATE,
    first_index: int = 1,
) -> list[VirtualController]:
    """``count`` controllers with realistic MNs and cards, site kinds in turn, seeds ``seed + i``.

    Args:
        count: controllers to make.
        start: DataTime of every controller's first minute frame.
        seed: seed of the first controller; the i-th gets ``seed + i``.
        kinds: site kinds, cycled.
        password: access password of every controller; ``None`` gives each its own
            (:func:`device_password` of its device number), as the site file says.
        fault_rate: fault rate of every controller.
        first_index: device number of the first controller (for :func:`device_mn`).

    Returns:
        The controllers, in device-number order.

    Raises:
        SimulatorConfigError: no kinds, or a device number out of range.
    """
    if not kinds:
        raise SimulatorConfigError("a fleet needs at least one site kind")
    return [
        VirtualController(
            device_mn(first_index + i),
            kinds[i % len(kinds)],
            start=start,
            seed=seed + i,
            password=device_password(first_index + i) if password is None else password,
            card_id=card_id(first_index + i),
            scale=0.5 + (seed + i) % 7 / 4,
            fault_rate=fault_rate,
        )
        for i in range(count)
    ]


# --- links ----------------------------------------------------------------------------------


class DeviceLink(Protocol):
    """The controller's end of a serial line or TCP connection."""

    @property
    def name(self) -> str:
        """A label for logs (a device path, ``host:port``); never holds secrets."""
        ...

    @property
    def connected(self) -> bool:
        """Whether :meth:`send` may be tried now."""
        ...

    def connect(self) -> None:
        """Open the link; raises :class:`OSError` when it cannot."""
        ...

    def send(self, data: bytes, timeout: float) -> None:
        """Write all of ``data`` within ``timeout`` seconds; raises :class:`OSError` otherwise."""
        ...

    def receive(self, timeout: float) -> bytes:
        """Bytes read within ``timeout`` seconds (``b""`` when none); raises :class:`OSError`."""
        ...

    def disconnect(self) -> None:
        """Drop the connection after a failure (a later :meth:`connect` reopens it)."""
        ...

    def close(self) -> None:
        """Release the link for good."""
        ...


class PtyLink:
    """A pseudo-terminal pair: the controller writes on the master, a gateway opens :attr:`path`.

    Both ends are in raw mode. The slave end stays open here too, so the line does not hang
    up while no gateway has it open; bytes written then wait in the terminal's buffer (and
    are flushed by a reader that resets its input when it opens: the resends cover that).

    Raises:
        OSError: no pseudo-terminal is available.
    """

    def __init__(self) -> None:
        master, slave = os.openpty()
        try:
            tty.setraw(master)
            tty.setraw(slave)
            os.set_blocking(master, False)
            self.path = os.ttyname(slave)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master: int | None = master
        self._slave: int | None = slave

    @property
    def name(self) -> str:
        """The slave device path."""
        return self.path

    @property
    def connected(self) -> bool:
        """Whether the pair is open."""
        return self._master is not None

    def connect(self) -> None:
        """Nothing to do: the pair is open from the start.

        Raises:
            OSError: the link was closed.
        """
        if self._master is None:
            raise OSError(f"pseudo-terminal {self.path} is closed")

    def send(self, data: bytes, timeout: float) -> None:
        """Write ``data`` on the master within ``timeout`` seconds.

        Raises:
            TimeoutError: the terminal's buffer stayed full (nobody reads the slave).
            OSError: the link is closed or the write failed.
        """
        fd = self._fd()
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(fd, view) :]
            if view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"pseudo-terminal {self.path} takes no more bytes")
                select.select([], [fd], [], min(left, 0.05))

    def receive(self, timeout: float) -> bytes:
        """Bytes the gateway wrote on the slave within ``timeout`` seconds."""
        fd = self._fd()
        if not select.select([fd], [], [], max(timeout, 0.0))[0]:
            return b""
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return b""

    def disconnect(self) -> None:
        """Nothing to drop: a terminal stays open."""

    def close(self) -> None:
        """Close both ends; safe to call twice."""
        master, slave, self._master, self._slave = self._master, self._slave, None, None
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)

    def _fd(self) -> int:
        if self._master is None:
            raise OSError(f"pseudo-terminal {self.path} is closed")
        return self._master


class TcpLink:
    """A TCP connection to the platform port (a gateway's :class:`~oracle.transport.TcpFrameServer`).

    Args:
        host: platform host.
        port: platform port.
        connect_timeout: seconds a connection attempt may take.
    """

    def __init__(self, host: str, port: int, *, connect_timeout: float = 2.0) -> None:
        self.host = host
        self.port = port
        self._connect_timeout = connect_timeout
        self._sock: socket.socket | None = None

    @property
    def name(self) -> str:
        """``host:port`` of the platform."""
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        """Whether a connection is open."""
        return self._sock is not None

    def connect(self) -> None:
        """Connect unless connected.

        Raises:
            OSError: the platform refused or did not answer.
        """
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock

    def send(self, data: bytes, timeout: float) -> None:
        """Write all of ``data`` within ``timeout`` seconds.

        Raises:
            OSError: not connected, or the connection failed or stalled.
        """
        sock = self._connected_socket()
        sock.settimeout(timeout)
        sock.sendall(data)

    def receive(self, timeout: float) -> bytes:
        """Bytes the platform sent within ``timeout`` seconds.

        Raises:
            ConnectionResetError: the platform closed the connection.
            OSError: not connected, or the connection failed.
        """
        sock = self._connected_socket()
        if not select.select([sock], [], [], max(timeout, 0.0))[0]:
            return b""
        sock.settimeout(0.0)
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return b""
        if not data:
            raise ConnectionResetError(f"platform {self.name} closed the connection")
        return data

    def disconnect(self) -> None:
        """Close the connection (a later :meth:`connect` opens a new one)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self.disconnect()

    def _connected_socket(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionError(f"not connected to {self.name}")
        return self._sock


# --- store and forward ----------------------------------------------------------------------


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


# --- many controllers -----------------------------------------------------------------------


class Simulation:
    """Runs controllers in background threads, one each, every one on its own link.

    Use as a context manager or call :meth:`start`, :meth:`join` and :meth:`stop`. The links
    stay open until :meth:`stop` (a gateway may still be reading them after the last frame).

    Args:
        controllers: the controllers.
        links: one link per controller, in the same order; closed by :meth:`stop`.
        frames: minute frames each controller sends.
        interval: real seconds between minute frames (0: as fast as answers allow).
        settings: upload timeouts and retries.

    Raises:
        SimulatorConfigError: the counts of controllers and links differ, a negative frame
            count or interval, or two controllers share an MN.
    """

    def __init__(
        self,
        controllers: Sequence[VirtualController],
        links: Sequence[DeviceLink],
        *,
        frames: int,
        interval: float = 0.0,
        settings: LinkSettings | None = None,
    ) -> None:
        if len(controllers) != len(links):
            raise SimulatorConfigError(f"{len(controllers)} controllers but {len(links)} links")
        if frames < 0 or not interval >= 0:
            raise SimulatorConfigError("frame count and interval must not be negative")
        if len({c.mn for c in controllers}) != len(controllers):
            raise SimulatorConfigError("two controllers share an MN")
        self.frames = frames
        self.interval = interval
        self._stop = threading.Event()
        self._senders = [
            StoreAndForward(controller, link, settings, stop=self._stop)
            for controller, link in zip(controllers, links, strict=True)
        ]
        self._threads: list[threading.Thread] = []
        self._errors: dict[str, BaseException] = {}
        self._errors_lock = threading.Lock()
        self._started = False
        self._closed = False

    @property
    def controllers(self) -> list[VirtualController]:
        """The controllers, in order."""
        return [s.controller for s in self._senders]

    @property
    def links(self) -> list[DeviceLink]:
        """The links, in controller order."""
        return [s.link for s in self._senders]

    @property
    def ports(self) -> list[str]:
        """Slave device paths of the pseudo-terminal links, in controller order."""
        return [s.link.path for s in self._senders if isinstance(s.link, PtyLink)]

    @property
    def done(self) -> bool:
        """Whether every controller sent all its frames."""
        return self._started and all(s.snapshot().done for s in self._senders)

    @property
    def errors(self) -> dict[str, BaseException]:
        """Unexpected errors that ended a controller's thread, by MN."""
        with self._errors_lock:
            return dict(self._errors)

    def start(self) -> None:
        """Start one thread per controller.

        Raises:
            SimulationStateError: started before, or stopped.
        """
        if self._started or self._closed:
            raise SimulationStateError("simulation was already started or stopped")
        self._started = True
        for sender in self._senders:
            thread = threading.Thread(
                target=self._run, args=(sender,), name=f"hj212-sim-{sender.controller.mn}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        logger.info("simulation started with %d controllers", len(self._senders))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every controller is done (or stopped).

        Args:
            timeout: seconds to wait in all; ``None`` waits for ever.

        Returns:
            ``True`` when every thread ended.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every controller, join the threads and close the links; safe to call twice.

        Args:
            timeout: seconds to wait for the threads in all.
        """
        self._stop.set()
        if not self.join(timeout):
            logger.error("simulation threads did not stop within %.1f s", timeout)
        if not self._closed:
            self._closed = True
            for sender in self._senders:
                try:
                    sender.link.close()
                except OSError:
                    logger.debug("error closing %s", sender.link.name, exc_info=True)

    def stats(self) -> dict[str, ControllerStats]:
        """A consistent copy of each controller's counters, by MN."""
        return {s.controller.mn: s.snapshot() for s in self._senders}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, sender: StoreAndForward) -> None:
        mn = sender.controller.mn
        try:
            sender.run(self.frames, interval=self.interval)
        except Exception as error:
            with self._errors_lock:
                self._errors[mn] = error
            logger.exception("controller stopped by an error", extra={"device": mn})


def run_on_pty(
    controllers: Sequence[VirtualController],
    *,
    frames: int,
    interval: float = 0.0,
    settings: LinkSettings | None = None,
    start: bool = True,
) -> Simulation:
    """Give each controller a pseudo-terminal and (unless ``start=False``) start sending.

    A gateway opens each path of :attr:`Simulation.ports` with
    ``SerialFrameReader(SerialSettings(port=path), handler)``. Start the simulation after the
    readers to avoid resends of frames written before a reader opened its port.

    Args:
        controllers: the controllers.
        frames: minute frames each controller sends.
        interval: real seconds between minute frames.
        settings: upload timeouts and retries.
        start: start the threads before returning.

    Returns:
        The simulation; call :meth:`Simulation.stop` to close the terminals.

    Raises:
        OSError: no pseudo-terminal is available.
        SimulatorConfigError: see :class:`Simulation`.
    """
    links: list[PtyLink] = []
    try:
        for _ in controllers:
            links.append(PtyLink())
        simulation = Simulation(controllers, links, frames=frames, interval=interval, settings=settings)
    except BaseException:
        for link in links:
            link.close()
        raise
    if start:
        simulation.start()
    return simulation


def run_over_tcp(
    controllers: Sequence[VirtualController],
    host: str,
    port: int,
    *,
    frames: int,
    interval: float = 0.0,
    settings: LinkSettings | None = None,
    connect_timeout: float = 2.0,
    start: bool = True,
) -> Simulation:
    """Connect each controller to a platform port and (unless ``start=False``) start pushing.

    A refused or dropped connection (gateway restarted) is retried with a backoff and the
    unanswered frame resent.

    Args:
        controllers: the controllers.
        host: platform host.
        port: platform port.
        frames: minute frames each controller sends.
        interval: real seconds between minute frames.
        settings: upload timeouts and retries.
        connect_timeout: seconds each connection attempt may take.
        start: start the threads before returning.

    Returns:
        The simulation.

    Raises:
        SimulatorConfigError: see :class:`Simulation`.
    """
    links = [TcpLink(host, port, connect_timeout=connect_timeout) for _ in controllers]
    simulation = Simulation(controllers, links, frames=frames, interval=interval, settings=settings)
    if start:
        simulation.start()
    return simulation
