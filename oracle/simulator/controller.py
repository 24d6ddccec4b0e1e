"""The virtual controller: realistic HJ 212-2017 minute data of one monitoring point, with faults.

See :mod:`oracle.simulator` for what it sends. Everything is deterministic for a seed (one
:class:`random.Random`), and time is simulated: DataTime and QN come from the controller's
clock, never from the wall clock.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Final

from oracle.errors import SimulatorConfigError
from oracle.hj212 import (
    CN_CARD_SWIPE,
    CN_MINUTE_DATA,
    FLAG_ACK,
    POLLUTANTS,
    VERSION_2017,
    CrcVariant,
    DataFlag,
    encode,
)
from oracle.qc import PLAUSIBLE_RANGES
from oracle.simulator.field import FieldScript, upload_time
from oracle.simulator.profiles import (
    KG_DECIMALS,
    MAX_MN_LEN,
    PROFILES,
    FactorModel,
    SiteKind,
    card_id,
    daily_load,
    device_mn,
    device_password,
)

__all__ = [
    "FRAME_FLAG",
    "VirtualController",
    "fleet",
]

logger = logging.getLogger(__name__)

#: Flag of every uploaded frame: HJ 212-2017 version bits, answer required (``Flag=5``).
FRAME_FLAG: Final = (VERSION_2017 << 2) | FLAG_ACK

_MINUTE: Final = timedelta(minutes=1)


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
        history_limit: minute frames kept for history requests (oldest dropped first).
        crc: the checksum variant it computes, ``"hj212"`` (Appendix A) or ``"modbus"``.

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
        history_limit: int = 10_080,
        crc: CrcVariant = "hj212",
    ) -> None:
        if history_limit < 0:
            raise SimulatorConfigError("history limit must not be negative")
        if not mn or len(mn) > MAX_MN_LEN or not mn.isalnum() or not mn.isascii():
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
        self.crc: CrcVariant = crc
        #: the outlet valve: while closed the site discharges nothing (flow and loads are 0)
        self.valve_open = True
        self.valve_commands: list[str] = []
        self._password = password
        self._rng = random.Random(seed)
        self._clock = start.replace(second=0, microsecond=0)
        self._last_datatime: datetime | None = None
        self._last_qn_time: datetime | None = None
        self._swiped_month: tuple[int, int] | None = None
        self._outbox: deque[str] = deque()
        self._history: deque[tuple[datetime, str]] = deque(maxlen=history_limit)
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
        #: working-condition events to play (facility, instrument, parameters, an over-standard hour)
        self.field: FieldScript | None = None
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

    def command_valve(self, open_: bool) -> None:
        """Obey a reverse-control command (CN=3098): open or close the outlet valve."""
        self.valve_open = open_
        self.valve_commands.append("open" if open_ else "close")
        logger.info("valve %s", "opened" if open_ else "closed", extra={"device": self.mn})

    def accepts(self, password: str) -> bool:
        """Whether ``password`` is this controller's access password (a platform's request)."""
        return password == self._password

    def history(self, cn: str, begin: datetime, end: datetime) -> list[str]:
        """The stored frames of command ``cn`` dated within ``begin`` .. ``end`` (inclusive),
        oldest first, as first sent (their QN is the original one). Only minute data is kept.
        """
        if cn != CN_MINUTE_DATA:
            return []
        return [wire for when, wire in self._history if begin <= when <= end]

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
        if self.field is not None:
            self._outbox.extend(self._field_uploads(when))
        wire = self._minute_frame(when, events)
        self._history.append((when, wire))
        self._outbox.append(wire)
        self._last_datatime = when
        self._clock = when + _MINUTE

    def _qn(self, at: datetime) -> str:
        # QN is the send time; strictly increasing, so unique per device.
        if self._last_qn_time is not None and at <= self._last_qn_time:
            at = self._last_qn_time + timedelta(milliseconds=1)
        self._last_qn_time = at
        return f"{at:%Y%m%d%H%M%S}{at.microsecond // 1000:03d}"

    def _field_uploads(self, when: datetime) -> list[str]:
        assert self.field is not None
        return [
            encode(
                qn=self._qn(upload_time(when, seconds) + timedelta(milliseconds=200)),
                st=self.st,
                cn=cn,
                pw=self._password,
                mn=self.mn,
                flag=FRAME_FLAG,
                datatime=upload_time(when, seconds),
                values=values,
                extras=extras or None,
                crc=self.crc,
            )
            for cn, seconds, values, extras in self.field.uploads(when)
        ]

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
            crc=self.crc,
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
            if code == profile.flow.code and not self.valve_open:
                avg = low = high = Decimal(0) * avg  # the valve is closed: nothing flows out
            items: dict[str, str] = {}
            if code == profile.flow.code:
                volume = (avg * 60 * profile.m3_per_flow_second).quantize(_quantum(profile.volume_decimals))
                items["Cou"] = format(volume, "f")
                self._totals[code] += volume
            elif code in self._kg_codes:
                kg = (avg * volume / profile.kg_per_unit).quantize(_quantum(KG_DECIMALS), ROUND_HALF_EVEN)
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
            crc=self.crc,
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
        if self.field is not None:
            value *= self.field.factor(self._clock, code)
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
